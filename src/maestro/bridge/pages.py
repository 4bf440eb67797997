"""The browser's side of the bridge: the pair pages, the redirect to Spotify, the callback.

A phone opens the pairing link (or types the code), confirms on a page that
warns it to continue only with the box in front of it, agrees at Spotify, and
comes back to ``/callback`` (or, in local mode, pastes that address at
``/pair/paste``); the bridge then exchanges Spotify's code with PKCE and seals
the tokens for the box. The pages use no script; Jinja2 escapes what they show.

Two cookies tie the steps to one browser: the confirm form's CSRF nonce (per
code), and, set when the user confirms, a flow cookie that the OAuth ``state``
needs at the callback. A sign-in link passed to someone else (the victim of an
attacker who kept the redirect to Spotify) arrives without that cookie: the
bridge then shows its confirm page and its warning again, and never uses the
code Spotify sent along. Spotify is asked to show its own dialog every time.
"""

from __future__ import annotations

import json
import logging
import secrets
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from maestro.bridge import codes
from maestro.bridge.browser import Browser
from maestro.bridge.grants import CONFIRMABLE, FINISHED, BridgeStore, Grant, GrantStatus
from maestro.bridge.limits import Limits, TooMany
from maestro.bridge.settings import SCOPE_WORDS, BridgeConfig
from maestro.bridge.spotify import SpotifyAccounts
from maestro.bridge.tally import Tally

log = logging.getLogger("maestro.bridge")
#: Tries of the code exchange when Spotify has trouble (a 5xx, no answer), within the budget.
EXCHANGE_TRIES = 3


class Pages:
    def __init__(
        self, config: BridgeConfig, store: BridgeStore, limits: Limits, spotify: SpotifyAccounts, tally: Tally
    ) -> None:
        self.config = config
        self.store = store
        self.limits = limits
        self.spotify = spotify
        self.tally = tally
        self.browser = Browser(config)
        self.templates = Jinja2Templates(directory=str(resources.files("maestro.bridge") / "templates"))

    @property
    def now(self) -> float:
        return self.config.clock()

    # -- rendering ----------------------------------------------------------------------------

    def page(self, request: Request, template: str, status: int = 200, **context: Any) -> Response:
        return self.templates.TemplateResponse(request, template, context, status_code=status)

    def message(
        self, request: Request, title: str, message: str, status: int = 200, **extra: Any
    ) -> Response:
        return self.page(request, "message.html", status, title=title, message=message, **extra)

    def too_many(self, request: Request, limit: TooMany) -> Response:
        message = (
            "Too many wrong codes are being tried right now. Scan the QR code on the Maestro box "
            "(or open the link it shows): that always works. Or wait a few minutes."
            if limit.everyone
            else "Too many tries from here. Scan the QR code on the Maestro box, or wait ten minutes."
        )
        response = self.message(request, "Slow down", message, 429, error=True)
        response.headers["Retry-After"] = str(self.config.attempt_window_s // 10)
        return response

    def already_done(self, request: Request) -> Response:
        return self.message(request, "Done", "Already done — you can close this page. "
                            "Maestro is connecting now.")  # fmt: skip

    def confirm(self, request: Request, grant: Grant, notice: str = "", status: int = 200) -> Response:
        """The confirm page for ``grant``, with a fresh CSRF nonce in this browser's cookie."""
        nonce = secrets.token_urlsafe(16)
        response = self.page(
            request,
            "confirm.html",
            status,
            title="Connect Maestro",
            code=pretty(grant.user_code),
            device_name=grant.device_name,
            scopes=[SCOPE_WORDS.get(s, s) for s in grant.scope.split()],
            csrf=self.browser.csrf(grant.user_code, nonce),
            local_mode=self.config.mode == "local",
            notice=notice,
        )
        self.browser.set_cookie(
            request, response, self.browser.csrf_cookie(request, grant.user_code), nonce, "strict"
        )
        return response

    def _refuse_foreign(self, request: Request) -> Response:
        log.info("a form post from another site was refused")
        return self.message(request, "Please try again", "This form has to be sent from the Maestro "
                            "bridge's own page. Open the link on the box again.", 403, error=True,
                            retry=True)  # fmt: skip

    # -- pages -----------------------------------------------------------------------------------

    async def pair_page(self, request: Request) -> Response:
        code = request.query_params.get("code", "")
        if not code:
            return self.page(request, "enter_code.html", title="Connect Maestro", code="", error=None)
        found = await self.limits.look_up(request, code, request.query_params.get("k", ""), self.now)
        if isinstance(found, TooMany):
            return self.too_many(request, found)
        if found is None:
            return self.page(
                request,
                "enter_code.html",
                404,
                title="Connect Maestro",
                code=code[:12],
                error="That code is not right, or it has expired. Check the code on the box.",
            )
        return self.confirm(request, found)

    async def link(self, request: Request) -> Response:
        """The short link of the QR code, ``/p/<code><secret>`` (any case): the confirm page."""
        code, secret = codes.split_link_token(request.path_params["token"])
        found = await self.limits.look_up(request, code, secret or "-", self.now)
        if isinstance(found, TooMany):
            return self.too_many(request, found)
        if found is None:
            error = "That link is not right, or it has expired. Check the code on the box."
            return self.page(request, "enter_code.html", 404, title="Connect Maestro", code="", error=error)
        return self.confirm(request, found)

    async def pair_decide(self, request: Request) -> Response:
        if not self.browser.from_this_site(request):
            return self._refuse_foreign(request)
        form = await request.form()
        code, decision = str(form.get("code", "")), str(form.get("decision", ""))
        # The CSRF token names the code, so it is checked before the code is looked up: this form
        # is no way to test codes (only a page that found the code hands out a valid token).
        nonce = request.cookies.get(self.browser.csrf_cookie(request, code), "")
        if not nonce or not codes.same(str(form.get("csrf", "")), self.browser.csrf(code, nonce)):
            return self.message(request, "Please try again", "This form expired. Open the link again.",
                                403, error=True, retry=True)  # fmt: skip
        grant = await self.store.by_user_code(codes.normalise_user_code(code), self.now)
        if grant is not None and grant.status in FINISHED:
            return self.already_done(request)
        if grant is None or grant.status not in CONFIRMABLE:
            return self.message(request, "Code not found", "That code is not right, or it has expired.",
                                404, error=True, retry=True)  # fmt: skip
        if decision != "approve":
            grant.status = GrantStatus.DENIED
            await self.store.update(grant)
            self.tally.note("cancelled")
            return self.message(request, "Cancelled", "Nothing was connected. You can close this page.")
        # A second confirmation (the form sent twice, or Spotify's page left unanswered and the link
        # opened again) replaces the state: only the newest redirect to Spotify can finish.
        state = codes.new_secret()
        verifier, challenge = codes.pkce_pair()
        grant.status, grant.state_hash, grant.code_verifier = (
            GrantStatus.AUTHORIZING,
            codes.digest(state),
            verifier,
        )
        await self.store.update(grant)
        self.tally.note("confirmed")
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "response_type": "code",
                "redirect_uri": self.config.redirect_uri,
                "state": state,
                "scope": grant.scope,
                "code_challenge_method": "S256",
                "code_challenge": challenge,
                "show_dialog": "true",  # Spotify asks every time, even a user who agreed before
            }
        )
        # Always and only to Spotify's authorize page: nothing from the request picks the target.
        response = RedirectResponse(
            f"{self.config.accounts_url.rstrip('/')}/authorize?{query}", status_code=303
        )
        # Lax, not Strict: the callback is a top-level navigation that Spotify's page starts.
        self.browser.set_cookie(request, response, *self.browser.flow_cookie(request, state), "lax")
        return response

    async def callback(self, request: Request) -> Response:
        return await self._finish(request, dict(request.query_params))

    async def paste_page(self, request: Request) -> Response:
        return self.page(request, "paste.html", title="Finish connecting", error=None)

    async def paste(self, request: Request) -> Response:
        if not self.browser.from_this_site(request):
            return self._refuse_foreign(request)
        form = await request.form()
        query = parse_qs(urlsplit(str(form.get("url", ""))).query)
        params = {k: v[0] for k, v in query.items() if v}
        if "state" not in params:
            return self.page(
                request,
                "paste.html",
                400,
                title="Finish connecting",
                error="That address has no answer from Spotify in it. Copy the whole address.",
            )
        return await self._finish(request, params)

    async def _finish(self, request: Request, params: dict[str, str]) -> Response:
        state = params.get("state", "")
        state_hash = codes.digest(state)
        grant = await self.store.by_state(state_hash, self.now) if state else None
        if grant is not None and grant.status in FINISHED:
            return self.already_done(request)  # a reload, or the address pasted twice: nothing lost
        if grant is None or grant.status != GrantStatus.AUTHORIZING:
            return self.message(request, "Link expired", "This sign-in link is not valid any more. Start "
                                "again from the Maestro box.", 400, error=True)  # fmt: skip
        name, value = self.browser.flow_cookie(request, state)
        if not codes.same(request.cookies.get(name, ""), value):
            # Not the browser that confirmed: perhaps a link someone sent. The state and its PKCE
            # verifier are dropped, so Spotify's code is useless to anyone, even replayed in the
            # browser that holds the cookie; the warning is shown here, and only a confirmation
            # here goes on.
            log.info("a callback came from a browser that did not confirm its code; asked again")
            return await self._again(request, grant, "other-browser", status=403)
        grant, claimed = await self.store.claim_state(state_hash, self.now)
        if grant is None or not claimed:  # another tab claimed it a moment ago
            if grant is not None and grant.status in FINISHED:
                return self.already_done(request)
            return self.message(request, "Link expired", "This sign-in link is not valid any more. Start "
                                "again from the Maestro box.", 400, error=True)  # fmt: skip
        if "error" in params or "code" not in params:
            # Backed out at Spotify: the code on the box still works, so the user can try again.
            return await self._again(request, grant, "backed-out")
        answer = await self.spotify.token(
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": grant.code_verifier or "",
            },
            tries=EXCHANGE_TRIES,
        )
        if not answer.ok:
            log.warning("code exchange failed: %s", answer.error)
            self.tally.note("refused")
            if answer.error in ("invalid_client", "unauthorized_client"):
                # The bridge's own settings (client id or secret) are wrong: no retry will help.
                await self._back_to_pending(grant)
                return self.message(request, "Not connected", "Spotify refused this bridge's app settings "
                                    "(its client id or secret). Tell whoever runs this bridge.", 502,
                                    error=True)  # fmt: skip
            return await self._again(request, grant, "trouble" if answer.transient else "refused", status=502)
        grant.status, grant.code_verifier = GrantStatus.APPROVED, None
        grant.sealed_tokens = codes.seal(json.dumps(answer.body).encode(), grant.public_key)
        await self.store.update(grant)
        self.tally.note("approved")
        return self.message(request, "Done", "Done — you can close this page. Maestro is connecting now.")

    async def _back_to_pending(self, grant: Grant) -> None:
        grant.status, grant.state_hash, grant.code_verifier = GrantStatus.PENDING, None, None
        await self.store.update(grant)

    async def _again(self, request: Request, grant: Grant, notice: str, status: int = 200) -> Response:
        """The grant waits again (the box keeps waiting) and this browser, which confirmed it, gets
        the confirm page back with a word on what happened."""
        await self._back_to_pending(grant)
        return self.confirm(request, grant, notice=notice, status=status)


def pretty(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"
