"""The words handed to Spotify's search: the name the user said, without the words around it.

"play *something by* adele", "queue *the song* yesterday", "put on *some* jazz": whichever parser
read the sentence, the words before the name say what kind of thing it is, not what it is called.
A description ("the newest songs by adele") is kept as it was said.
"""

from __future__ import annotations

#: Words before a name that only say what kind of thing follows, longest first.
_LEAD_INS = tuple(
    sorted(
        (
            tuple(phrase.split())
            for phrase in (
                "a song called", "a song named", "a track called", "a tune called", "the song called",
                "the track called", "something called", "an album called", "the album called",
                "a playlist called", "the playlist called", "a podcast called", "the podcast called",
                "the song", "the track", "the tune", "the artist", "the band", "the singer", "the group",
                "song", "track", "tune", "artist", "band", "singer",
                "something by", "anything by", "stuff by", "music by", "songs by", "tracks by",
                "some music by", "some songs by", "a song by", "a bit of", "a little", "some",
            )
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip
#: Words that describe music rather than name it: after "something", what is left is a mood.
_MOODS = frozenset({
    "upbeat", "relaxing", "calm", "chill", "happy", "sad", "mellow", "energetic", "fun", "quiet",
    "soft", "loud", "fast", "slow", "romantic", "jazzy", "funky", "groovy", "dancy", "danceable",
    "new", "old", "different", "nice", "good", "cheerful", "peaceful", "soothing", "classic",
})  # fmt: skip


def search_words(text: str) -> str:
    """``text`` without the lead-in words before the name; ``text`` itself when nothing would
    be left."""
    words = text.split()
    for lead in _LEAD_INS:
        if len(words) > len(lead) and tuple(words[: len(lead)]) == lead:
            return " ".join(words[len(lead) :])
    if words[:1] in (["something"], ["anything"]) and len(words) > 1 and all(w in _MOODS for w in words[1:]):
        return " ".join(words[1:])  # "something upbeat" is a mood: the search is "upbeat"
    return text
