"""What ties the bridge's pages to one browser: the confirm form's CSRF nonce (a cookie per code),
the flow cookie that the OAuth ``state`` needs at the callback, and whether a form post came from
the bridge's own page (Fetch Metadata, then Origin)."""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from maestro.bridge import codes
from maestro.bridge.settings import BridgeConfig


class Browser:
    def __init__(self, config: BridgeConfig) -> None:
        self.config = config

    def csrf(self, user_code: str, nonce: str) -> str:
        return codes.csrf_token(self.config.secret, codes.normalise_user_code(user_code), nonce)

    def _name(self, request: Request, kind: str, name: str) -> str:
        """``maestro_<kind>_<tag>``: one per code or state (two tabs do not spoil each other), and
        ``__Host-`` over https, so no other site on the domain can set it."""
        tag = codes.csrf_token(self.config.secret, kind, name)[:16]
        prefix = "__Host-" if request.url.scheme == "https" else ""
        return f"{prefix}maestro_{kind}_{tag}"

    def csrf_cookie(self, request: Request, user_code: str) -> str:
        return self._name(request, "csrf", codes.normalise_user_code(user_code))

    def flow_cookie(self, request: Request, state: str) -> tuple[str, str]:
        """The cookie that ties an OAuth state to the browser that confirmed: name and value."""
        return self._name(request, "flow", codes.digest(state)), codes.csrf_token(self.config.secret,
                                                                                   "flow", state)  # fmt: skip

    def set_cookie(self, request: Request, response: Response, name: str, value: str, samesite: str) -> None:
        response.set_cookie(name, value, max_age=self.config.code_ttl_s, path="/", httponly=True,
                            samesite=samesite, secure=request.url.scheme == "https")  # type: ignore[arg-type]  # fmt: skip

    def from_this_site(self, request: Request) -> bool:
        """A form post made by our own page. Browsers say where a request comes from: Fetch
        Metadata first; else Origin (``null`` under our no-referrer policy says nothing). Where
        they say nothing (old browsers, scripts), the CSRF token decides alone."""
        site = request.headers.get("sec-fetch-site")
        if site is not None:
            return site in ("same-origin", "none")
        sender = request.headers.get("origin", "null").lower()
        if sender == "null":
            return True
        ours = {origin(self.config.base_url), f"{request.url.scheme}://{request.headers.get('host', '')}"}
        return sender in {o.lower() for o in ours}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of an address."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
