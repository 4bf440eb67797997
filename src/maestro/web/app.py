"""The box's web app and JSON API: Starlette, pages from Jinja2 templates, no asset from elsewhere.

Pages (a paired browser): ``/`` now playing, live; ``/heard`` the last commands; ``/pair`` for a
browser not yet paired. The JSON API (a paired browser or a script's token): ``GET /api/state``,
``GET /api/history``, ``POST /api/command {"text": ...}`` (the same path as `maestro say`),
``GET /api/events`` (server-sent events: ``state`` and ``heard``). Nothing else answers without a
session or a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from maestro.errors import ConfigError
from maestro.intents.personal import Phrasing, PhrasingError
from maestro.intents.recognition import Recognition
from maestro.messages import Reply
from maestro.nfc.tags import TagError
from maestro.web.access import Access, TooSoon
from maestro.web.guard import COOKIE, CSRF_HEADER, Guard, SecurityHeaders, csrf_for
from maestro.web.live import Live
from maestro.web.settings import BY_KEY, EDITABLE, env_variable

log = logging.getLogger(__name__)

BUTTONS = ("previous", "play_pause", "next")
#: The buttons' icons (SVG paths in a 24-unit box): drawn by the page, no font needed.
ICONS = {
    "previous": "M6 5h2v14H6zM20 5v14L9 12z",
    "play_pause": "M3 5v14l9-7zM14 5h3v14h-3zM19 5h3v14h-3z",
    "next": "M16 5h2v14h-2zM4 5v14l11-7z",
}
#: Longest command accepted (the MQTT text entity's limit too).
MAX_COMMAND = 255
#: A comment line this often keeps an idle event stream open through proxies.
KEEPALIVE_S = 15.0
#: A paired browser stays paired this long (unless signed out); renewed on each pairing.
SESSION_DAYS = 400


@dataclass(frozen=True)
class Card:
    uid: str
    #: As tags.yaml keeps it: a Spotify URI, or a command.
    action: str
    #: What it plays, as a person says it ("Abbey Road (album)", “volume 30”).
    name: str


@dataclass(frozen=True)
class Saved:
    changed: list[str]
    #: Of those, the ones in effect after `maestro run` starts again.
    after_restart: list[str]
    #: Of those, the ones a MAESTRO_* variable sets for the running box (it wins over the file).
    shadowed: list[str]


class Box(Protocol):
    """What of the running box the web app works with (:mod:`maestro.box.web_loop`)."""

    live: Live

    async def command(self, text: str) -> Reply:
        """Runs words as a command, one at a time with voice and cards; shown, not spoken."""

    async def press(self, button: str) -> Reply:
        """One of :data:`BUTTONS`."""

    async def show_code(self, code: str) -> None:
        """Shows and says a browser's pairing code."""

    async def learn(self, heard: str, meant: str) -> tuple[Phrasing, Recognition]:
        """Learns ``heard`` as a way of saying ``meant`` (PhrasingError: it can't be); returns the
        phrasing and what ``heard`` means now."""

    def phrasings(self) -> list[Phrasing]: ...

    def phrasings_problem(self) -> str | None:
        """Why the user's phrasings file is not used (a hand edit gone wrong), or None."""

    def forget(self, index: int) -> Phrasing:
        """IndexError: no such phrasing."""

    def cards(self) -> list[Card]: ...

    def cards_problem(self) -> str | None:
        """Why tags.yaml can't be used as it is (the last good list is), or None."""

    def unknown_card(self) -> str | None:
        """The UID of a card tapped lately that does nothing yet."""

    async def assign_card(self, uid: str, what: str) -> Card:
        """TagError: not a card's UID, or nothing Maestro could do."""

    def remove_card(self, uid: str) -> bool: ...

    def settings(self) -> dict[str, Any]:
        """The values of :data:`maestro.web.settings.EDITABLE`, as they are in effect."""

    def speakers(self) -> list[str]: ...

    async def account(self) -> str | None:
        """Whom the box is signed in to Spotify as, or None (not signed in, or Spotify can't say)."""

    def save_settings(self, form: Mapping[str, str]) -> Saved:
        """Checked, written to config.toml, and in effect where that needs no restart (ConfigError:
        a value is not what it must be)."""


def create_app(box: Box, access: Access) -> Starlette:
    web = WebApp(box, access)
    routes = [
        Route("/", web.now),
        Route("/heard", web.heard),
        Route("/pair", web.pair_page),
        Route("/pair", web.pair, methods=["POST"]),
        Route("/pair/code", web.ask_code, methods=["POST"]),
        Route("/press/{button}", web.press, methods=["POST"]),
        Route("/command", web.command_form, methods=["POST"]),
        Route("/sign-out", web.sign_out, methods=["POST"]),
        Route("/correct", web.correct_form, methods=["POST"]),
        Route("/phrasings", web.phrasings_page),
        Route("/cards", web.cards_page),
        Route("/settings", web.settings_page),
        Route("/settings", web.settings_form, methods=["POST"]),
        Route("/cards", web.assign_form, methods=["POST"]),
        Route("/cards/{uid}/remove", web.remove_form, methods=["POST"]),
        Route("/phrasings/{index:int}/forget", web.forget_form, methods=["POST"]),
        Route("/api/state", web.api_state),
        Route("/api/history", web.api_history),
        Route("/api/command", web.api_command, methods=["POST"]),
        Route("/api/events", web.api_events),
        Route("/api/corrections", web.api_phrasings),
        Route("/api/corrections", web.api_correct, methods=["POST"]),
        Route("/api/corrections/{index:int}", web.api_forget, methods=["DELETE"]),
        Route("/api/cards", web.api_cards),
        Route("/api/settings", web.api_settings),
        Route("/api/settings", web.api_save_settings, methods=["PATCH"]),
        Route("/api/cards/{uid}", web.api_assign, methods=["PUT"]),
        Route("/api/cards/{uid}", web.api_remove, methods=["DELETE"]),
        Mount("/static", StaticFiles(packages=[("maestro.web", "static")]), name="static"),
    ]
    return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])


class WebApp:
    def __init__(self, box: Box, access: Access) -> None:
        self.box, self.access = box, access
        self.guard = Guard(access)
        self.templates = Jinja2Templates(directory=str(resources.files("maestro.web") / "templates"))

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        secret = self.guard.browser(request)
        context = {"csrf": csrf_for(secret) if secret else "", "live": self.box.live, **context}
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    # -- pages ---------------------------------------------------------------------------------

    async def now(self, request: Request) -> Response:
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        return self.page(request, "now.html", title="Now playing", buttons=BUTTONS, icons=ICONS)

    async def heard(self, request: Request) -> Response:
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        return self.heard_page(request)

    async def pair_page(self, request: Request) -> Response:
        if self.guard.browser(request) is not None:
            return RedirectResponse("/", 303)
        return self.page(request, "pair.html", title="Pair this browser", waiting=self.access.code_waiting())

    async def ask_code(self, request: Request) -> Response:
        try:
            code = self.access.new_code()
        except TooSoon:
            error = "A code was just shown on the box: type that one, or ask again in a few seconds."
            return self.page(request, "pair.html", 429, title="Pair this browser", waiting=True, error=error)
        await self.box.show_code(code)
        return RedirectResponse("/pair", 303)

    async def pair(self, request: Request) -> Response:
        form = await request.form()
        secret = self.access.pair(str(form.get("code", ""))[:32], request.headers.get("user-agent", ""))
        if secret is None:
            error = ("That is not the code on the box's screen." if self.access.code_waiting()
                     else "That code no longer works: ask the box for a new one.")  # fmt: skip
            return self.page(request, "pair.html", 403, title="Pair this browser",
                             waiting=self.access.code_waiting(), error=error)  # fmt: skip
        response = RedirectResponse("/", 303)
        response.set_cookie(COOKIE, secret, max_age=SESSION_DAYS * 86400, httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")  # fmt: skip
        return response

    async def press(self, request: Request) -> Response:
        button = request.path_params["button"]
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        if button not in BUTTONS:
            return JSONResponse({"error": f"no button {button!r}"}, 404)
        await self.box.press(button)
        return RedirectResponse("/", 303)

    async def command_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        text = str((await request.form()).get("text", "")).strip()
        if 0 < len(text) <= MAX_COMMAND:
            await self.box.command(text)
        return RedirectResponse("/heard", 303)

    async def sign_out(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        self.access.sign_out_browsers()
        response = RedirectResponse("/pair", 303)
        response.delete_cookie(COOKIE)
        return response

    async def correct_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        form = await request.form()
        heard, meant = str(form.get("heard", "")).strip(), str(form.get("meant", "")).strip()
        try:
            phrasing, now = await self.learn(heard, meant)
        except PhrasingError as exc:
            return self.heard_page(request, 422, error=str(exc))
        done = f"Learned: “{heard}” now means {now.intent}" + (
            " (as “" + phrasing.template + "”)." if now else "."
        )
        return self.heard_page(request, note=done)

    async def phrasings_page(self, request: Request) -> Response:
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        return self.page(request, "phrasings.html", title="Your phrasings", phrasings=self.box.phrasings(),
                         problem=self.box.phrasings_problem())  # fmt: skip

    async def forget_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        with contextlib.suppress(IndexError, PhrasingError):  # gone already (another page), or a broken file
            self.box.forget(request.path_params["index"])
        return RedirectResponse("/phrasings", 303)

    async def learn(self, heard: str, meant: str) -> tuple[Phrasing, Recognition]:
        if not 0 < len(heard) <= MAX_COMMAND or not 0 < len(meant) <= MAX_COMMAND:
            raise PhrasingError(f"Both what was heard and what you meant: 1 to {MAX_COMMAND} characters.")
        return await self.box.learn(heard, meant)

    def heard_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        entries = list(reversed(self.box.live.history))
        return self.page(request, "heard.html", status, title="Heard", entries=entries, **context)

    async def cards_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        box = self.box
        return self.page(request, "cards.html", status, title="Cards", cards=box.cards(),
                         unknown=box.unknown_card(), problem=box.cards_problem(), **context)  # fmt: skip

    async def assign_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        form = await request.form()
        uid, what = str(form.get("uid", ""))[:64], str(form.get("what", "")).strip()[:MAX_COMMAND]
        try:
            card = await self.box.assign_card(uid, what)
        except TagError as exc:
            return await self.cards_page(request, 422, error=str(exc))
        return await self.cards_page(request, note=f"Card {card.uid} now plays {card.name}.")

    async def remove_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        with contextlib.suppress(TagError):  # not a UID: nothing to remove
            self.box.remove_card(request.path_params["uid"])
        return RedirectResponse("/cards", 303)

    async def settings_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        return self.page(request, "settings.html", status, title="Settings", editable=EDITABLE,
                         values=self.box.settings(), speakers=self.box.speakers(),
                         account=await self.box.account(), **context)  # fmt: skip

    async def settings_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        form = {k: str(v) for k, v in (await request.form()).items() if k in BY_KEY}
        try:
            saved = self.box.save_settings(form)
        except ConfigError as exc:
            return await self.settings_page(request, 422, error=str(exc))
        return await self.settings_page(request, note=saved_note(saved))

    async def form_refusal(self, request: Request) -> Response | None:
        """None when a form may change something; else the pairing page (not paired) or a 403 (a
        form from elsewhere, or one without this browser's CSRF token)."""
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        if not await self.guard.may_change(request):
            return Response("This form did not come from this box's page: reload the page and try again.",
                            403, media_type="text/plain")  # fmt: skip
        return None

    # -- the JSON API --------------------------------------------------------------------------

    async def api_state(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse(self.box.live.state())

    async def api_history(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"commands": [entry.to_json() for entry in reversed(self.box.live.history)]})

    async def api_command(self, request: Request) -> Response:
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": 'send JSON: {"text": "play abbey road"}'}, 400)
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not 0 < len(text.strip()) <= MAX_COMMAND:
            return JSONResponse({"error": f'"text" must be a command of 1 to {MAX_COMMAND} characters'}, 400)
        reply = await self.box.command(text.strip())
        return JSONResponse(reply.to_json(), 200 if reply.ok else 422)

    async def api_phrasings(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse({"phrasings": [p.to_json() for p in self.box.phrasings()]})

    async def api_correct(self, request: Request) -> Response:
        """``{"heard": "stick on abbey road", "meant": "play abbey road"}``: from now on, the first
        means the second (and so does "stick on kind of blue")."""
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in ("heard", "meant")):
            return JSONResponse({"error": 'send JSON: {"heard": "...", "meant": "..."}'}, 400)
        try:
            phrasing, now = await self.learn(body["heard"].strip(), body["meant"].strip())
        except PhrasingError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse({"phrasing": phrasing.to_json(), "now": now.to_json()})

    async def api_forget(self, request: Request) -> Response:
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            gone = self.box.forget(request.path_params["index"])
        except IndexError:
            return JSONResponse({"error": "no such phrasing"}, 404)
        except PhrasingError as exc:
            return JSONResponse({"error": str(exc)}, 409)
        return JSONResponse({"forgot": gone.to_json()})

    async def api_cards(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        box = self.box
        return JSONResponse({"cards": [asdict(card) for card in box.cards()], "unknown": box.unknown_card(),
                             "problem": box.cards_problem()})  # fmt: skip

    async def api_assign(self, request: Request) -> Response:
        """``PUT /api/cards/04A1B2C3 {"action": "abbey road"}`` (a name, a link or a command)."""
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        what = body.get("action") if isinstance(body, dict) else None
        if not isinstance(what, str) or not 0 < len(what.strip()) <= MAX_COMMAND:
            return JSONResponse({"error": 'send JSON: {"action": "abbey road"}'}, 400)
        try:
            card = await self.box.assign_card(request.path_params["uid"], what)
        except TagError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse(asdict(card))

    async def api_remove(self, request: Request) -> Response:
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            removed = self.box.remove_card(request.path_params["uid"])
        except TagError as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"removed": removed}, 200 if removed else 404)

    async def api_settings(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return JSONResponse(self.box.settings())

    async def api_save_settings(self, request: Request) -> Response:
        """``PATCH /api/settings {"voice.duck_volume": 20}``."""
        if not await self.guard.may_change(request):
            return refused(request)
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not body:
            return JSONResponse({"error": 'send JSON: {"voice.duck_volume": 20}'}, 400)
        try:
            saved = self.box.save_settings({str(k): str(v).lower() if isinstance(v, bool) else str(v)
                                            for k, v in body.items()})  # fmt: skip
        except ConfigError as exc:
            return JSONResponse({"error": str(exc)}, 422)
        return JSONResponse({**asdict(saved), "settings": self.box.settings()})

    async def api_events(self, request: Request) -> Response:
        if not self.guard.may_read(request):
            return refused(request)
        return StreamingResponse(self._events(), media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})  # fmt: skip

    async def _events(self) -> AsyncIterator[str]:
        async with self.box.live.listening() as queue:
            while True:
                try:
                    event, data = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                yield f"event: {event}\ndata: {json.dumps(data)}\n\n"


def saved_note(saved: Saved) -> str:
    if not saved.changed:
        return "Nothing changed."
    now = [BY_KEY[k].label for k in saved.changed if k not in saved.after_restart]
    later = [BY_KEY[k].label for k in saved.after_restart]
    parts = [f"Saved. In effect now: {', '.join(now)}." if now else "Saved."]
    if later:
        parts.append(f"After Maestro restarts: {', '.join(later)}.")
    if saved.shadowed:
        names = ", ".join(env_variable(k) for k in saved.shadowed)
        parts.append(f"While {names} is set for the box, it wins over the file.")
    return " ".join(parts)


def refused(request: Request) -> Response:
    """The API's 401 (403 for a paired browser's change without its CSRF header)."""
    if request.method != "GET" and request.cookies.get(COOKIE):
        return JSONResponse({"error": f"send the page's CSRF token in {CSRF_HEADER}"}, 403)
    return JSONResponse({"error": "pair this browser at /pair, or send a token from `maestro web token`"},
                        401, headers={"www-authenticate": "Bearer"})  # fmt: skip
