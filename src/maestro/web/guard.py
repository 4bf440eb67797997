"""The web app's door: who is asking (a paired browser, a script's token, nobody), CSRF for forms,
and the headers every answer carries."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from maestro.web.access import Access

COOKIE = "maestro_session"
CSRF_HEADER = "x-csrf-token"
#: Scripts only from the box itself (the live page); no inline script, style or frames.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "media-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    # the box's own address to itself only: browsers then send Origin on its forms (no-referrer
    # makes it "null"), and no other site learns it
    (b"referrer-policy", b"same-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class Guard:
    def __init__(self, access: Access) -> None:
        self.access = access

    def browser(self, request: Request) -> str | None:
        """The session secret of a paired browser, or None."""
        secret = request.cookies.get(COOKIE)
        return secret if self.access.session_ok(secret) else None

    def script(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.access.token_ok(token.strip())

    def may_read(self, request: Request) -> bool:
        return self.script(request) or self.browser(request) is not None

    async def may_change(self, request: Request) -> bool:
        """A script's token, or a paired browser whose request carries its CSRF token (a form field
        or a header) and comes from the box's own pages."""
        if self.script(request):
            return True
        secret = self.browser(request)
        if secret is None or not same_origin(request):
            return False
        given = request.headers.get(CSRF_HEADER)
        if given is None and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            given = str((await request.form()).get("csrf", ""))
        return hmac.compare_digest(given or "", csrf_for(secret))


def csrf_for(secret: str) -> str:
    """The CSRF token of one browser session: derived from it, so nothing more is stored."""
    return hmac.new(secret.encode(), b"maestro csrf", hashlib.sha256).hexdigest()[:32]


def same_origin(request: Request) -> bool:
    """No Origin (an old browser, curl) passes; one from elsewhere does not."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


class SecurityHeaders:
    """The headers of :data:`HEADERS` on every answer (a page, JSON, an error)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, with_headers)
