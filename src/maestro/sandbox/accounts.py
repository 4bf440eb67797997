"""The accounts service: device authorization, /authorize with PKCE, /api/token."""

from __future__ import annotations

import base64
import binascii
import html
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from maestro.sandbox.sign_in import DEFAULT_USER, OAuthError
from maestro.sandbox.state import SandboxState

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The token endpoint's answers must never be cached (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _state(request: Request) -> SandboxState:
    return request.app.state.sandbox


def oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=NO_STORE)


def _basic_client_id(request: Request) -> str | None:
    """Client authentication by HTTP Basic (used by confidential clients such as the bridge)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, _secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return client_id or None


async def device_authorize(request: Request) -> Response:
    form = await request.form()
    client_id = str(form.get("client_id") or _basic_client_id(request) or "")
    if not client_id:
        return oauth_error(OAuthError("invalid_request", "Missing client_id"))
    try:
        grant = _state(request).start_device_grant(client_id, str(form.get("scope", "")))
    except OAuthError as exc:
        return oauth_error(exc)
    base = str(request.base_url).rstrip("/")
    return JSONResponse(
        {
            "device_code": grant.device_code,
            "user_code": grant.user_code,
            "verification_uri": f"{base}/pair",
            "verification_uri_complete": f"{base}/pair?{urlencode({'code': grant.user_code})}",
            "expires_in": int(grant.expires_at - _state(request).now()),
            "interval": grant.interval,
        },
        headers=NO_STORE,
    )


async def token(request: Request) -> Response:
    form = await request.form()
    state = _state(request)
    grant_type = str(form.get("grant_type", ""))
    client_id = str(form.get("client_id") or _basic_client_id(request) or "")
    try:
        if not client_id:
            raise OAuthError("invalid_client", "Invalid client", status=400)
        if grant_type == DEVICE_CODE_GRANT:
            body = state.poll_device_grant(str(form.get("device_code", "")), client_id)
        elif grant_type == "authorization_code":
            body = state.redeem_auth_code(
                str(form.get("code", "")),
                client_id,
                str(form.get("redirect_uri", "")),
                str(form.get("code_verifier", "")),
            )
        elif grant_type == "refresh_token":
            body = state.refresh(str(form.get("refresh_token", "")), client_id)
        else:
            raise OAuthError(
                "unsupported_grant_type",
                f"grant_type must be one of: {DEVICE_CODE_GRANT}, authorization_code, refresh_token",
            )
    except OAuthError as exc:
        return oauth_error(exc)
    return JSONResponse(body, headers=NO_STORE)


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>
body{{font-family:system-ui,sans-serif;max-width:28rem;margin:2rem auto;padding:0 1rem}}
button,input{{font-size:1.1rem;padding:.5rem 1rem;margin:.25rem 0}}
.note{{color:#555;font-size:.9rem}}</style></head><body>
<h1>{title}</h1>{body}<p class="note">Spotify sandbox: a local stand-in for testing.</p></body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status)


async def authorize(request: Request) -> Response:
    """Authorization Code (+PKCE) front door: checks, then an approve/deny page."""
    state = _state(request)
    q = request.query_params
    client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
    if not client_id:
        return page("Error", "<p>INVALID_CLIENT: Invalid client</p>", 400)
    if not state.redirect_uri_allowed(redirect_uri):
        # Never redirect to an unregistered URI: show the error instead.
        return page("Error", "<p>INVALID_CLIENT: Invalid redirect URI</p>", 400)

    def back(**params: str) -> RedirectResponse:
        if q.get("state") is not None:
            params["state"] = q["state"]
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)

    if q.get("response_type") != "code":
        return back(error="unsupported_response_type")
    challenge, method = q.get("code_challenge", ""), q.get("code_challenge_method", "")
    if challenge and method != "S256":
        return back(error="invalid_request", error_description="code_challenge_method must be S256")
    decision = q.get("sandbox_decision") or (
        str((await request.form()).get("decision", "")) if request.method == "POST" else ""
    )
    user_id = q.get("sandbox_user", DEFAULT_USER)
    if decision == "approve":
        code = state.issue_auth_code(client_id, redirect_uri, challenge, q.get("scope", ""), user_id)
        return back(code=code)
    if decision == "deny":
        return back(error="access_denied")
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in q.get("scope", "").split())
    return page(
        "Authorize access",
        f"<p>The app <b>{html.escape(client_id)}</b> asks for:</p><ul>{scopes or '<li>(no scopes)</li>'}</ul>"
        f'<form method="post"><button name="decision" value="approve">Agree</button> '
        f'<button name="decision" value="deny">Cancel</button></form>',
    )


async def pair(request: Request) -> Response:
    """Spotify's ``/pair`` page: type the code shown by the device, then approve."""
    state = _state(request)
    if request.method == "POST":
        form = await request.form()
        code, decision = str(form.get("code", "")), str(form.get("decision", ""))
        if decision in ("approve", "deny"):
            try:
                state.decide_grant(code, decision == "approve")
            except OAuthError:
                return page("Pair a device", "<p>That code is unknown or has expired.</p>", 404)
            done = "Device connected" if decision == "approve" else "Request declined"
            return page(done, "<p>You can close this page.</p>")
    code = request.query_params.get("code", "")
    grant = state.find_grant(code) if code else None
    if grant is None:
        return page(
            "Pair a device",
            '<form method="get"><label>Code shown on your device<br>'
            f'<input name="code" value="{html.escape(code)}" autocomplete="off"></label> '
            "<button>Continue</button></form>",
        )
    return page(
        "Pair a device",
        f"<p>Connect <b>{html.escape(grant.client_id)}</b> with code "
        f"<b>{html.escape(grant.user_code)}</b>?</p>"
        f'<form method="post"><input type="hidden" name="code" value="{html.escape(grant.user_code)}">'
        '<button name="decision" value="approve">Connect</button> '
        '<button name="decision" value="deny">Cancel</button></form>',
    )


routes = [
    Route("/oauth2/device/authorize", device_authorize, methods=["POST"]),
    Route("/api/token", token, methods=["POST"]),
    Route("/authorize", authorize, methods=["GET", "POST"]),
    Route("/pair", pair, methods=["GET", "POST"]),
]
