"""The ``maestro`` command line (a contract: see docs/architecture.md).

Exit codes: 0 ok, 1 a failure the message explains, 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from maestro import __version__
from maestro.errors import MaestroError, UsageError

Command = Callable[[argparse.Namespace], int]

if TYPE_CHECKING:
    from maestro.intents.library import LibraryProvider


def library_for(path: str | None) -> LibraryProvider:
    """``--library FILE``; else the names Maestro last fetched from Spotify (the state dir's
    ``library.json``, the cache `say` and `run` keep); else none. One reader for both formats."""
    from maestro import config
    from maestro.intents import StaticLibrary
    from maestro.intents.library import EmptyLibrary

    if path:
        return StaticLibrary.from_file(Path(path))
    cache = config.state_dir() / "library.json"
    return StaticLibrary.from_file(cache) if cache.exists() else EmptyLibrary()


def cmd_parse(args: argparse.Namespace) -> int:
    import json

    from maestro.intents import Matcher, load_spec

    matcher = Matcher(load_spec(args.intents), library_for(args.library))
    texts = sys.stdin if args.text == ["-"] else [" ".join(args.text)]
    for line in texts:
        text = line.rstrip("\n")
        if args.text == ["-"] and not text.strip():
            continue
        recognition = matcher.match(text)
        if args.json:
            print(json.dumps(recognition.to_json(), ensure_ascii=False), flush=True)
        elif recognition.intent is None:
            print(f"(no intent)  score {recognition.score:.2f}")
        else:
            slots = " ".join(
                f"{k}={v.get('name') if isinstance(v, dict) else v}"
                for k, v in recognition.slots_json().items()
            )
            print(" ".join(filter(None, [recognition.intent, slots, f"(score {recognition.score:.2f})"])))
    return 0


def cmd_say(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from maestro.session import Session

    text = " ".join(args.text).strip()
    if not text:
        raise UsageError('Nothing to say: maestro say TEXT, for example: maestro say "pause"')

    async def run() -> int:
        async with Session.open() as session:
            recognition, reply = await session.handle(text)
        if args.json:
            print(json.dumps({**recognition.to_json(), "reply": reply.to_json()}, ensure_ascii=False))
        else:
            print(reply.speech)
        return reply.exit_code

    return asyncio.run(run())


def cmd_listen(args: argparse.Namespace) -> int:
    """Each file heard as if it came from the microphone, by one engine loaded once (so many
    files cost one model load); one line per file, in order. Exit 1 when any gave no intent."""
    import json

    from maestro import config
    from maestro.intents import Matcher, load_spec
    from maestro.voice.audio import read_wav
    from maestro.voice.listener import hear_file
    from maestro.voice.pipeline import listener_for

    spec = load_spec(args.intents)
    library = library_for(args.library)
    loaded = listener_for(config.load(), spec, library, Matcher(spec, library), wake=not args.no_wake)
    engine = loaded.engine
    understood = True
    for path in args.wav:
        listener = loaded.fresh()  # each file its own recording; the models stay loaded
        result = hear_file(listener, read_wav(Path(path)))
        understood = understood and result["intent"] is not None
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
            continue
        prefix = f"{path}: " if len(args.wav) > 1 else ""
        if result["wake"] is False:
            print(f"{prefix}(no wake phrase: say {engine.wake_phrase!r} first, or use --no-wake for a file "
                  "that starts with the command)")  # fmt: skip
        elif not result["transcript"]:
            print(f"{prefix}(woke, but heard no command)")
        else:
            slots = " ".join(
                f"{k}={v.get('name') if isinstance(v, dict) else v}" for k, v in result["slots"].items()
            )
            intent = result["intent"] or "(not understood)"
            print(f"{prefix}heard {result['transcript']!r} -> {intent} {slots}".rstrip(), flush=True)
    return 0 if understood else 1


def cmd_models(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.voice import models

    directory = config.models_dir()
    if args.action == "get":
        if not args.name:
            raise UsageError("usage: maestro models get NAME (see maestro models list)")
        path = models.get(args.name, directory, sha256=args.sha256)
        engines = "auto or whisper" if args.name.startswith("whisper") else "auto or vosk"
        print(f"Installed {args.name} in {path}. Maestro uses it when voice.engine is {engines}.")
        return 0
    from maestro.voice.whisper import find_model

    have = models.installed(directory)
    whisper = find_model(config.load().voice.whisper_model, directory)
    if whisper is not None:
        have.setdefault("whisper-tiny-en", whisper)  # in the package, or the repository's models/
    print("pocketsphinx-en-us  installed (inside the pocketsphinx package)  the default, no download")
    for info in models.CATALOG.values():
        state = f"installed in {have[info.name]}" if info.name in have else "not installed"
        print(f"{info.name:<19} {state}  {info.about}")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    import asyncio

    from maestro.session import Session

    async def run() -> int:
        async with Session.open() as session:
            devices = await session.player.devices()
        if not devices:
            print("No Spotify Connect devices are visible. Open Spotify on a speaker to wake it.")
        for device in devices:
            volume = f"{device.volume_percent}%" if device.supports_volume else "fixed volume"
            active = "*" if device.is_active else " "
            print(f"{active} {device.name:<20} {device.type:<10} {volume:<13} {device.id}")
        return 0

    return asyncio.run(run())


def cmd_pair(args: argparse.Namespace) -> int:
    import asyncio

    from maestro.display.devices import command_display
    from maestro.session import Session
    from maestro.voice.tts import speaker_for

    def say_line(line: str) -> None:
        print(line, flush=True)

    async def run() -> int:
        async with Session.open() as session:
            if session.tokens.tokens is not None and not args.yes:
                account = await session.account_name()
                question = f"Maestro is already signed in to Spotify{f' as {account}' if account else ''}."
                if not sys.stdin.isatty():
                    raise UsageError(f"{question} To sign in again: maestro pair --yes (or logout first).")
                answer = input(f"{question} Sign in again, replacing it? [y/N] ").strip().lower()
                if answer not in ("y", "yes"):
                    print("Kept the sign-in.")
                    return 0
            speaker = speaker_for(session.settings.tts, say_line)
            display = command_display(session.settings.display, terminal=sys.stderr.isatty())
            try:
                name = await session.pair(
                    speaker, display, bridge_url=args.bridge or "", print_line=say_line, repeat_s=args.repeat
                )
            finally:
                await display.aclose()
                await speaker.aclose()
        print(f"Paired: Maestro is connected to Spotify as {name}.")
        return 0

    return asyncio.run(run())


def cmd_logout(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.auth.tokens import TokenStore

    path = config.state_dir() / "tokens.json"
    if not path.exists():
        forget_account(config.state_dir())
        print("Maestro is not signed in to Spotify.")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError("logout needs confirmation: run it in a terminal, or add --yes")
        answer = input("Forget the Spotify sign-in on this box? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("Kept the sign-in.")
            return 0
    TokenStore(path).clear()
    forget_account(config.state_dir())
    print("Signed out: the Spotify tokens, your library's names and the player memory are deleted "
          "(card mappings in tags.yaml stay). Run maestro pair to sign in again.")  # fmt: skip
    return 0


def forget_account(state_dir: Path) -> None:
    """What Maestro learnt from the account: library names (also inside the voice model), the
    player memory (last speaker, volume before mute), the last unknown card."""
    names = ["library.json", "player.json", "last-unknown-card.json"]
    for path in [*(state_dir / name for name in names), *(state_dir / "speech").glob("commands-*")]:
        path.unlink(missing_ok=True)


def cmd_bridge_serve(args: argparse.Namespace) -> int:
    import json
    import os

    import uvicorn

    from maestro import config
    from maestro.bridge.server import SERVE_ENV, build_app, form_secret, uvicorn_options

    store = args.store or (f"sqlite:{args.db}" if args.db else "")
    settings = config.load()
    _, made = form_secret(settings.bridge)  # made once here, before any worker reads it
    if made:
        print(made, file=sys.stderr, flush=True)
    # built here too when workers build their own: bad settings are named before any worker starts
    app, base_url, redirect_uri = build_app(settings, args.host, args.port, store)
    workers = f"{args.workers} workers" if args.workers > 1 else "one process"
    print(f"Maestro bridge on {base_url} ({settings.bridge.mode} mode, {app.state.bridge.store_name} store, "
          f"{workers}); register this redirect URI with Spotify:")  # fmt: skip
    print(f"  {redirect_uri}")
    print(f"Boxes pair with: maestro pair --bridge {base_url}", flush=True)
    options = uvicorn_options(host=args.host, port=args.port, proxy_headers=args.proxy_headers,
                              forwarded_allow_ips=args.forwarded_allow_ips)  # fmt: skip
    if args.workers > 1:
        # each worker builds its own app (and store connection) from the same settings
        os.environ[SERVE_ENV] = json.dumps({"host": args.host, "port": args.port, "store": store})
        uvicorn.run(
            "maestro.bridge.server:app_from_environment", factory=True, workers=args.workers, **options
        )
    else:
        uvicorn.run(app, **options)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from maestro import config
    from maestro.app import Runtime, default_voice
    from maestro.display.devices import make_display
    from maestro.nfc.cards import Cards
    from maestro.nfc.readers import make_reader
    from maestro.nfc.tags import TagStore
    from maestro.session import Session
    from maestro.voice.tts import make_speaker

    async def run() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        async with Session.open(lasting=True) as session:
            settings = session.settings
            reader = make_reader(settings.nfc.reader)
            cards = Cards(
                TagStore(config.config_dir() / "tags.yaml"),
                second_tap=settings.nfc.second_tap,
                window_s=settings.nfc.second_tap_window_s,
            )
            display = make_display(settings.display)
            tts = settings.tts
            speaker = make_speaker(tts.engine, voice=tts.voice, rate=tts.rate, wav_dir=tts.wav_dir)
            inputs = [name for name, on in (("voice", settings.voice.enabled), ("NFC cards", reader)) if on]
            print(f"Maestro is running: {' and '.join(inputs) or 'no inputs (maestro say still works)'}.",
                  flush=True)  # fmt: skip
            runtime = Runtime(
                session, speaker, display,
                voice=default_voice if settings.voice.enabled else None, reader=reader, cards=cards,
                poll_s=settings.player.poll_s, print_line=lambda line: print(line, flush=True),
            )  # fmt: skip
            try:
                await runtime.run(stop)
            finally:
                await display.aclose()
                await speaker.aclose()
        print("Maestro stopped.", flush=True)
        return 0

    return asyncio.run(run())


def cmd_tags(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.nfc.tags import TagStore

    store = TagStore(config.config_dir() / "tags.yaml")
    if store.problem:
        raise UsageError(store.problem)
    action, rest = (args.action[0], args.action[1:]) if args.action else ("list", [])
    if action == "list" and not rest:
        if not store.mapping:
            print(f"No cards yet ({store.path}). Add one: maestro tags add UID spotify:album:...")
        for uid, value in sorted(store.mapping.items()):
            print(f"{uid}  {value}")
        return 0
    if action == "add" and len(rest) >= 2:
        from maestro.intents import Matcher, load_spec
        from maestro.nfc.learn import check_action

        checked = check_action(" ".join(rest[1:]), Matcher(load_spec(), library_for(None)))
        uid = store.add(rest[0], checked)
        print(f"Card {uid} now does {checked.describe()} (saved in {store.path}).")
        return 0
    if action == "remove" and len(rest) == 1:
        if not store.remove(rest[0]):
            raise UsageError(f"No card {rest[0]} in {store.path}.")
        print(f"Card {rest[0]} removed.")
        return 0
    if action == "learn":
        import asyncio

        from maestro.intents import Matcher, load_spec
        from maestro.nfc.learn import hear_action, learn
        from maestro.nfc.readers import make_reader

        settings = config.load()
        matcher = Matcher(load_spec(), library_for(None))  # so "play abbey road" is checked against names

        def hear() -> str:
            return asyncio.run(hear_action(settings, matcher, config.state_dir()))

        uid, learned = learn(
            make_reader(settings.nfc.reader), store, matcher, config.state_dir(),
            action_text=" ".join(rest) or None, write=args.write, timeout_s=args.timeout,
            hear=hear if args.say else None,
        )  # fmt: skip
        print(f"Card {uid} now does {learned.describe()} (saved in {store.path}).")
        return 0
    raise UsageError("usage: maestro tags list | add UID ACTION | remove UID | learn [ACTION] [--write]")


def cmd_doctor(args: argparse.Namespace) -> int:
    import asyncio
    import json

    from maestro.doctor import run_checks, summary

    checks = asyncio.run(run_checks())
    if args.json:
        print(json.dumps([check.to_json() for check in checks], ensure_ascii=False))
    else:
        for check in checks:
            print(check.line())
        print(f"\n{summary(checks)}")
    return 1 if any(check.status == "fail" for check in checks) else 0


def cmd_display(args: argparse.Namespace) -> int:
    from maestro.display.devices import to_blocks
    from maestro.display.screens import SAMPLE_TIME, SAMPLES, render

    if args.action == "list" or not args.screen:
        print("Screens: " + ", ".join(SAMPLES))
        return 0
    if args.screen not in SAMPLES:
        raise UsageError(f"No screen {args.screen!r}. Screens: {', '.join(SAMPLES)}")
    width, _, height = args.size.partition("x")
    if (width, height) not in (("128", "64"), ("128", "32")):
        raise UsageError("--size is 128x64 or 128x32")
    image = render(SAMPLES[args.screen], (128, int(height)), now=SAMPLE_TIME)
    if args.png:
        if args.scale < 1:
            raise UsageError("--scale is a whole number, 1 or more")
        scaled = (
            image.resize((image.width * args.scale, image.height * args.scale)) if args.scale > 1 else image
        )
        try:
            scaled.save(args.png)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UsageError(f"{args.png}: cannot write the PNG ({reason})") from exc
        print(f"{args.png}: the {args.screen} screen, {image.width}x{image.height}")
    else:
        print("\n".join(to_blocks(image)))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import asyncio

    from maestro.demo import run_demo

    return asyncio.run(run_demo(no_audio=args.no_audio, out_dir=args.out, mic=args.mic))


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from maestro.sandbox.app import create_app
    from maestro.sandbox.state import DEFAULT_CLIENTS, DEFAULT_REDIRECT_URIS

    if args.token_ttl < 1 or args.poll_interval < 1:
        raise UsageError("--token-ttl and --poll-interval must be at least 1 second")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maestro",
        description="Offline voice (and NFC) remote for Spotify Connect.",
    )
    parser.add_argument("--version", action="version", version=f"maestro {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, help_text: str, handler: Command) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    demo = add("demo", "sandbox + pairing + a short voice and card session, no account needed", cmd_demo)
    demo.add_argument("--mic", action="store_true", help="listen to the microphone instead of the script")
    demo.add_argument("--no-audio", action="store_true", help="write spoken replies to WAV files instead")
    demo.add_argument("--out", type=Path, metavar="DIR", help="where --no-audio writes (default: a temp dir)")
    add("run", "the daemon: voice, NFC cards and the display; signs in when needed", cmd_run)
    pair = add("pair", "device-flow sign-in; speaks and shows the code", cmd_pair)
    pair.add_argument("--bridge", metavar="URL", help="use a Maestro bridge's endpoints (RFC 8414 metadata)")
    pair.add_argument(
        "--repeat", type=float, default=30.0, metavar="SECONDS", help="say the code again this often"
    )
    pair.add_argument("--yes", action="store_true", help="already signed in: sign in again without asking")
    logout = add("logout", "forget the Spotify sign-in", cmd_logout)
    logout.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    say = add(
        "say",
        "parse and carry out one command as if spoken",
        cmd_say,
    )
    say.add_argument("text", nargs="+")
    say.add_argument("--json", action="store_true", help="the parse and the reply as one JSON object")
    parse = add(
        "parse",
        "understand a sentence without doing anything: prints the intent, its slots and the score "
        "(one line per sentence; --json: one JSON object per line)",
        cmd_parse,
    )
    parse.add_argument("text", nargs="+", help="the utterance, or - to read one per line from stdin")
    parse.add_argument(
        "--library", metavar="FILE",
        help="names to resolve (JSON/YAML, like examples/library.json; "
        "default: the names `say` and `run` last fetched from your Spotify library)",
    )  # fmt: skip
    parse.add_argument(
        "--intents", metavar="FILE", help="intents.yaml to use (default: yours, else the built-in)"
    )
    parse.add_argument(
        "--json", action="store_true", help='one object per line: {"text", "intent", "slots", "score"}'
    )
    listen = add("listen", "wake phrase + speech recognition + parse, on WAV files", cmd_listen)
    listen.add_argument(
        "--wav", metavar="FILE", required=True, nargs="+",
        help="any rate, channels, integer or float samples; several files: one result each, in order",
    )  # fmt: skip
    listen.add_argument("--no-wake", action="store_true", help="the file starts with the command")
    listen.add_argument(
        "--library", metavar="FILE", help="names to hear (default: your Spotify library cache)"
    )
    listen.add_argument("--intents", metavar="FILE", help="intents.yaml to use")
    listen.add_argument(
        "--json", action="store_true",
        help='{"transcript", "wake", "intent", "slots", "score", "latency_ms"}',
    )  # fmt: skip
    add("devices", "list Spotify Connect devices", cmd_devices)
    tags = add("tags", "NFC cards: list | add UID ACTION | remove UID | learn", cmd_tags)
    tags.add_argument("action", nargs="*", help="list, add UID ACTION, remove UID, learn [ACTION]")
    tags.add_argument("--write", action="store_true", help="learn: also write the Spotify link onto the card")
    tags.add_argument("--say", action="store_true", help="learn: say what the card does instead of typing it")
    tags.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="learn: wait this long")
    models = add("models", "speech models: list | get NAME", cmd_models)
    models.add_argument("action", choices=["list", "get"], nargs="?", default="list")
    models.add_argument("name", nargs="?", help="for get: a name from `maestro models list`")
    models.add_argument("--sha256", metavar="HEX", help="the checksum, for a model without a pinned one")
    doctor = add("doctor", "check audio, speech, display, NFC, config, sign-in; each with a fix", cmd_doctor)
    doctor.add_argument(
        "--json", action="store_true", help='a JSON list of {"name", "status", "detail", "fix"}'
    )
    display = add(
        "display", "draw a screen with sample data: preview SCREEN [--png FILE] | list", cmd_display
    )
    display.add_argument("action", choices=["preview", "list"])
    display.add_argument("screen", nargs="?", help="pairing, now_playing, volume, ... (see: display list)")
    display.add_argument(
        "--png", type=Path, metavar="FILE", help="write a PNG (default: draw on the terminal)"
    )
    display.add_argument("--size", default="128x64", help="128x64 (default) or 128x32")
    display.add_argument("--scale", type=int, default=1, help="enlarge the PNG this many times")

    bridge = sub.add_parser("bridge", help="the device-flow bridge for non-allowlisted Spotify apps")
    bridge_sub = bridge.add_subparsers(dest="bridge_command", metavar="COMMAND", required=True)
    serve = bridge_sub.add_parser("serve", help="run the bridge")
    serve.set_defaults(handler=cmd_bridge_serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8766)
    serve.add_argument("--db", metavar="FILE", help="SQLite file (default: bridge.sqlite3 in the state dir)")
    serve.add_argument("--store", metavar="SPEC", help="sqlite:PATH or redis://HOST:PORT/DB (bridge.store)")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes (share a Redis store, or SQLite on this host)")  # fmt: skip
    serve.add_argument(
        "--proxy-headers", action="store_true", help="trust X-Forwarded-* (behind Caddy/nginx)"
    )
    serve.add_argument("--forwarded-allow-ips", default="127.0.0.1", metavar="IPS")

    sandbox = sub.add_parser("sandbox", help="a local stand-in for Spotify (tests and the demo)")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox_command", metavar="COMMAND", required=True)
    sserve = sandbox_sub.add_parser(
        "serve",
        help="serve the sandbox on loopback",
        description="Serve Spotify's accounts service and Web API "
        "subset on loopback, with test controls under /sandbox/.",
    )
    sserve.set_defaults(handler=cmd_sandbox_serve)
    sserve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; anything else only when named)",
    )
    sserve.add_argument("--port", type=int, default=8765)
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
    return parser


def config_warnings() -> list[str]:
    import os

    from maestro import config

    return config.unknown_variables(os.environ)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for warning in config_warnings():
        print(f"maestro: warning: {warning}", file=sys.stderr)
    try:
        return args.handler(args)
    except MaestroError as exc:
        print(f"maestro: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
