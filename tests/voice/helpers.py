"""Helpers the voice tests share."""

from __future__ import annotations

from maestro.intents import StaticLibrary
from maestro.intents.library import LibraryItem
from maestro.voice.audio import chunks
from maestro.voice.events import Event
from maestro.voice.listener import Listener
from maestro.voice.synth import espeak_pcm, mix, rms, silence

LIBRARY = StaticLibrary(
    [
        LibraryItem("album", "Abbey Road", "spotify:album:abbey", "The Beatles"),
        LibraryItem("artist", "The Beatles", "spotify:artist:beatles"),
        LibraryItem("artist", "Miles Davis", "spotify:artist:miles"),
        LibraryItem("playlist", "Morning Coffee", "spotify:playlist:coffee"),
        LibraryItem("device", "Kitchen", "kitchen-id"),
        LibraryItem("device", "TV", "tv-id"),
    ]
)


def spoken(*parts: str, voice: str = "en-us", gap: float = 0.3) -> bytes:
    """Phrases with pauses between them, in a room with some noise (synthetic speech has exact zeros)."""
    pcm = silence(0.6)
    for part in parts:
        pcm += espeak_pcm(part, voice, 150) + silence(gap)
    pcm += silence(1.0)
    return mix(pcm, None, 20, rms(pcm))


def hear(listener: Listener, pcm: bytes) -> list[Event]:
    return [event for chunk in chunks(pcm) for event in listener.feed(chunk)] + listener.flush()


class ScoresByText:
    """Each reading's log-probability as given (others far behind); the free transcript at 0."""

    def __init__(self, scores: dict[str, float]) -> None:
        self.scores = scores

    def score(self, pcm: bytes, readings: list[str]) -> list[float]:
        return [self.scores.get(text, -100.0) for text in readings[:-1]] + [0.0]

    def tokens(self, text: str) -> int:
        return len(text.split())
