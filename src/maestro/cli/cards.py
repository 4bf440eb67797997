"""NFC cards: ``maestro tags list | add | remove | learn``."""

from __future__ import annotations

import argparse
from typing import Any

from maestro.cli.common import print_json
from maestro.cli.parser import Commands
from maestro.errors import UsageError
from maestro.intents.library import library_for

USAGE = "usage: maestro tags list | add UID ACTION | remove UID | learn [ACTION] [--write] [--say]"


def register(commands: Commands) -> None:
    tags = commands.add("tags", "NFC cards: list | add UID ACTION | remove UID | learn", run_tags)
    tags.add_argument("action", nargs="*", help="list, add UID ACTION, remove UID, learn [ACTION]")
    tags.add_argument("--json", action="store_true", help="list: a JSON list of cards")
    tags.add_argument("--write", action="store_true", help="learn: also write the Spotify link onto the card")
    tags.add_argument("--say", action="store_true", help="learn: say what the card does instead of typing it")
    tags.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS", help="learn: wait this long")


def run_tags(args: argparse.Namespace) -> int:
    from maestro import config
    from maestro.nfc.tags import TagStore

    store = TagStore(config.config_dir() / "tags.yaml")
    if store.problem:
        raise UsageError(store.problem)
    action, rest = (args.action[0], args.action[1:]) if args.action else ("list", [])
    if action == "list" and not rest:
        return list_cards(store, as_json=args.json)
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
        return learn_card(args, store, " ".join(rest))
    raise UsageError(USAGE)


def list_cards(store: Any, *, as_json: bool) -> int:
    """Each card with what it does in words (the album's name, not only its URI), UIDs aligned."""
    from maestro.intents import Matcher, load_spec

    library = library_for(None)
    matcher = Matcher(load_spec(), library)
    cards = [describe_card(uid, value, library, matcher) for uid, value in sorted(store.mapping.items())]
    if as_json:
        print_json(cards)
        return 0
    if not cards:
        print(f"No cards yet ({store.path}). Add one: maestro tags add UID spotify:album:...")
    for card in cards:
        problem = f"  ({card['problem']})" if card["problem"] else ""
        print(f"{card['uid']:<20}  {card['does']}{problem}")
    return 0


def describe_card(uid: str, value: str, library: Any, matcher: Any) -> dict[str, Any]:
    from maestro.intents.library import KINDS
    from maestro.nfc.learn import check_action
    from maestro.nfc.tags import TagError, action_for

    action = action_for(value)
    problem = None
    if action.uri:
        found = next((i for kind in KINDS for i in library.items(kind) if i.uri == action.uri), None)
        kind = action.uri.split(":")[1]
        by = f", by {found.artist}" if found is not None and found.artist else ""
        does = f"plays the {kind} {found.name}{by}" if found is not None else f"plays {action.uri}"
    else:
        does = f'runs "{action.command}"'
        try:
            check_action(value, matcher)
        except TagError:
            problem = "Maestro does not understand this command"
    return {
        "uid": uid,
        "action": value,
        "uri": action.uri,
        "command": action.command,
        "does": does,
        "problem": problem,
    }


def learn_card(args: argparse.Namespace, store: Any, action_text: str) -> int:
    import asyncio

    from maestro import config
    from maestro.intents import Matcher, load_spec
    from maestro.nfc.learn import hear_action, learn
    from maestro.nfc.readers import make_reader

    settings = config.load()
    matcher = Matcher(load_spec(), library_for(None))  # so "play abbey road" is checked against names

    def hear() -> str:
        return asyncio.run(hear_action(settings, matcher, config.state_dir(), timeout_s=args.timeout))

    uid, learned = learn(
        make_reader(settings.nfc.reader),
        store,
        matcher,
        config.state_dir(),
        action_text=action_text or None,
        write=args.write,
        timeout_s=args.timeout,
        hear=hear if args.say else None,
    )
    print(f"Card {uid} now does {learned.describe()} (saved in {store.path}).")
    return 0
