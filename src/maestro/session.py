"""Wiring for one process: settings -> HTTP client -> tokens -> Spotify -> matcher -> actions.

``maestro say``, ``devices``, ``pair`` and the daemon all start from a
:class:`Session`, so there is exactly one ``httpx.AsyncClient`` per process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from maestro import config
from maestro.actions import Actions
from maestro.auth.device_flow import (
    DeviceAuthorization,
    DeviceFlow,
    DeviceFlowNotAllowedError,
    Endpoints,
    discover,
)
from maestro.auth.pairing import PairingPresenter
from maestro.auth.tokens import TokenStore
from maestro.display.devices import Display
from maestro.errors import AuthError, MaestroError, SignInExpiredError, UsageError
from maestro.fsutil import private_dir
from maestro.intents import Matcher, Recognition
from maestro.intents.learned import Learner
from maestro.intents.matcher import LEARN_AFTER_S
from maestro.intents.personal import PersonalPhrasings, Phrasing
from maestro.intents.spec import IntentSpec, active_intents_path
from maestro.messages import Reply, Screen
from maestro.spotify.aliases import ALIASES_FILE, AliasError, read_aliases
from maestro.spotify.client import SpotifyClient, deadline
from maestro.spotify.library import SpotifyLibrary
from maestro.spotify.memory import PlayerMemory
from maestro.spotify.player import Player
from maestro.voice.tts import Speaker

log = logging.getLogger(__name__)
ACCOUNT_NAME_TIMEOUT_S = 6.0
#: The daemon pairs by itself when not signed in: a command then points at the code on the screen.
DAEMON_NOT_PAIRED = "I'm not connected to Spotify yet. Open the address on my screen and enter the code."
#: A one-shot command waits this long, at most, for the library's names (all its requests).
LIBRARY_DEADLINE_S = 4.0


def checked_bridge_url(url: str) -> str:
    """A bridge's address as given: http(s), with a host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"{url!r} is not a bridge address: write it with http:// or https://, like "
                         "https://bridge.example.com or http://192.168.1.20:8766.")  # fmt: skip
    return url


def bridge_client(mine: str, bridges: str, bridge_url: str) -> str:
    """The client id to pair with through a bridge: the bridge's, which this box must share."""
    if not bridges:
        if not mine:
            raise UsageError(f"Set spotify.client_id to the client id the bridge at {bridge_url} serves.")
        return mine
    if mine and mine != bridges:
        raise UsageError(
            f"The bridge at {bridge_url} serves the client id {bridges}, but spotify.client_id is {mine}: "
            f"set it to {bridges}, or leave it empty to use the bridge's."
        )
    return bridges


def missing_client_id(settings: config.Settings) -> str:
    """One clear path to a sign-in, naming the real config file and the bridge."""
    where = settings.source or config.config_path()
    return (
        f"Maestro needs your Spotify app's client id to sign in: set client_id under [spotify] in "
        f"{where} (or MAESTRO_SPOTIFY_CLIENT_ID), then run maestro pair. Spotify lets only allowlisted "
        "apps use the device sign-in; for your own app, run a Maestro bridge with it and pair through "
        "that: maestro pair --bridge URL (or set bridge_url under [auth])."
    )


@dataclass
class Session:
    settings: config.Settings
    state_dir: Path
    http: httpx.AsyncClient
    tokens: TokenStore
    client: SpotifyClient
    player: Player
    library: SpotifyLibrary
    spec: IntentSpec
    matcher: Matcher
    actions: Actions
    #: The user's own phrasings over intents.yaml (``spec`` includes them).
    personal: PersonalPhrasings

    @classmethod
    def open(
        cls,
        settings: config.Settings | None = None,
        *,
        state_dir: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        intents: Path | None = None,
        lasting: bool = False,
    ) -> Session:
        """``lasting``: the daemon, which lives on (a sign-in it could not write waits in memory) and
        pairs by itself (a command while it is not signed in points at the code on its screen)."""
        settings = settings or config.load()
        state_dir = private_dir(state_dir or config.state_dir())
        http = httpx.AsyncClient(transport=transport, follow_redirects=False)
        tokens = TokenStore(state_dir / "tokens.json", http, lasting=lasting)
        client = SpotifyClient(settings.spotify.api_url, tokens, http)
        player = Player(
            client,
            preferred_device=settings.player.default_device,
            memory=PlayerMemory.load(state_dir / "player.json"),
        )
        personal = PersonalPhrasings(Path(intents) if intents else active_intents_path(), state_dir)
        spec = personal.spec
        library = SpotifyLibrary(player, state_dir / "library.json")
        try:
            library.set_aliases(read_aliases(aliases_path(settings)))
        except AliasError as exc:  # the speakers' own names still work
            log.warning("speaker aliases not used: %s", exc)
        # The daemon trains the learned parser ahead, in the background; a one-shot command only
        # when the templates cannot answer it (then it is cached for the next).
        learner = Learner(spec, state_dir / "learned", background=lasting)
        matcher = Matcher(spec, library, learner)
        library.on_change = lambda: matcher.set_library(library)
        if lasting:
            learner.train_ahead(library, delay_s=LEARN_AFTER_S)
        actions = Actions(
            player, spec, matcher, max_volume=settings.player.max_volume,
            not_paired_speech=DAEMON_NOT_PAIRED if lasting else "",
        )  # fmt: skip
        parts = (http, tokens, client, player, library, spec, matcher, actions, personal)
        return cls(settings, state_dir, *parts)

    async def aclose(self) -> None:
        # A refresh under way is saved before a one-shot command's process goes (the daemon's stop
        # already gave it what its two seconds allow).
        await self.tokens.settle(0 if self.tokens.lasting else None)
        await self.http.aclose()
        if self.matcher.learner is not None:
            self.matcher.learner.stop()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def ensure_library(self) -> None:
        """Fetch the library names when there are none yet or they are stale (short-lived commands),
        within ``LIBRARY_DEADLINE_S`` in all: a hanging Spotify costs a command seconds, not half a
        minute."""
        if self.library.stale and self.tokens.tokens is not None:
            try:
                with deadline(LIBRARY_DEADLINE_S):
                    async with asyncio.timeout(LIBRARY_DEADLINE_S + 0.5):
                        await self.library.refresh()
            except (MaestroError, TimeoutError) as exc:  # names are a nicety; the command runs without
                log.warning("library refresh failed: %s", exc or "no answer in time")

    async def pair(
        self,
        speaker: Speaker,
        display: Display,
        *,
        bridge_url: str = "",
        print_line: Callable[[str], None] = print,
        repeat_s: float = 30.0,
        on_code: Callable[[DeviceAuthorization | None], None] | None = None,
    ) -> str:
        """Sign in with the device flow; returns the account's display name. ``on_code``: told of
        each code, and of the end (None)."""
        bridge_url = bridge_url or self.settings.auth.bridge_url
        client_id = self.settings.spotify.client_id
        if bridge_url:
            endpoints = await discover(self.http, checked_bridge_url(bridge_url))
            client_id = bridge_client(client_id, endpoints.client_id, bridge_url)
        elif not client_id:
            raise UsageError(missing_client_id(self.settings))
        else:
            endpoints = Endpoints(self.settings.device_authorization_url, self.settings.token_url)
        flow = DeviceFlow(self.http, endpoints, client_id)
        presenter = PairingPresenter(
            speaker, display, repeat_s=repeat_s, print_line=print_line, on_code=on_code
        )
        try:
            self.tokens.check_writable()  # before the user approves anything that could not be kept
            try:
                self.tokens.save(await flow.run(presenter))
            except DeviceFlowNotAllowedError as exc:
                if bridge_url:  # the bridge refused the client id: not Spotify's allowlist at all
                    raise UsageError(
                        f"The bridge at {bridge_url} does not serve the client id {client_id}; set "
                        "spotify.client_id to the bridge's (or leave it empty)."
                    ) from exc
                raise
        except AuthError as exc:  # declined, not allowlisted, unreachable: say so where people listen
            await display.show(Screen("error", "Not connected", (str(exc),)))
            await speaker.say(str(exc))
            raise
        try:
            profile = await self.player.me()
        except MaestroError as exc:  # the sign-in is saved and good; only its name is missing
            log.warning("paired, but the account's name could not be fetched: %s", exc)
            profile = {}
        name = str(profile.get("display_name") or profile.get("id") or "your account")
        await display.show(Screen("message", "Connected", (name,)))
        await speaker.say(f"Connected to Spotify as {name}.")
        return name

    async def signed_in(self) -> bool:
        """Tokens that still work, as far as can be told: a sign-in Spotify ended is none (its tokens
        are gone with the answer); Spotify not answering leaves the question open (True)."""
        if self.tokens.tokens is None:
            return False
        try:
            with deadline():
                await self.player.me()
        except SignInExpiredError:
            return False
        except MaestroError:
            pass
        return self.tokens.tokens is not None

    async def account_name(self, timeout_s: float = ACCOUNT_NAME_TIMEOUT_S) -> str | None:
        """The signed-in account's name, or None (not signed in, or Spotify not answering within
        ``timeout_s``)."""
        if self.tokens.tokens is None:
            return None
        try:
            profile = await asyncio.wait_for(self.player.me(), timeout_s)
        except (MaestroError, TimeoutError):
            return None
        return str(profile.get("display_name") or profile.get("id") or "") or None

    def sign_out(self) -> None:
        """Forgets the Spotify sign-in and what Maestro learnt from the account, as `maestro logout`
        does, in the running box too: the daemon's Spotify loop then pairs again."""
        self.tokens.clear()
        forget_account(self.state_dir)
        self.library.forget()
        self.player.memory.forget()

    async def learn(self, heard: str, meant: str | Recognition) -> tuple[Phrasing, Recognition]:
        """Learns ``heard`` as the user's way of saying ``meant`` (words Maestro understands, or what
        they were taken to mean); returns the phrasing and what ``heard`` means now."""
        if self.library.stale:  # "play abbey road" names an album only once the names are known
            await self.ensure_library()
        meaning = self.matcher.match(meant) if isinstance(meant, str) else meant
        phrasing = self.personal.learn(heard, meaning)
        self.matcher.refresh()
        return phrasing, self.matcher.match(heard)

    def forget_phrasing(self, index: int) -> Phrasing:
        phrasing = self.personal.forget(index)
        self.matcher.refresh()
        return phrasing

    async def handle(self, text: str) -> tuple[Recognition, Reply]:
        """One command as typed (`maestro say`). The library's names are fetched first only when the
        command may need them: "pause" never waits for the library."""
        recognition = self.matcher.match(text)
        if self.library.stale and needs_names(recognition, self.spec):
            await self.ensure_library()
            recognition = self.matcher.match(text)
        return recognition, await self.actions.run(recognition)


def forget_account(state_dir: Path) -> None:
    """What Maestro learnt from the account: library names (also inside the voice model), the
    player memory (last speaker, volume before mute), the last unknown card."""
    names = ["library.json", "player.json", "last-unknown-card.json", "status.json"]
    for path in [*(state_dir / name for name in names), *(state_dir / "speech").glob("commands-*")]:
        path.unlink(missing_ok=True)


#: Slot types whose reading depends on the user's names ("play abbey road": an album, or a search).
NAMED_SLOTS = frozenset({"library", "device", "text"})


def user_file(settings: config.Settings, name: str) -> Path:
    """One of the user's files (``speakers.yaml``, ``tags.yaml``), beside the config file in use."""
    return (settings.source.parent if settings.source else config.config_dir()) / name


def aliases_path(settings: config.Settings) -> Path:
    """``speakers.yaml``, beside the config file in use."""
    return user_file(settings, ALIASES_FILE)


def needs_names(recognition: Recognition, spec: IntentSpec) -> bool:
    """Whether the user's names could change what ``recognition`` is: nothing understood, a name
    that was not found, a slot that names something, or a reading the learned parser made where
    no template fitted (with the speakers known, "in the garage, next song" names one not there)."""
    if recognition.intent is None or recognition.problems or recognition.parser == "learned":
        return True
    return any(spec.slots[name].type in NAMED_SLOTS for name in recognition.slots if name in spec.slots)
