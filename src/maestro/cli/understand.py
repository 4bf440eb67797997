"""Understanding without doing: ``maestro parse`` (text) and ``maestro listen`` (sound files)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from maestro.cli.common import print_json
from maestro.cli.parser import Commands
from maestro.errors import UsageError
from maestro.intents.library import library_for

if TYPE_CHECKING:
    from maestro.intents import IntentSpec, Recognition
    from maestro.intents.learned import Learner


def register(commands: Commands) -> None:
    parse = commands.add(
        "parse",
        "understand a sentence without doing anything: prints the intent, its slots and the score "
        "(one line per sentence; --json: one JSON object per line)",
        run_parse,
    )
    parse.add_argument("text", nargs="+", help="the utterance, or - to read one per line from stdin")
    parse.add_argument(
        "--library",
        metavar="FILE",
        help="names to resolve (JSON/YAML, like examples/library.json; "
        "default: the names `say` and `run` last fetched from your Spotify library)",
    )
    parse.add_argument(
        "--intents", metavar="FILE", help="intents.yaml to use (default: yours, else the built-in)"
    )
    parse.add_argument(
        "--json",
        action="store_true",
        help='one object per line: {"text", "intent", "slots", "score"} (--explain adds "parser", "why")',
    )
    parse.add_argument(
        "--explain",
        action="store_true",
        help="say which parser answered (the templates, or the parser learned from them) and why",
    )

    listen = commands.add("listen", "wake phrase + speech recognition + parse, on sound files", run_listen)
    listen.add_argument(
        "--wav",
        metavar="FILE",
        required=True,
        nargs="+",
        help="any rate, channels, integer or float samples; several files: one result each, in order",
    )
    listen.add_argument("--no-wake", action="store_true", help="the file starts with the command")
    listen.add_argument(
        "--library", metavar="FILE", help="names to hear (default: your Spotify library cache)"
    )
    listen.add_argument("--intents", metavar="FILE", help="intents.yaml to use")
    listen.add_argument(
        "--json", action="store_true", help='{"transcript", "wake", "intent", "slots", "score", "latency_ms"}'
    )


def run_parse(args: argparse.Namespace) -> int:
    from maestro.intents import Matcher

    from_stdin = args.text == ["-"]
    if not from_stdin and not " ".join(args.text).strip():
        raise UsageError('Nothing to parse: maestro parse TEXT, for example: maestro parse "turn it up"')
    spec = intents_for(args.intents)
    matcher = Matcher(spec, library_for(args.library), learner_for(spec))
    texts = sys.stdin if from_stdin else [" ".join(args.text)]
    for line in texts:
        text = line.rstrip("\n")
        if from_stdin and not text.strip():
            continue
        recognition = matcher.match(text)
        if args.json:
            body = recognition.to_json()
            if args.explain:  # beyond the contract's four keys only when asked
                body["parser"] = recognition.parser
                body["why"] = explanation(recognition)
            print_json(body)
            continue
        said = f"{text!r} -> " if from_stdin else ""  # many sentences: each answer says which
        if recognition.intent is None:
            print(f"{said}(no intent)  score {recognition.score:.2f}", flush=True)
        else:
            slots = " ".join(
                f"{k}={v.get('name') if isinstance(v, dict) else v}"
                for k, v in recognition.slots_json().items()
            )
            score = f"(score {recognition.score:.2f})"
            print(said + " ".join(filter(None, [recognition.intent, slots, score])), flush=True)
        if args.explain:
            print("  " + explanation(recognition), flush=True)
    return 0


def intents_for(path: str | None) -> IntentSpec:
    """The intents (``--intents``, else the user's or the shipped ``intents.yaml``) with the user's
    own phrasings, as the daemon uses them; phrasings that do not fit are said and left out."""
    from maestro import config
    from maestro.intents.personal import PersonalPhrasings
    from maestro.intents.spec import active_intents_path

    personal = PersonalPhrasings(Path(path) if path else active_intents_path(), config.state_dir())
    if personal.problem:
        print(f"maestro: warning: {personal.problem}", file=sys.stderr)
    return personal.spec


def learner_for(spec: IntentSpec) -> Learner:
    """The learned parser, trained the first time the templates cannot answer and cached in the
    state directory (the daemon's and `say`'s cache: one model for one grammar and library)."""
    from maestro import config
    from maestro.intents.learned import Learner

    return Learner(spec, config.state_dir() / "learned")


def explanation(recognition: Recognition) -> str:
    """Which parser answered, and why, in one line."""
    why = recognition.reasons
    learned = f"the learned parser read {why['label']!r} at {why['confidence']:.0%}" if why else ""
    if why.get("runner_up"):
        learned += f" (next: {why['runner_up']['label']!r} at {why['runner_up']['confidence']:.0%})"
    if recognition.parser == "learned" and recognition.intent is not None:
        return f"learned parser: no template fits; {learned}"
    if recognition.parser == "learned":
        return f"learned parser: only a free-text reading fitted, and {learned}: no request for music"
    if recognition.intent is not None:
        return f"templates: {recognition.template!r} at {recognition.score:.0%}"
    if why:
        return f"no template fits; {learned}, not taken: {why.get('refused', 'the free-text reading stands')}"
    return "no template fits"


def run_listen(args: argparse.Namespace) -> int:
    """Each file heard as if it came from the microphone, by one engine loaded once (so many
    files cost one model load); one line per file, in order. A file that cannot be read is said
    and the rest are heard. Exit 2 when a file could not be read, else 1 when any gave no intent."""
    from maestro import config
    from maestro.intents import Matcher
    from maestro.voice.audio import read_wav
    from maestro.voice.listener import hear_file
    from maestro.voice.pipeline import listener_for

    spec = intents_for(args.intents)
    library = library_for(args.library)
    matcher = Matcher(spec, library, learner_for(spec))
    loaded = listener_for(config.load(), spec, library, matcher, wake=not args.no_wake)
    understood, unreadable = True, False
    for path in args.wav:
        prefix = f"{path}: " if len(args.wav) > 1 else ""
        try:
            pcm = read_wav(Path(path))
        except UsageError as exc:
            unreadable = True
            if args.json:
                print_json(
                    {
                        "transcript": "",
                        "wake": None,
                        "intent": None,
                        "slots": {},
                        "score": 0.0,
                        "latency_ms": None,
                        "error": str(exc),
                    }
                )
            else:
                print(f"maestro: {exc}", file=sys.stderr, flush=True)
            continue
        result = hear_file(loaded.fresh(), pcm)  # each file its own recording; the models stay loaded
        understood = understood and result["intent"] is not None
        if args.json:
            print_json(result)
        elif result["wake"] is False:
            print(
                f"{prefix}(no wake phrase: say {loaded.engine.wake_phrase!r} first, or use --no-wake for a "
                "file that starts with the command)",
                flush=True,
            )
        elif not result["transcript"]:
            print(
                f"{prefix}({'heard no command' if args.no_wake else 'woke, but heard no command'})",
                flush=True,
            )
        else:
            slots = " ".join(
                f"{k}={v.get('name') if isinstance(v, dict) else v}" for k, v in result["slots"].items()
            )
            intent = result["intent"] or "(not understood)"
            print(f"{prefix}heard {result['transcript']!r} -> {intent} {slots}".rstrip(), flush=True)
    return 2 if unreadable else 0 if understood else 1
