"""Servers: ``maestro bridge serve`` (the device-flow bridge), ``maestro sandbox serve``, and the
keys to the box's own web app (``maestro web token``, ``maestro web sign-out``)."""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from urllib.parse import urlsplit

from maestro.cli.parser import Commands, port
from maestro.errors import UsageError


def register(commands: Commands) -> None:
    bridge = commands.group("bridge", "the device-flow bridge for non-allowlisted Spotify apps")
    serve = bridge.add("serve", "run the bridge", run_bridge)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=port, default=8766)
    serve.add_argument("--db", metavar="FILE", help="SQLite file (default: bridge.sqlite3 in the state dir)")
    serve.add_argument("--store", metavar="SPEC", help="sqlite:PATH or redis://HOST:PORT/DB (bridge.store)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (share a Redis store, or SQLite on this host)",
    )
    serve.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-* (behind Caddy/nginx)"
    )
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1", metavar="IPS")

    sandbox = commands.group("sandbox", "a local stand-in for Spotify (tests and the demo)")
    sserve = sandbox.add(
        "serve",
        "serve the sandbox on loopback",
        run_sandbox,
        description="Serve Spotify's accounts service and Web API subset on loopback, with test controls "
        "under /sandbox/.",
    )
    sserve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else only when named)",
    )
    sserve.add_argument("--port", type=port, default=8765)
    sserve.add_argument(
        "--allow-client",
        action="append",
        metavar="ID",
        help="client id allowed the device flow (repeatable; default maestro-sandbox)",
    )
    sserve.add_argument(
        "--redirect-uri",
        action="append",
        metavar="URI",
        help="registered redirect URI (repeatable; default http://127.0.0.1:8766/callback)",
    )
    sserve.add_argument("--token-ttl", type=int, default=3600, metavar="SECONDS")
    sserve.add_argument(
        "--poll-interval", type=int, default=5, metavar="SECONDS", help="device-flow interval (Spotify: 5)"
    )

    web = commands.group("web", "the box's web app and JSON API (served by `maestro run`)")
    token = web.add(
        "token",
        "a new token for the JSON API, printed once",
        run_web_token,
        description="Print a new token for scripts: send it as 'Authorization: Bearer TOKEN' to the web "
        "app's /api/... Only its digest is kept (web.json in the state directory).",
    )
    token.add_argument("--label", default="", help="what the token is for (kept beside it)")
    token.add_argument("--revoke-all", action="store_true", help="forget every token instead")
    web.add("sign-out", "forget every paired browser (each pairs again with a code)", run_web_sign_out)


def run_web_token(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.web.access import Access

    access = Access(config.state_dir())
    if args.revoke_all:
        count = access.revoke_tokens()
        print(f"Forgot {count} token{'s' if count != 1 else ''}.")
        return 0
    print(access.new_token(args.label))
    return 0


def run_web_sign_out(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.web.access import Access

    count = Access(config.state_dir()).sign_out_browsers()
    print(f"Signed out {count} browser{'s' if count != 1 else ''}.")
    return 0


def check_free(host: str, number: int, what: str) -> None:
    """Refuses, before any banner, a port another program already listens on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, number))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"Port {number} on {host} is in use (another {what} already running?): stop "
                    "it, or choose another with --port."
                ) from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise UsageError(f"{host} is not an address of this machine (--host).") from None
            if exc.errno == errno.EACCES:
                raise UsageError(f"Port {number} needs root; use a port above 1023 (--port).") from None
            raise UsageError(f"Cannot listen on {host}:{number} ({exc.strerror}).") from None


def run_bridge(args: argparse.Namespace) -> int:
    import json
    import logging
    import os

    import uvicorn

    from maestro import config
    from maestro.bridge.server import SERVE_ENV, build_app, form_secret, uvicorn_options

    store = args.store or (f"sqlite:{args.db}" if args.db else "")
    settings = config.load()
    # A server's journal says what it does: each pairing's outcome and a count every 10 minutes
    # (never a code or a token), even without --verbose.
    logging.getLogger("maestro.bridge").setLevel(min(logging.INFO, logging.getLogger().level))
    check_free(args.host, args.port, "bridge")
    _, made = form_secret(settings.bridge)  # made once here, before any worker reads it
    if made:
        print(made, file=sys.stderr, flush=True)
    # built here too when workers build their own: bad settings are named before any worker starts
    app, base_url, redirect_uri = build_app(settings, args.host, args.port, store)
    workers = f"{args.workers} workers" if args.workers > 1 else "one process"
    print(
        f"Maestro bridge on {base_url} ({settings.bridge.mode} mode, {app.state.bridge.store_name} store, "
        f"{workers}); register this redirect URI with Spotify:"
    )
    print(f"  {redirect_uri}")
    print(f"Boxes pair with: maestro pair --bridge {base_url}", flush=True)
    public = urlsplit(settings.bridge.base_url) if settings.bridge.base_url else None
    if public and public.port and public.port != args.port and not args.proxy_headers:
        print(
            f"maestro: warning: bridge.base_url says port {public.port} but the bridge listens on "
            f"{args.port}; fine behind a proxy that forwards one to the other, else the links will not work.",
            file=sys.stderr,
            flush=True,
        )
    options = uvicorn_options(
        host=args.host,
        port=args.port,
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
    )
    if args.workers > 1:
        # each worker builds its own app (and store connection) from the same settings
        os.environ[SERVE_ENV] = json.dumps({"host": args.host, "port": args.port, "store": store})
        uvicorn.run(
            "maestro.bridge.server:app_from_environment", factory=True, workers=args.workers, **options
        )
    else:
        uvicorn.run(app, **options)
    return 0


def run_sandbox(args: argparse.Namespace) -> int:
    import uvicorn

    from maestro.sandbox.app import create_app
    from maestro.sandbox.state import DEFAULT_CLIENTS, DEFAULT_REDIRECT_URIS

    if args.token_ttl < 1 or args.poll_interval < 1:
        raise UsageError("--token-ttl and --poll-interval must be at least 1 second")
    check_free(args.host, args.port, "sandbox")
    clients = tuple(args.allow_client or DEFAULT_CLIENTS)
    app = create_app(
        allowed_clients=clients,
        redirect_uris=tuple(args.redirect_uri or DEFAULT_REDIRECT_URIS),
        token_ttl=args.token_ttl,
        poll_interval=args.poll_interval,
    )
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"Spotify sandbox on http://{host}:{args.port} (allowlisted clients: {', '.join(clients)})")
    print(f"  accounts: http://{host}:{args.port}   web api: http://{host}:{args.port}/v1")
    sys.stdout.flush()
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
