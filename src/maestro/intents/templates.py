"""The template language: ``(a|b)`` alternatives, ``[x]`` optional, ``{slot}`` or
``{list:slot}`` a slot, ``<rule>`` a named rule; nested freely.

``parse_template("turn [the volume] (up|down)")`` gives a syntax tree of frozen
dataclasses; a mistake raises :class:`TemplateSyntaxError` with the 1-based
column. Literal words are normalised (``maestro.intents.normalize``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from maestro.intents.normalize import normalize

SPECIALS = "()[]{}<>|"
#: Template words that people and ASR drop freely: optional wherever they appear.
OPTIONAL_WORDS = frozenset({"the", "a", "an"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class TemplateSyntaxError(ValueError):
    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.message = message
        self.column = column


@dataclass(frozen=True)
class Word:
    text: str


@dataclass(frozen=True)
class Seq:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Alt:
    options: tuple[Node, ...]


@dataclass(frozen=True)
class Opt:
    item: Node


@dataclass(frozen=True)
class Slot:
    #: The slot definition it draws from (``{known_album:album}`` -> ``known_album``).
    source: str
    #: The name the value is reported under (``album``).
    name: str


@dataclass(frozen=True)
class RuleRef:
    name: str


Node = Word | Seq | Alt | Opt | Slot | RuleRef


@dataclass(frozen=True)
class Token:
    kind: str  # "word" or one of SPECIALS
    text: str
    column: int


def tokenize(template: str) -> Iterator[Token]:
    i = 0
    while i < len(template):
        ch = template[i]
        if ch.isspace():
            i += 1
        elif ch in SPECIALS:
            yield Token(ch, ch, i + 1)
            i += 1
        else:
            start = i
            while i < len(template) and not template[i].isspace() and template[i] not in SPECIALS:
                i += 1
            yield Token("word", template[start:i], start + 1)


class _Parser:
    def __init__(self, template: str) -> None:
        self.template = template
        self.tokens = list(tokenize(template))
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def end_column(self) -> int:
        return len(self.template) + 1

    def parse(self) -> Node:
        if not self.tokens:
            raise TemplateSyntaxError("empty template", 1)
        node = self.alternatives(closer=None, opened_at=0)
        token = self.peek()
        if token is not None:
            raise TemplateSyntaxError(f"unexpected {token.text!r}", token.column)
        return node

    def alternatives(self, closer: str | None, opened_at: int) -> Node:
        options = [self.sequence(closer, opened_at)]
        while (token := self.peek()) is not None and token.kind == "|":
            self.take()
            options.append(self.sequence(closer, opened_at, after_bar=token.column))
        return options[0] if len(options) == 1 else Alt(tuple(options))

    def sequence(self, closer: str | None, opened_at: int, after_bar: int | None = None) -> Node:
        items: list[Node] = []
        start = self.peek()
        while (token := self.peek()) is not None and token.kind not in ("|", ")", "]"):
            items.extend(self.item())
        if not items:
            column = after_bar if after_bar is not None else (start.column if start else self.end_column())
            raise TemplateSyntaxError("empty alternative", column)
        return items[0] if len(items) == 1 else Seq(tuple(items))

    def item(self) -> list[Node]:
        token = self.take()
        if token.kind == "word":
            # One written word may be several spoken ones ("what's" -> "what is").
            words = normalize(token.text).split()
            if not words:
                raise TemplateSyntaxError(f"{token.text!r} has no letters or digits", token.column)
            return [Word(w) for w in words]
        if token.kind in "([":
            closer = ")" if token.kind == "(" else "]"
            inner = self.alternatives(closer, token.column)
            end = self.peek()
            if end is None or end.kind != closer:
                where = end.column if end else self.end_column()
                raise TemplateSyntaxError(
                    f"{token.kind!r} opened at column {token.column} is not closed", where
                )
            self.take()
            return [inner if token.kind == "(" else Opt(inner)]
        if token.kind in "{<":
            return [self.reference(token)]
        raise TemplateSyntaxError(f"unexpected {token.text!r}", token.column)

    def reference(self, opener: Token) -> Node:
        closer = "}" if opener.kind == "{" else ">"
        parts: list[Token] = []
        while (token := self.peek()) is not None and token.kind != closer:
            if token.kind != "word":
                raise TemplateSyntaxError(
                    f"unexpected {token.text!r} inside {opener.text}...{closer}", token.column
                )
            parts.append(self.take())
        if self.peek() is None:
            raise TemplateSyntaxError(f"{opener.text!r} is not closed", opener.column)
        self.take()
        text = " ".join(p.text for p in parts)
        if opener.kind == "<":
            if not _NAME.match(text):
                raise TemplateSyntaxError(f"bad rule name {text!r}", opener.column + 1)
            return RuleRef(text)
        source, _, name = text.partition(":")
        name = name or source
        if not _NAME.match(source) or not _NAME.match(name):
            raise TemplateSyntaxError(f"bad slot name {text!r}", opener.column + 1)
        return Slot(source, name)


def parse_template(template: str) -> Node:
    return _Parser(template).parse()


def references(node: Node) -> Iterator[Slot | RuleRef]:
    """Every slot and rule reference in the tree, depth first."""
    if isinstance(node, Slot | RuleRef):
        yield node
    elif isinstance(node, Seq):
        for item in node.items:
            yield from references(item)
    elif isinstance(node, Alt):
        for option in node.options:
            yield from references(option)
    elif isinstance(node, Opt):
        yield from references(node.item)


def literal_words(node: Node) -> int:
    """Words that every match of ``node`` must contain: a measure of specificity."""
    if isinstance(node, Word):
        return 1
    if isinstance(node, Seq):
        return sum(literal_words(item) for item in node.items)
    if isinstance(node, Alt):
        return min(literal_words(option) for option in node.options)
    return 0
