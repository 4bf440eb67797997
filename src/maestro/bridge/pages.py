"""The browser's side of the bridge: the pair pages, the redirect to Spotify, the callback.

A phone opens the pairing link (or types the code), confirms on a page that
warns it to continue only with the box in front of it, agrees at Spotify, and
comes back to ``/callback`` (or, in local mode, pastes that address at
``/pair/paste``); the bridge then exchanges Spotify's code with PKCE and seals
the tokens for the box. The pages use no script; Jinja2 escapes what they show.
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
from maestro.bridge.grants import BridgeStore, GrantStatus
from maestro.bridge.limits import Limits, TooMany
from maestro.bridge.settings import SCOPE_WORDS, BridgeConfig
from maestro.bridge.spotify import SpotifyAccounts, oauth_body

log = logging.getLogger("maestro.bridge")


class Pages:
    def __init__(
        self, config: BridgeConfig, store: BridgeStore, limits: Limits, spotify: SpotifyAccounts
    ) -> None:
        self.config = config
        self.store = store
        self.limits = limits
        self.spotify = spotify
        self.templates = Jinja2Templates(directory=str(resources.files("maestro.bridge") / "templates"))

    @property
    def now(self) -> float:
        return self.config.clock()

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

    def _csrf(self, user_code: str, nonce: str) -> str:
        return codes.csrf_token(self.config.secret, codes.normalise_user_code(user_code), nonce)

    def _cookie_name(self, user_code: str) -> str:
        """One cookie per code: two tabs on two codes do not spoil each other's form."""
        tag = codes.csrf_token(self.config.secret, "cookie", codes.normalise_user_code(user_code))[:16]
        return f"maestro_csrf_{tag}"

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
        nonce = secrets.token_urlsafe(16)
        response = self.page(
            request,
            "confirm.html",
            title="Connect Maestro",
            code=pretty(found.user_code),
            device_name=found.device_name,
            scopes=[SCOPE_WORDS.get(s, s) for s in found.scope.split()],
            csrf=self._csrf(found.user_code, nonce),
            local_mode=self.config.mode == "local",
        )
        response.set_cookie(
            self._cookie_name(found.user_code),
            nonce,
            max_age=self.config.code_ttl_s,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def pair_decide(self, request: Request) -> Response:
        form = await request.form()
        code, decision = str(form.get("code", "")), str(form.get("decision", ""))
        # The CSRF token names the code, so it is checked before the code is looked up: this form
        # is no way to test codes (only a page that found the code hands out a valid token).
        nonce = request.cookies.get(self._cookie_name(code), "")
        if not nonce or not codes.same(str(form.get("csrf", "")), self._csrf(code, nonce)):
            return self.message(request, "Please try again", "This form expired. Open the link again.",
                                403, error=True, retry=True)  # fmt: skip
        grant = await self.store.by_user_code(codes.normalise_user_code(code), self.now)
        if grant is None or grant.status != GrantStatus.PENDING:
            return self.message(request, "Code not found", "That code is not right, or it has expired.",
                                404, error=True, retry=True)  # fmt: skip
        if decision != "approve":
            grant.status = GrantStatus.DENIED
            await self.store.update(grant)
            return self.message(request, "Cancelled", "Nothing was connected. You can close this page.")
        state = codes.new_secret()
        verifier, challenge = codes.pkce_pair()
        grant.status, grant.state_hash, grant.code_verifier = (
            GrantStatus.AUTHORIZING,
            codes.digest(state),
            verifier,
        )
        await self.store.update(grant)
        query = urlencode(
            {
                "client_id": self.config.client_id,
                "response_type": "code",
                "redirect_uri": self.config.redirect_uri,
                "state": state,
                "scope": grant.scope,
                "code_challenge_method": "S256",
                "code_challenge": challenge,
            }
        )
        # Always and only to Spotify's authorize page: nothing from the request picks the target.
        return RedirectResponse(f"{self.config.accounts_url.rstrip('/')}/authorize?{query}", status_code=303)

    async def callback(self, request: Request) -> Response:
        return await self._finish(request, dict(request.query_params))

    async def paste_page(self, request: Request) -> Response:
        return self.page(request, "paste.html", title="Finish connecting", error=None)

    async def paste(self, request: Request) -> Response:
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
        grant, claimed = (
            await self.store.claim_state(codes.digest(state), self.now) if state else (None, False)
        )
        if (
            grant is not None
            and not claimed
            and grant.status in (GrantStatus.EXCHANGING, GrantStatus.APPROVED)
        ):
            # A reload while (or after) Spotify answers: the first request is doing the work.
            return self.message(request, "Done", "Already done — you can close this page. "
                                "Maestro is connecting now.")  # fmt: skip
        if not claimed or grant is None:
            return self.message(
                request,
                "Link expired",
                "This sign-in link is not valid any more. Start again from the Maestro box.",
                400,
                error=True,
            )
        verifier = grant.code_verifier or ""
        grant.state_hash, grant.code_verifier = None, None  # a state works once
        if "error" in params or "code" not in params:
            # Backed out at Spotify: the code on the box still works, so the user can try again.
            grant.status = GrantStatus.PENDING
            await self.store.update(grant)
            return self.message(
                request,
                "Not connected",
                "Spotify did not connect Maestro. To try again, open the link on the box again "
                "(or enter its code); otherwise you can close this page.",
                retry=True,
            )
        status, body = await self.spotify.token(
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": self.config.redirect_uri,
                "code_verifier": verifier,
            }
        )
        if status != 200 or "access_token" not in body:
            grant.status = GrantStatus.DENIED
            await self.store.update(grant)
            log.warning("code exchange failed: %s", oauth_body(body).get("error"))
            return self.message(
                request,
                "Not connected",
                "Spotify refused the connection. Start again from the Maestro box.",
                502,
                error=True,
            )
        grant.status = GrantStatus.APPROVED
        grant.sealed_tokens = codes.seal(json.dumps(body).encode(), grant.public_key)
        await self.store.update(grant)
        log.info("a grant was approved")
        return self.message(request, "Done", "Done — you can close this page. Maestro is connecting now.")


def pretty(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"
