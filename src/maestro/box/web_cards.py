"""The Cards page's side of the running box (:class:`CardDesk`): the cards by what they play, the
card tapped lately that does nothing yet, and what a card could play, searched by name in the
library and on Spotify; a card given a name, a link or a command."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from maestro.errors import MaestroError
from maestro.fsutil import BadFileError, atomic_write_text, read_json
from maestro.intents import Matcher
from maestro.intents.library import KINDS
from maestro.intents.meaning import near_items
from maestro.intents.recognition import NameValue
from maestro.nfc.cards import Cards
from maestro.nfc.learn import check_action, recent_unknown
from maestro.nfc.tags import TagAction, TagStore
from maestro.session import Session, user_file
from maestro.spotify.client import deadline
from maestro.web.facing import Card, Found

log = logging.getLogger(__name__)

#: What a card can play, searched by name.
CARD_KINDS = ("album", "playlist", "artist", "track")
#: How many of the library's and of Spotify's (each kind) best matches a search offers.
FIND_IN_LIBRARY, FIND_ON_SPOTIFY = 6, 3
#: How like (rapidfuzz WRatio, 0-100) a library name must be to the words searched for.
FIND_CUTOFF = 70
#: Names of what cards play from outside the library, in the state directory.
CARD_NAMES = "card-names.json"
#: Intents that play one named thing: a card for them keeps the thing's URI.
PLAYS_A_NAME = frozenset({"PlayAlbum", "PlayArtist", "PlayPlaylist", "PlayTrack"})


class CardDesk:
    def __init__(self, session: Session, cards: Cards | None) -> None:
        self.session = session
        #: The daemon's own card list when it has a reader (a change is in effect at the next tap).
        self.tags = cards.store if cards is not None else TagStore(user_file(session.settings, "tags.yaml"),
                                                                   in_use=True)  # fmt: skip
        self._found: dict[str, Found] = {}  # the last search's results, by URI

    def cards(self) -> list[Card]:
        library = self.session.library
        names = self._card_names()
        names.update(
            {item.uri: f"{item.name} ({item.kind})" for kind in KINDS for item in library.items(kind)}
        )
        self.tags.reload()  # hand edits too
        return [Card(uid, value, names.get(value, value if value.startswith("spotify:") else f"“{value}”"))
                for uid, value in sorted(self.tags.mapping.items())]  # fmt: skip

    def unknown_card(self) -> str | None:
        uid = recent_unknown(self.session.state_dir)
        return uid if uid is not None and uid not in self.tags.mapping else None

    async def assign(self, uid: str, what: str) -> Card:
        """``what``: a Spotify link, a command ("volume 30"), or a name in the library ("abbey
        road", played from its URI); TagError says why it can't be."""
        if self.session.library.stale:
            await self.session.ensure_library()
        action = card_action(what, self.session.matcher)
        stored = self.tags.add(uid, action)
        found = self._found.get(action.uri or "")
        if found is not None and found.source == "spotify":  # not in the library: its name kept aside
            self._name_card(found)
        return next(card for card in self.cards() if card.uid == stored)

    async def find(self, query: str) -> tuple[list[Found], str | None]:
        """The library's best matches for ``query``, then Spotify's; and why Spotify could not be
        asked (None: it was)."""
        session = self.session
        if session.library.stale:
            await session.ensure_library()
        items = [item for kind in CARD_KINDS for item in session.library.items(kind)]
        found = [Found(item.name, item.kind, item.uri, item.artist)
                 for item in near_items(items, query, limit=FIND_IN_LIBRARY, cutoff=FIND_CUTOFF)]  # fmt: skip
        problem = None
        try:
            with deadline():
                results = await session.player.search(query, CARD_KINDS, limit=FIND_ON_SPOTIFY)
        except MaestroError as exc:  # offline, Spotify trouble: the library's matches still help
            problem = f"Spotify could not be searched: {exc}"
        else:
            seen = {f.uri for f in found}
            found += [Found(item.name, item.kind, item.uri, item.artist, "spotify")
                      for kind in CARD_KINDS for item in results[kind] if item.uri not in seen]  # fmt: skip
        self._found = {f.uri: f for f in found}  # what the page offers now, by the URI it posts back
        return found, problem

    @property
    def _card_names_path(self) -> Path:
        return self.session.state_dir / CARD_NAMES

    def _card_names(self) -> dict[str, str]:
        """Names of what cards play from outside the library (found on Spotify): URI -> name."""
        try:
            data = read_json(self._card_names_path)
        except (OSError, ValueError, BadFileError):  # none yet, or damaged: the URI is shown instead
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _name_card(self, found: Found) -> None:
        names = {**self._card_names(), found.uri: f"{found.name} ({found.kind})"}
        try:
            atomic_write_text(self._card_names_path, json.dumps(names, indent=1) + "\n", private=True)
        except OSError as exc:  # a full disk: the card works, its page shows the URI
            log.warning("could not keep the name of a card's music: %s", exc)


def card_action(what: str, matcher: Matcher) -> TagAction:
    """What a card should do, from words typed on the page: a name in the library plays that item
    (stored as its URI, so a renamed playlist still plays), else a link or a command."""
    what = what.strip()
    recognition = matcher.match(what)
    if recognition.intent is None and not what.lower().startswith(("spotify:", "http", "open.spotify")):
        recognition = matcher.match(f"play {what}")
    named = [
        v for v in recognition.slots.values() if isinstance(v, NameValue) and v.kind != "device" and v.uri
    ]
    if recognition.intent in PLAYS_A_NAME and len(named) == 1:
        return TagAction(uri=named[0].uri)
    return check_action(what, matcher)
