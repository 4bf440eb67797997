"""The web app's JSON API, for a paired browser (with its CSRF header to change anything) or a
script's token: state, history, commands, corrections, cards, settings, and the event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from maestro.errors import ConfigError
from maestro.intents.library import KINDS
from maestro.intents.personal import PhrasingError
from maestro.nfc.tags import TagError
from maestro.spotify.aliases import AliasError
from maestro.web.facing import MAX_COMMAND, Door
from maestro.web.guard import COOKIE, CSRF_HEADER

CORRECTION_SHAPE = (
    'send JSON: {"heard": "...", "meant": "..."} or '
    '{"heard": "...", "intent": "PlayAlbum", "slots": {"album": "..."}}'
)
#: What /api/names searches.
NAME_KINDS = KINDS
#: A comment line this often keeps an idle event stream open through proxies.
KEEPALIVE_S = 15.0


class Api(Door):
    async def state(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse(self.box.live.state())

    async def history(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"commands": [entry.to_json() for entry in reversed(self.box.live.history)]})

    async def command(self, request: Request) -> Response:
        if not await self.guard.may_change(request):
            return refused(request)
        text = words_in(await json_body(request), "text")
        if text is None:
            return JSONResponse({"error": f'"text" must be a command of 1 to {MAX_COMMAND} characters'}, 400)
        reply = await self.box.command(text)
        return JSONResponse(reply.to_json(), 200 if reply.ok else 422)

    async def phrasings(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"phrasings": [p.to_json() for p in self.box.phrasings()]})

    async def correct(self, request: Request) -> Response:
        """``{"heard": "stick on abbey road", "meant": "play abbey road"}``: from now on, the first
        means the second (and so does "stick on kind of blue"). Or, what was meant chosen:
        ``{"heard": ..., "intent": "PlayAlbum", "slots": {"album": "abbey road"}}``."""
        if not await self.guard.may_change(request):
            return refused(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("heard"), str):
            return JSONResponse({"error": CORRECTION_SHAPE}, 400)
        heard, slots = body["heard"].strip(), body.get("slots", {})
        chosen = isinstance(body.get("intent"), str) and isinstance(slots, dict)
        if not chosen and not isinstance(body.get("meant"), str):
            return JSONResponse({"error": CORRECTION_SHAPE}, 400)
        try:
            if chosen:
                phrasing, now = await self.learn_meaning(
                    heard, body["intent"], {str(k): str(v) for k, v in slots.items()}
                )
            else:
                phrasing, now = await self.learn(heard, body["meant"].strip())
        except PhrasingError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse({"phrasing": phrasing.to_json(), "now": now.to_json()})

    async def intents(self, request: Request) -> Response:
        """What a correction can choose: every intent with a sample and its slots."""
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"intents": [choice.to_json() for choice in self.box.intents()]})

    async def names(self, request: Request) -> Response:
        """``/api/names/album?q=abb``: the library's names most like the words (the page's search)."""
        if not self.guard.may_read(request):
            return refused(request)
        kind = request.path_params["kind"]
        if kind not in NAME_KINDS:
            return JSONResponse({"error": f"kind is one of: {', '.join(NAME_KINDS)}"}, 404)
        return JSONResponse({"names": self.box.names(kind, request.query_params.get("q", "")[:MAX_COMMAND])})

    async def forget(self, request: Request) -> Response:
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            gone = self.box.forget(request.path_params["index"])
        except IndexError:
            return JSONResponse({"error": "no such phrasing"}, 404)
        except PhrasingError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse({"forgot": gone.to_json()})

    async def cards(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        box = self.box
        return JSONResponse({"cards": [asdict(card) for card in box.cards()], "unknown": box.unknown_card(),
                             "problem": box.cards_problem()})  # fmt: skip

    async def find(self, request: Request) -> Response:
        """``/api/cards/find?q=abbey``: what a card could play, from the library and from Spotify
        (assign one by its ``uri``)."""
        if not self.guard.may_read(request):
            return refused(request)
        query = request.query_params.get("q", "").strip()
        if not 0 < len(query) <= MAX_COMMAND:
            return JSONResponse({"error": f"q: 1 to {MAX_COMMAND} characters"}, 400)
        found, problem = await self.box.find(query)
        return JSONResponse({"found": [asdict(f) for f in found], "problem": problem})

    async def assign(self, request: Request) -> Response:
        """``PUT /api/cards/04A1B2C3 {"action": "abbey road"}`` (a name, a link or a command)."""
        if not await self.guard.may_change(request):
            return refused(request)
        what = words_in(await json_body(request), "action")
        if what is None:
            return JSONResponse({"error": 'send JSON: {"action": "abbey road"}'}, 400)
        try:
            card = await self.box.assign_card(request.path_params["uid"], what)
        except TagError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse(asdict(card))

    async def remove(self, request: Request) -> Response:
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            removed = self.box.remove_card(request.path_params["uid"])
        except TagError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"removed": removed}, 200 if removed else 404)

    async def speakers(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"speakers": self.box.speakers(), "aliases": self.box.aliases()})

    async def alias(self, request: Request) -> Response:
        """``PUT /api/speakers/aliases/the telly {"speaker": "Den TV"}``; DELETE forgets it."""
        if not await self.guard.may_change(request):
            return refused(request)
        speaker = None
        if request.method == "PUT":
            body = await json_body(request)
            speaker = body.get("speaker") if isinstance(body, dict) else None
            if not isinstance(speaker, str):
                return JSONResponse({"error": 'send JSON: {"speaker": "Den TV"}'}, 400)
        try:
            kept = self.box.set_alias(request.path_params["alias"], speaker)
        except AliasError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse({"alias": kept, "speaker": speaker, "aliases": self.box.aliases()})

    async def settings(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse(self.box.settings())

    async def save_settings(self, request: Request) -> Response:
        """``PATCH /api/settings {"voice.duck_volume": 20}``."""
        if not await self.guard.may_change(request):
            return refused(request)
        body = await json_body(request)
        if not isinstance(body, dict) or not body:
            return JSONResponse({"error": 'send JSON: {"voice.duck_volume": 20}'}, 400)
        try:
            saved = self.box.save_settings({str(k): str(v).lower() if isinstance(v, bool) else str(v)
                                            for k, v in body.items()})  # fmt: skip
        except ConfigError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse({**asdict(saved), "settings": self.box.settings()})

    async def account(self, request: Request) -> Response:
        """Whom the box is signed in to Spotify as, and while it pairs, its code and link."""
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"signed_in_as": await self.box.account(), "pairing": self.box.live.pairing})

    async def sign_out(self, request: Request) -> Response:
        """``DELETE /api/account``: signs the box out of Spotify; it pairs again (GET for the code)."""
        if not await self.guard.may_change(request):
            return refused(request)
        reply = await self.box.sign_out()
        return JSONResponse({"signed_out": reply.ok, "speech": reply.speech})

    async def events(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return StreamingResponse(self.stream(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})  # fmt: skip

    async def stream(self) -> AsyncIterator[str]:
        async with self.box.live.listening() as queue:
            while True:
                try:
                    event, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                yield f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def json_body(request: Request) -> Any:
    """The request's JSON, or None when it is none."""
    try:
        return await request.json()
    except ValueError:  # not JSON, or not UTF-8
        return None


def words_in(body: Any, key: str) -> str | None:
    """``body[key]`` when the body is a JSON object and that is 1 to MAX_COMMAND characters of text
    (stripped), else None."""
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not 0 < len(value.strip()) <= MAX_COMMAND:
        return None
    return value.strip()


def refused(request: Request) -> Response:
    """The API's 401 (403 for a paired browser's change without its CSRF header)."""
    if request.method != "GET" and request.cookies.get(COOKIE):
        return JSONResponse({"error": f"send the page's CSRF token in {CSRF_HEADER}"}, 403)
    return JSONResponse({"error": "pair this browser at /pair, or send a token from `maestro web token`"},
                        401, headers={"www-authenticate": "Bearer"})  # fmt: skip
