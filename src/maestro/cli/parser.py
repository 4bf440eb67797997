"""argparse as people meet it: the commands when none is given, "did you mean" for a typo, and an
unknown option named with its own command's usage."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

Handler = Callable[[argparse.Namespace], int]


class MaestroParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """argparse's error, with the closest command or option when one was mistyped."""
        hint = self._did_you_mean(message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")

    def _did_you_mean(self, message: str) -> str:
        if "invalid choice: " in message:
            wrong = message.split("invalid choice: ")[1].split(" (choose")[0].strip("'")
            choices = [c for action in self._actions if action.choices for c in action.choices]
            close = difflib.get_close_matches(wrong, [str(c) for c in choices], n=1)
            return f" (did you mean {close[0]}?)" if close else ""
        if message.startswith("unrecognized arguments: "):
            options = [o for action in self._actions for o in action.option_strings]
            close = [difflib.get_close_matches(w, options, n=1) for w in message.split(": ", 1)[1].split()]
            return f" (did you mean {close[0][0]}?)" if close and close[0] else ""
        return ""

    def parse_command(self, argv: Sequence[str] | None = None) -> argparse.Namespace:
        """Parses; no command at all prints the commands. An option the command does not know is
        reported by that command's own parser (argparse left it to the top level's usage)."""
        argv = list(sys.argv[1:] if argv is None else argv)
        if not [a for a in argv if not a.startswith("-")] and not {"-h", "--help", "--version"} & set(argv):
            self.print_help(sys.stderr)
            self.exit(2)
        args, extras = self.parse_known_args(argv)
        if extras:
            getattr(args, "parser", self).error(f"unrecognized arguments: {' '.join(extras)}")
        return args


class Commands:
    """Where each group adds its commands: ``commands.add(name, help, handler)`` returns the
    command's own parser, for its arguments. ``group(name, help)`` makes ``maestro NAME COMMAND``."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._sub = parser.add_subparsers(
            dest="command", metavar="COMMAND", required=True, parser_class=MaestroParser
        )

    def add(self, name: str, help_text: str, handler: Handler, **options: Any) -> argparse.ArgumentParser:
        command = self._sub.add_parser(
            name, help=help_text, description=options.pop("description", help_text), **options
        )
        command.set_defaults(handler=handler, parser=command)
        return command

    def group(self, name: str, help_text: str) -> Commands:
        parent = self._sub.add_parser(name, help=help_text, description=help_text)
        nested = Commands.__new__(Commands)
        nested._sub = parent.add_subparsers(
            dest=f"{name}_command", metavar="COMMAND", required=True, parser_class=MaestroParser
        )
        return nested


def port(text: str) -> int:
    """A TCP port, 1-65535 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (1-65535)")
    return value
