"""The commented ``config.toml`` that ``maestro config init`` writes."""

from __future__ import annotations

import json
from dataclasses import dataclass

SANDBOX_URL = "http://127.0.0.1:8765"


@dataclass(frozen=True)
class ConfigAnswers:
    sandbox: bool = False
    client_id: str = ""
    bridge_url: str = ""
    speaker: str = ""
    display: str = ""
    reader: str = ""


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string is a JSON string


def _spotify_section(answers: ConfigAnswers) -> str:
    if answers.sandbox:
        return f"""[spotify]
# The built-in sandbox stands in for Spotify (start it: maestro sandbox serve).
client_id = "maestro-sandbox"
api_url = {_q(SANDBOX_URL + "/v1")}
accounts_url = {_q(SANDBOX_URL)}
"""
    client = (
        f"client_id = {_q(answers.client_id)}"
        if answers.client_id
        else '# client_id = ""  # your Spotify app\'s client id'
        + (" (empty: the bridge's)" if answers.bridge_url else "")
    )
    return f"""[spotify]
# Your Spotify app (developer.spotify.com/dashboard). Through a bridge, the same id as the bridge's
# (left empty, Maestro takes the bridge's).
{client}
"""


def _auth_section(answers: ConfigAnswers) -> str:
    if not answers.bridge_url:
        return ""
    return f"""
[auth]
# Sign in through a Maestro bridge (Spotify lets only allowlisted apps use its own device flow).
bridge_url = {_q(answers.bridge_url)}
"""


def render(answers: ConfigAnswers) -> str:
    """The file: every section a user of a box meets, each key with what it does; set what was
    answered, the rest commented out at its default."""
    spotify, auth = _spotify_section(answers), _auth_section(answers)
    speaker = f"default_device = {_q(answers.speaker)}" if answers.speaker else '# default_device = ""'
    display = answers.display or "none"
    reader = answers.reader or "none"
    return f"""# Maestro's settings. Every key can also be set as MAESTRO_<SECTION>_<KEY>
# (MAESTRO_PLAYER_MAX_VOLUME=60).
# Relative paths are relative to this file's directory. maestro doctor checks all of it.

{spotify}{auth}
[player]
# The Connect speaker to wake when none is playing (a name as Spotify shows it).
{speaker}
# max_volume = 100    # no command goes above this (a children's room: 60)
# poll_s = 5          # how often the daemon looks at what is playing

[voice]
# engine = "auto"     # auto | pocketsphinx | vosk | whisper
# input_device = ""   # a microphone's index or part of its name (empty: the default one)
# duck_volume = 30    # the music plays at this percent while Maestro listens (0: never lower it)
# enabled = true

[tts]
# engine = "auto"     # auto (Piper where installed, else pyttsx3) | piper | pyttsx3 | wav | none
# rate = 160          # words per minute
# wav_dir = "speech"  # with engine = "wav": the replies as files here

[display]
driver = {_q(display)}  # ssd1306 | sh1106 | terminal | png | none
# i2c_port = 1
# i2c_address = 0x3C
# height = 64         # 64 or 32
# png_dir = "frames"  # with driver = "png"

[nfc]
# nfcpy:usb | nfcpy:tty:S0:pn532 | evdev:/dev/input/eventN | scripted:FILE | none
reader = {_q(reader)}
# second_tap = "toggle" # the same card again within second_tap_window_s: toggle | restart | ignore
"""
