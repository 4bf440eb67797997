"""Setting up and checking: ``maestro config init``, ``doctor``, ``models``, ``display``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from maestro.cli.parser import Commands
from maestro.errors import UsageError


def register(commands: Commands) -> None:
    configure = commands.group("config", "the config file")
    init = configure.add(
        "init", "write a commented config.toml (asks, or takes the flags below)", run_config_init
    )
    init.add_argument("--sandbox", action="store_true", help="use the built-in sandbox instead of Spotify")
    init.add_argument("--client-id", metavar="ID", help="your Spotify app's client id")
    init.add_argument("--bridge-url", metavar="URL", help="a Maestro bridge to sign in through")
    init.add_argument("--speaker", metavar="NAME", help="the Connect speaker to wake when none is playing")
    init.add_argument(
        "--display", choices=["ssd1306", "sh1106", "terminal", "png", "none"], help="the screen"
    )
    init.add_argument(
        "--reader", metavar="SPEC", help="the card reader (nfcpy:usb, evdev:/dev/input/eventN, none)"
    )
    init.add_argument("--force", action="store_true", help="replace an existing config.toml")

    doctor = commands.add(
        "doctor", "check audio, speech, display, NFC, config, sign-in; each with a fix", run_doctor
    )
    doctor.add_argument(
        "--json", action="store_true", help='a JSON list of {"name", "status", "detail", "fix"}'
    )

    models = commands.add("models", "speech models: list | get NAME", run_models)
    models.add_argument("action", choices=["list", "get"], nargs="?", default="list")
    models.add_argument("name", nargs="?", help="for get: a name from `maestro models list`")
    models.add_argument("--sha256", metavar="HEX", help="the checksum, for a model without a pinned one")

    display = commands.add(
        "display", "draw a screen with sample data: preview SCREEN [--png FILE] | list", run_display
    )
    display.add_argument("action", choices=["preview", "list"])
    display.add_argument("screen", nargs="?", help="pairing, now_playing, volume, ... (see: display list)")
    display.add_argument(
        "--png", type=Path, metavar="FILE", help="write a PNG (default: draw on the terminal)"
    )
    display.add_argument("--size", default="128x64", help="128x64 (default) or 128x32")
    display.add_argument("--scale", type=int, default=1, help="enlarge the PNG this many times")


def run_config_init(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.config_template import ConfigAnswers, render
    from maestro.fsutil import atomic_write_text

    path = config.config_path()
    if path.exists() and not args.force:
        raise UsageError(f"{path} already exists; maestro config init --force replaces it (or edit it).")
    answers = ConfigAnswers(
        sandbox=args.sandbox,
        client_id=args.client_id or "",
        bridge_url=args.bridge_url or "",
        speaker=args.speaker or "",
        display=args.display or "",
        reader=args.reader or "",
    )
    if sys.stdin.isatty() and not any((args.sandbox, args.client_id, args.bridge_url)):
        answers = ask(answers)
    text = render(answers)
    config.check_text(text, path)  # what is written loads as it is: no mistake of ours reaches the user
    atomic_write_text(path, text)
    print(f"Wrote {path}. Next: maestro doctor, then maestro pair.")
    return 0


def ask(answers: object) -> object:
    """The questions, for a person at a terminal; Enter keeps what is in brackets."""
    from dataclasses import replace

    def question(text: str, default: str = "") -> str:
        shown = f" [{default}]" if default else ""
        return input(f"{text}{shown}: ").strip() or default

    sandbox = (
        question("Try it with the built-in sandbox instead of Spotify? (y/n)", "n").lower().startswith("y")
    )
    if sandbox:
        return replace(answers, sandbox=True)  # type: ignore[type-var]
    bridge = question("A Maestro bridge to sign in through (empty: Spotify's own device flow)")
    client = question("Your Spotify app's client id" + (" (empty: the bridge's)" if bridge else ""))
    speaker = question("The speaker to wake when none is playing (empty: ask when needed)")
    display = question("Screen: ssd1306, sh1106, terminal, png or none", "none")
    reader = question("Card reader: nfcpy:usb, nfcpy:tty:S0:pn532, evdev:/dev/input/eventN or none", "none")
    return replace(
        answers,
        bridge_url=bridge,
        client_id=client,
        speaker=speaker,
        display=display,  # type: ignore[type-var]
        reader=reader,
    )


def run_doctor(args: argparse.Namespace) -> int:
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


def run_models(args: argparse.Namespace) -> int:
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


def run_display(args: argparse.Namespace) -> int:
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
    if not args.png:
        print("\n".join(to_blocks(image)))
        return 0
    if args.scale < 1:
        raise UsageError("--scale is a whole number, 1 or more")
    scaled = image.resize((image.width * args.scale, image.height * args.scale)) if args.scale > 1 else image
    try:
        scaled.save(args.png)
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise UsageError(f"{args.png}: cannot write the PNG ({reason})") from exc
    print(f"{args.png}: the {args.screen} screen, {image.width}x{image.height}")
    return 0
