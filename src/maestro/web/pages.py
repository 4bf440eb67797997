"""The web app's pages, for a paired browser: Now, Heard, Phrasings, Cards, Settings, and the
pairing page for one not yet paired. Forms carry the session's CSRF token and post back here."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from maestro.errors import ConfigError
from maestro.intents.personal import PhrasingError
from maestro.nfc.tags import TagError
from maestro.spotify.aliases import AliasError
from maestro.web.access import Access, TooSoon
from maestro.web.facing import BUTTON_ROWS, BUTTONS, ICONS, LABELS, MAX_COMMAND, Box, Door, Saved, pairing_qr
from maestro.web.guard import COOKIE, csrf_for
from maestro.web.settings import BY_KEY, EDITABLE, env_variable

#: A paired browser stays paired this long (unless signed out); renewed on each pairing.
SESSION_DAYS = 400


Handler = Callable[..., Awaitable[Response]]


def paired(handler: Handler) -> Handler:
    """A page for a paired browser: any other is sent to the pairing page."""

    @functools.wraps(handler)
    async def page(self: Pages, request: Request, *args: Any, **kwargs: Any) -> Response:
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        return await handler(self, request, *args, **kwargs)

    return page


class Pages(Door):
    def __init__(self, box: Box, access: Access) -> None:
        super().__init__(box, access)
        self.templates = Jinja2Templates(directory=str(resources.files("maestro.web") / "templates"))

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        secret = self.guard.browser(request)
        context = {"csrf": csrf_for(secret) if secret else "", "live": self.box.live, **context}
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    @paired
    async def now(self, request: Request) -> Response:
        return self.page(
            request, "now.html", title="Now playing", rows=BUTTON_ROWS, icons=ICONS, labels=LABELS
        )

    @paired
    async def heard(self, request: Request) -> Response:
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
            return Response(f"No button {button!r}.", 404, media_type="text/plain")
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
        """What a heard command meant: words Maestro knows (``meant``), or an intent with its slots'
        values (``intent``, ``slot.<name>``: the choosing page's form)."""
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        form = await request.form()
        heard, meant = str(form.get("heard", "")).strip(), str(form.get("meant", "")).strip()
        intent = str(form.get("intent", ""))
        slots = {k.removeprefix("slot."): str(v) for k, v in form.items() if k.startswith("slot.")}
        try:
            if intent:
                phrasing, now = await self.learn_meaning(heard, intent, slots)
            else:
                phrasing, now = await self.learn(heard, meant)
        except PhrasingError as exc:
            if intent:
                entry = int(str(form.get("entry", "0"))) if str(form.get("entry", "")).isdigit() else 0
                return self.choosing_page(request, entry, heard, intent, slots, 422, error=str(exc))
            return self.heard_page(request, 422, error=str(exc))
        done = f"Learned: “{heard}” now means {now.intent}" + (
            " (as “" + phrasing.template + "”)." if now else "."
        )
        return self.heard_page(request, note=done)

    @paired
    async def choose(self, request: Request) -> Response:
        """``/correct/{entry}?intent=PlayAlbum``: what a heard command should have done, chosen
        from Maestro's intents, its slots filled (names searched in the library)."""
        entry = next((e for e in self.box.live.history if e.id == request.path_params["entry"]), None)
        if entry is None:
            return RedirectResponse("/heard", 303)  # gone from the history since
        return self.choosing_page(request, entry.id, entry.heard, request.query_params.get("intent", ""), {})

    def choosing_page(self, request: Request, entry: int, heard: str, intent: str, values: dict[str, str],
                      status: int = 200, **context: Any) -> Response:  # fmt: skip
        intents = self.box.intents()
        chosen = next((choice for choice in intents if choice.name == intent), None)
        names = (
            {slot.kind: self.box.names(slot.kind, "") for slot in chosen.slots if slot.kind} if chosen else {}
        )
        return self.page(request, "correct.html", status, title="I meant…", heard=heard, intents=intents,
                         chosen=chosen, values=values, names=names, entry=entry, **context)  # fmt: skip

    @paired
    async def phrasings_page(self, request: Request) -> Response:
        return self.page(request, "phrasings.html", title="Your phrasings", phrasings=self.box.phrasings(),
                         problem=self.box.phrasings_problem())  # fmt: skip

    async def forget_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        with contextlib.suppress(IndexError, PhrasingError):  # gone already (another page), or a broken file
            self.box.forget(request.path_params["index"])
        return RedirectResponse("/phrasings", 303)

    def heard_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        entries = list(reversed(self.box.live.history))
        return self.page(request, "heard.html", status, title="Heard", entries=entries,
                         keeps_audio=self.box.keeps_audio(), **context)  # fmt: skip

    @paired
    async def cards_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        box = self.box
        return self.page(request, "cards.html", status, title="Cards", cards=box.cards(),
                         unknown=box.unknown_card(), problem=box.cards_problem(), **context)  # fmt: skip

    @paired
    async def find_form(self, request: Request) -> Response:
        """``/cards/find?uid=04A1B2C3&q=abbey``: what the card could play, from the library and from
        Spotify, each one button away from the card."""
        uid, query = request.query_params.get("uid", "")[:64], request.query_params.get("q", "").strip()
        if not query:
            return RedirectResponse("/cards", 303)
        found, problem = await self.box.find(query[:MAX_COMMAND])
        return await self.cards_page(request, found=found, query=query, for_uid=uid, error=problem)

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

    async def clip(self, request: Request) -> Response:
        if self.guard.browser(request) is None:
            return Response("Pair this browser first.", 401, media_type="text/plain")
        path = self.box.clip(request.path_params["entry"])
        if path is None:
            return Response("No sound was kept for that command.", 404, media_type="text/plain")
        return FileResponse(path, media_type="audio/wav")

    @paired
    async def speakers_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        aliases = self.box.aliases()
        speakers = [(name, sorted(a for a, target in aliases.items() if target == name))
                    for name in self.box.speakers()]  # fmt: skip
        settings = self.box.settings()
        return self.page(request, "speakers.html", status, title="Speakers", speakers=speakers,
                         default=settings["player.default_device"], max_volume=settings["player.max_volume"],
                         **context)  # fmt: skip

    async def alias_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        form = await request.form()
        alias, speaker = str(form.get("alias", ""))[:80], str(form.get("speaker", ""))
        forget = form.get("forget") == "1"
        try:
            kept = self.box.set_alias(alias, None if forget else speaker)
        except AliasError as exc:
            return await self.speakers_page(request, 422, error=str(exc))
        note = f"“{kept}” is no longer a name for a speaker." if forget else f"“{kept}” now means {speaker}."
        return await self.speakers_page(request, note=note)

    async def default_speaker_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        speaker = str((await request.form()).get("speaker", ""))
        if speaker not in self.box.speakers():
            return await self.speakers_page(request, 422, error=f"{speaker} is not one of your speakers.")
        try:
            saved = self.box.save_settings({"player.default_device": speaker})
        except ConfigError as exc:
            return await self.speakers_page(request, 422, error=str(exc))
        note = f"{speaker} is the default speaker. {saved_note(saved)}"
        return await self.speakers_page(request, note=note)

    @paired
    async def settings_page(self, request: Request, status: int = 200, **context: Any) -> Response:
        context.setdefault("values", self.box.settings())
        account = await self.box.account()
        return self.page(request, "settings.html", status, title="Settings", editable=EDITABLE,
                         speakers=self.box.speakers(), account=account, **context)  # fmt: skip

    async def settings_form(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        form = {k: str(v) for k, v in (await request.form()).items() if k in BY_KEY}
        try:
            saved = self.box.save_settings(form)
        except ConfigError as exc:  # the page as it was sent, to be put right
            return await self.settings_page(
                request, 422, error=str(exc), values={**self.box.settings(), **form}
            )
        return await self.settings_page(request, note=saved_note(saved))

    async def spotify_sign_out(self, request: Request) -> Response:
        if (refusal := await self.form_refusal(request)) is not None:
            return refusal
        reply = await self.box.sign_out()
        return await self.settings_page(request, note=reply.speech)

    async def pairing_qr(self, request: Request) -> Response:
        """The QR code of the Spotify sign-in link while the box pairs (the link holds the code: a
        paired browser's only)."""
        if self.guard.browser(request) is None:
            return Response("Pair this browser first.", 401, media_type="text/plain")
        pairing = self.box.live.pairing
        if pairing is None:
            return Response("The box is not pairing with Spotify.", 404, media_type="text/plain")
        return Response(pairing_qr(pairing["link"]), media_type="image/svg+xml",
                        headers={"cache-control": "no-store"})  # fmt: skip

    async def form_refusal(self, request: Request) -> Response | None:
        """None when a form may change something; else the pairing page (not paired) or a 403 (a
        form from elsewhere, or one without this browser's CSRF token)."""
        if self.guard.browser(request) is None:
            return RedirectResponse("/pair", 303)
        if not await self.guard.may_change(request):
            return Response("This form did not come from this box's page: reload the page and try again.",
                            403, media_type="text/plain")  # fmt: skip
        return None


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
