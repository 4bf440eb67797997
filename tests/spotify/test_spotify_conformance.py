"""Spotify as published: every request Maestro's client sends and every sandbox answer to it,
checked against Spotify's Web API description (OpenAPI 3.0.3, ../shared/spotify/).

The exchanges are real: Maestro's own Player and library reader drive the live sandbox through a
recording transport, and openapi-core validates each request (method, path, query, body) and
response (status, headers, body schema) against the document. Where Spotify's behaviour for
development-mode apps differs from the document (../shared/facts.md: the February 2026 changes),
Maestro follows the behaviour; each such deviation is named in ``DEVIATIONS`` and in
docs/architecture.md.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from maestro import config
from maestro.auth.device_flow import SCOPES
from maestro.errors import PremiumRequiredError
from maestro.sandbox.webapi import required_scopes
from maestro.session import Session
from tests.live import LiveSandbox
from tests.paths import SHARED

openapi_core = pytest.importorskip("openapi_core", reason="openapi-core is in the dev extra: ./dev setup")
from openapi_core import OpenAPI  # noqa: E402
from openapi_core.datatypes import RequestParameters  # noqa: E402
from werkzeug.datastructures import Headers, ImmutableMultiDict  # noqa: E402

SPEC_PATH = SHARED / "spotify" / "spotify-web-api.openapi.yml"
pytestmark = [
    pytest.mark.skipif(
        not SPEC_PATH.exists(),
        reason=f"Spotify's OpenAPI description is not beside the project ({SPEC_PATH}); read, never copied",
    ),
    # openapi-core does not check OAuth 2 requirements (it warns); the scope test below does
    pytest.mark.filterwarnings("ignore:Unsupported scheme type:UserWarning"),
]
SPOTIFY = "https://api.spotify.com"
LIVING_ROOM = "c7b60f3edf3318e80575d5e28c1ce24aa99a9025"
ABBEY_ROAD = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"

#: Where Maestro follows Spotify's behaviour rather than the document (docs/architecture.md).
PLAYER_404 = (
    "Player calls answer 404 NO_ACTIVE_DEVICE when no device is active (Spotify's player guide); "
    "the document lists 401, 403 and 429 only. Maestro wakes the preferred device and retries."
)
LIBRARY_SCOPES = (
    "February 2026, development mode: saving goes through PUT/DELETE /me/library with URIs. The "
    "document gives it the scopes of every kind of item; a track needs only user-library-modify."
)
PUBLIC_PROFILE = (
    "GET /me lists user-read-private and user-read-email, which only add country, product and "
    "e-mail; the name and id Maestro shows come with any token."
)
#: The scopes an operation needs for what Maestro does with it, where the document says more.
NEEDS = {
    ("PUT", "/v1/me/library"): {"user-library-modify"},
    ("DELETE", "/v1/me/library"): {"user-library-modify"},
    ("GET", "/v1/me"): set(),
}


# -- the document --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def spec(document: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(repaired(document))


def repaired(document: dict[str, Any]) -> dict[str, Any]:
    """The document with its own slips mended and Spotify's known behaviour added, in memory (the
    file is never changed or copied):

    - ``discriminator: {propertyName: type}`` without a ``mapping`` makes a validator look for a
      schema named after the value ("track"); the mapping meant is the ``oneOf`` beside it;
    - a cursor page's ``next`` and ``cursors.after`` are described as "``null`` if none" but typed
      as non-nullable strings; Spotify sends ``null`` on the last page;
    - PLAYER_404: the player's 404, with the document's own NotFound body.
    """
    document = copy.deepcopy(document)

    def mend(node: Any) -> None:
        if isinstance(node, dict):
            found = node.get("discriminator")
            if isinstance(found, dict) and "mapping" not in found and "oneOf" in node:
                refs = [entry["$ref"] for entry in node["oneOf"] if "$ref" in entry]
                found["mapping"] = {ref.rsplit("/", 1)[-1].removesuffix("Object").lower(): ref
                                    for ref in refs}  # fmt: skip
            for value in node.values():
                mend(value)
        elif isinstance(node, list):
            for value in node:
                mend(value)

    mend(document)
    schemas = document["components"]["schemas"]
    schemas["CursorPagingObject"]["properties"]["next"]["nullable"] = True
    schemas["CursorObject"]["properties"]["after"]["nullable"] = True
    for path, methods in document["paths"].items():
        if path.startswith("/me/player"):
            for op in methods.values():
                if isinstance(op, dict) and "responses" in op:
                    op["responses"].setdefault("404", {"$ref": "#/components/responses/NotFound"})
    return document


def operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The documented operation for a concrete /v1 path (templated segments matched)."""
    wanted = path.removeprefix("/v1").strip("/").split("/")
    for template, methods in document["paths"].items():
        parts = template.strip("/").split("/")
        same = len(parts) == len(wanted) and all(
            p == w or (p.startswith("{") and p.endswith("}")) for p, w in zip(parts, wanted, strict=True)
        )
        if same and method.lower() in methods:
            return methods[method.lower()]
    raise AssertionError(f"{method} {path} is not an operation of Spotify's Web API")


def documented_scopes(document: dict[str, Any], method: str, path: str) -> set[str]:
    op = operation(document, method, path)
    return {scope for need in op.get("security", []) for scope in need.get("oauth_2_0", [])}


# -- recording what Maestro sends ----------------------------------------------------------------


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response

    @property
    def call(self) -> tuple[str, str]:
        return self.request.method, self.request.url.path

    def __str__(self) -> str:
        return f"{self.request.method} {self.request.url.path} -> {self.response.status_code}"


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """A real transport that keeps every exchange with the Web API (not the accounts service).
    ``rewrite`` may change each JSON answer on its way to Maestro."""

    rewrite: Callable[[Any], Any] | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    inner: httpx.AsyncHTTPTransport = field(default_factory=httpx.AsyncHTTPTransport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = await self.inner.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        headers = dict(response.headers)
        if self.rewrite and body and request.url.path.startswith("/v1/"):
            body = json.dumps(self.rewrite(json.loads(body))).encode()
            headers["content-length"] = str(len(body))
        answer = httpx.Response(response.status_code, headers=headers, content=body, request=request)
        if request.url.path.startswith("/v1/"):
            self.exchanges.append(Exchange(request, answer))
        return answer

    async def aclose(self) -> None:
        await self.inner.aclose()

    def take(self) -> list[Exchange]:
        taken, self.exchanges = self.exchanges, []
        return taken


@dataclass
class AsSpotify:
    """A request as openapi-core sees it, addressed to api.spotify.com (the document's server)."""

    exchange: Exchange
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        # one object: openapi-core fills in the path parameters it finds
        query = parse_qs(self.exchange.request.url.query.decode(), keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query), header=Headers(dict(self.exchange.request.headers))
        )

    @property
    def host_url(self) -> str:
        return SPOTIFY

    @property
    def path(self) -> str:
        return self.exchange.request.url.path

    @property
    def method(self) -> str:
        return self.exchange.request.method.lower()

    @property
    def content_type(self) -> str:
        return self.exchange.request.headers.get("content-type", "")

    @property
    def body(self) -> bytes | None:
        return self.exchange.request.content or None


@dataclass
class AnswerAsSpotify:
    response: httpx.Response

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        # a 204 has no body and so no media type to check
        return self.response.headers.get("content-type", "").split(";")[0] if self.response.content else ""

    @property
    def headers(self) -> Headers:
        return Headers(dict(self.response.headers))

    @property
    def data(self) -> bytes:
        return self.response.content


def check(spec: OpenAPI, exchanges: list[Exchange]) -> None:
    """Every request and answer as the document describes them (all problems, not the first)."""
    problems: dict[str, None] = {}  # ordered, one line per kind of problem
    for exchange in exchanges:
        request = AsSpotify(exchange)
        for side in ("request", "response"):
            try:
                if side == "request":
                    spec.validate_request(request)
                else:
                    spec.validate_response(request, AnswerAsSpotify(exchange.response))
            except Exception as exc:  # openapi-core raises a family; the causes name the fields
                for problem in describe(exc):
                    problems[f"{side} {exchange}: {problem}"] = None
    assert not problems, "\n".join(problems)


def describe(exc: BaseException | None) -> list[str]:
    """The schema errors under an openapi-core error, list positions folded ("items/*/album")."""
    found: list[str] = []
    while exc is not None:
        for inner in getattr(exc, "schema_errors", None) or []:
            path = "/".join("*" if isinstance(p, int) else str(p) for p in inner.path)
            found.append(f"{path}: {inner.message[:200]}")
        if not found and exc.__cause__ is None:
            found.append(f"{type(exc).__name__}: {str(exc)[:300]}")
        exc = exc.__cause__
    return found


# -- sessions on the live sandbox ----------------------------------------------------------------


async def open_session(live: LiveSandbox, tmp_path: Path, recorder: Recorder, **account: str) -> Session:
    live.pair_into(tmp_path, **account)
    settings = config.load(live.env(tmp_path))
    return await Session.open(settings, state_dir=tmp_path, transport=recorder).__aenter__()


@pytest.fixture
async def recorded(live: LiveSandbox, tmp_path: Path) -> AsyncIterator[tuple[Session, Recorder]]:
    recorder = Recorder()
    session = await open_session(live, tmp_path, recorder)
    yield session, recorder
    await session.aclose()


async def every_player_call(session: Session) -> None:
    """Each method of spotify/player.py and the library reader, as Maestro calls them."""
    player = session.player
    assert await player.state() is None  # nothing playing yet: 204
    assert await player.devices()
    await player.me()
    await player.transfer(LIVING_ROOM, play=False)
    await player.play(context_uri=ABBEY_ROAD, offset={"position": 2}, device_id=LIVING_ROOM)
    state = await player.state()
    assert state is not None and state.is_playing and state.item is not None
    assert await player.queue()
    found = await player.search("come together", ("track", "album", "artist", "playlist"))
    song = found["track"][0].uri
    await player.play(uris=[song], position_ms=0)
    await player.pause()
    await player.play()
    await player.next()
    await player.previous()
    await player.seek(30_000)
    await player.repeat("context")
    await player.shuffle(True)
    await player.volume(40, LIVING_ROOM)
    await player.add_to_queue(song)
    await player.search("podcast", ("show", "episode", "audiobook"), limit=10)
    await player.save_tracks([song])
    await player.remove_tracks([song])
    playlists = await player.playlists()
    assert await player.playlist_tracks(playlists[0].uri)
    await session.library.refresh()  # playlists, albums, tracks, followed and top artists, devices
    assert session.library.items("album") and session.library.items("artist")


async def test_every_request_and_answer_is_as_spotify_documents_them(
    spec: OpenAPI, recorded: tuple[Session, Recorder]
) -> None:
    session, recorder = recorded
    await every_player_call(session)
    exchanges = recorder.take()
    calls = {exchange.call for exchange in exchanges}
    assert len(calls) >= 24, sorted(calls)
    check(spec, exchanges)


@pytest.mark.slow
async def test_error_answers_are_as_documented(spec: OpenAPI, live: LiveSandbox, tmp_path: Path) -> None:
    """401 (expired token, refreshed), 403 (not Premium), 404 (no active device, woken), 429 with
    Retry-After (waited out): each body an ErrorObject, each handled as Spotify means."""
    recorder = Recorder()
    session = await open_session(live, tmp_path / "premium", recorder)
    try:
        session.player.preferred_device = "Living Room"
        await session.player.play(context_uri=ABBEY_ROAD)  # nothing active: 404, woken, played
        live.control("tokens", {"expire": True})
        assert await session.player.devices()  # 401, refreshed, 200
        live.control("faults", {"status": 429, "retry_after": 1, "path": "/v1/me/player/devices"})
        assert await session.player.devices()  # 429, waited a second, 200
    finally:
        await session.aclose()
    free = await open_session(live, tmp_path / "free", recorder, user="free-user", product="free")
    try:
        with pytest.raises(PremiumRequiredError):
            await free.player.pause(LIVING_ROOM)
    finally:
        await free.aclose()
    exchanges = recorder.take()
    statuses = {exchange.response.status_code: exchange for exchange in exchanges}
    assert {401, 403, 404, 429} <= set(statuses), [str(e) for e in exchanges]
    assert statuses[429].response.headers["retry-after"] == "1"
    assert statuses[403].response.json()["error"]["reason"] == "PREMIUM_REQUIRED"
    assert statuses[404].response.json()["error"]["reason"] == "NO_ACTIVE_DEVICE"  # PLAYER_404
    check(spec, exchanges)


async def test_the_scopes_maestro_asks_for_are_the_ones_its_calls_need(
    document: dict[str, Any], recorded: tuple[Session, Recorder]
) -> None:
    session, recorder = recorded
    await every_player_call(session)
    needed: dict[str, set[str]] = {}
    for exchange in recorder.take():
        documented = documented_scopes(document, *exchange.call)
        scopes = NEEDS.get(exchange.call, documented)  # LIBRARY_SCOPES, PUBLIC_PROFILE
        assert scopes <= documented, exchange
        # the sandbox asks each call for what the document asks (one of them is enough)
        assert required_scopes(*exchange.call) <= documented, exchange
        for scope in scopes:
            needed.setdefault(scope, set()).add(" ".join(exchange.call))
    assert set(needed) <= set(SCOPES), f"calls need scopes not asked for: {set(needed) - set(SCOPES)}"
    assert set(SCOPES) <= set(needed), f"scopes asked for that no call needs: {set(SCOPES) - set(needed)}"


async def test_maestro_reads_development_mode_answers(live: LiveSandbox, tmp_path: Path) -> None:
    """Development-mode apps get objects without the fields Spotify removed in February 2026
    (markets, popularity, followers, account details, a playlist entry's old ``track``); nothing
    Maestro does may depend on them."""
    removed = {"available_markets", "popularity", "followers", "country", "email", "product", "track"}

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: strip(v)
                for k, v in node.items()
                if k not in removed or ("item" not in node and k == "track")
            }
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    recorder = Recorder(rewrite=strip)
    session = await open_session(live, tmp_path, recorder)
    try:
        await every_player_call(session)
    finally:
        await session.aclose()
    exchanges = recorder.take()
    assert not any('"popularity"' in e.response.text for e in exchanges)


async def test_every_list_maestro_reads_pages_as_described(live: LiveSandbox, tmp_path: Path) -> None:
    """Offset pages: ``limit`` items from ``offset``, ``total`` the same on every page, ``next``
    the following page until the last (null), ``previous`` null on the first; followed artists:
    cursor pages whose ``cursors.after`` and ``next`` lead on and are null at the end."""
    live.pair_into(tmp_path)
    token = json.loads((tmp_path / "tokens.json").read_text())["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=live.url, headers=headers) as http:
        playlist = http.get("/v1/me/playlists", params={"limit": 1}).json()["items"][0]["id"]
        for path in ["/v1/me/playlists", "/v1/me/albums", "/v1/me/tracks", f"/v1/playlists/{playlist}/items",
                     "/v1/me/top/artists", "/v1/me/top/tracks"]:  # fmt: skip
            first = http.get(path, params={"limit": 2}).json()
            total, seen, page, offset = first["total"], [], first, 0
            assert total > 2 and first["previous"] is None, path
            while True:
                assert page["offset"] == offset and page["limit"] == 2 and page["total"] == total, path
                assert len(page["items"]) == min(2, total - offset), path
                seen += page["items"]
                if page["next"] is None:
                    break
                page, offset = http.get(page["next"]).json(), offset + 2
                assert page["previous"] is not None
            assert len(seen) == total and offset + 2 >= total, path
        artists, after, pages = [], None, 0
        while True:
            params = {"type": "artist", "limit": 2, **({"after": after} if after else {})}
            page = http.get("/v1/me/following", params=params).json()["artists"]
            artists += [a["id"] for a in page["items"]]
            after, pages = page["cursors"]["after"], pages + 1
            assert (after is None) == (page["next"] is None)
            if after is None:
                break
            assert after == artists[-1]
        assert len(artists) == len(set(artists)) == page["total"] and pages > 1
