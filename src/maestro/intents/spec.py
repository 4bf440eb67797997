"""``intents.yaml``: the intents, their templates, slots, rules and replies.

:func:`load_spec` reads and checks the whole file up front. Every mistake (YAML
syntax, a broken template, an unknown slot type or reference, a duplicate
intent, a rule that refers to itself, an empty alternative) is an
:class:`IntentFileError` that names the file, line and column.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from maestro.errors import UsageError
from maestro.fsutil import BadFileError, read_text
from maestro.intents.library import KINDS
from maestro.intents.normalize import normalize
from maestro.intents.templates import (
    Alt,
    Node,
    RuleRef,
    Seq,
    Slot,
    TemplateSyntaxError,
    parse_template,
    references,
)

SLOT_TYPES = ("number", "enum", "library", "device", "text")
#: What actions fill into replies besides an intent's own slots (NowPlaying's track, ListDevices' list).
REPLY_NAMES = frozenset({"track", "artist", "album", "playlist", "device", "devices", "query"})
TOP_LEVEL = {
    "adjuncts",
    "language",
    "wake_phrase",
    "settings",
    "prefixes",
    "suffixes",
    "fillers",
    "slots",
    "rules",
    "intents",
}


class IntentFileError(UsageError):
    """A broken intents.yaml: the message starts with ``file:line:column:``."""


class _Located(str):
    """A YAML string that remembers where it was (1-based line and column)."""

    line: int
    column: int
    #: Column of the first character of the value (after an opening quote).
    text_column: int


class _Loader(yaml.SafeLoader):
    pass


def _construct_str(loader: _Loader, node: yaml.ScalarNode) -> _Located:
    value = _Located(loader.construct_scalar(node))
    value.line = node.start_mark.line + 1
    value.column = node.start_mark.column + 1
    value.text_column = value.column + (1 if node.style in ("'", '"') else 0)
    return value


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first defined above)", mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


# YAML 1.1 reads yes/no/on/off as booleans: wrong for a file of spoken words
# ("shuffle on", "yes"). Only true/false are booleans here.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_constructor("tag:yaml.org,2002:str", _construct_str)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class SlotDef:
    name: str
    type: str
    #: number: inclusive range, and unit words with their multipliers ("minutes": 60)
    min: int | None = None
    max: int | None = None
    units: dict[str, int] = field(default_factory=dict)
    #: enum: canonical value -> spoken synonyms (normalised)
    values: dict[str, list[str]] = field(default_factory=dict)
    #: library: which kind of item
    kind: str = ""
    #: library/device: only a name that resolves counts (else the raw text is kept)
    require_match: bool = False


@dataclass
class Template:
    intent: str
    text: str
    node: Node
    #: Slot values a template sets by itself ("stop shuffling" -> state: off).
    fixed: dict[str, Any]
    line: int
    #: Order in the file: the last tie-breaker, so matching is deterministic.
    order: int
    #: Wrapped in adjuncts ("... in the kitchen"): on a tie, a template that places the slot itself wins.
    wrapped: bool = False


@dataclass
class IntentDef:
    name: str
    reply: str
    templates: list[Template]
    #: In the grammar path's language model (``grammar: false``: heard by the neural pass alone).
    grammar: bool = True


@dataclass
class IntentSpec:
    source: str
    language: str
    wake_phrase: str
    threshold: float
    slots: dict[str, SlotDef]
    rules: dict[str, Node]
    intents: dict[str, IntentDef]
    prefixes: list[str]
    suffixes: list[str]
    fillers: list[str]
    #: The templates of the user's own phrasings (:mod:`maestro.intents.personal`), as written.
    own: frozenset[str] = frozenset()

    @property
    def templates(self) -> list[Template]:
        return [t for intent in self.intents.values() for t in intent.templates]

    def adopt(self, other: IntentSpec) -> None:
        """Becomes ``other`` in place: whoever holds this spec (the matcher, the actions, the voice
        model's builder) sees the user's new phrasings without being handed a new one."""
        for name in (f.name for f in fields(self)):
            setattr(self, name, getattr(other, name))

    def slot_types(self, intent: str) -> frozenset[str]:
        """The types of the slots an intent's templates can fill ("text", "library", "device"...),
        through the rules they use: what layers above ask instead of knowing intent names."""
        found: set[str] = set()
        seen: set[str] = set()
        todo: list[Node] = [t.node for t in self.intents[intent].templates] if intent in self.intents else []
        while todo:
            for ref in references(todo.pop()):
                if isinstance(ref, Slot):
                    found.add(self.slots[ref.source].type)
                elif ref.name not in seen and ref.name in self.rules:
                    seen.add(ref.name)
                    todo.append(self.rules[ref.name])
        return frozenset(found)


def default_intents_path() -> Path:
    """The repo's intents.yaml when running from a checkout, else the packaged copy."""
    checkout = Path(__file__).resolve().parents[3] / "intents.yaml"
    if checkout.is_file():
        return checkout
    return Path(str(resources.files("maestro.intents").joinpath("intents.yaml")))


def active_intents_path() -> Path:
    """The user's copy in the config dir when there is one, else the default."""
    from maestro.config import config_dir

    user_copy = config_dir() / "intents.yaml"
    return user_copy if user_copy.is_file() else default_intents_path()


def load_spec(path: Path | None = None) -> IntentSpec:
    path = Path(path) if path else active_intents_path()
    try:
        text = read_text(path)
    except FileNotFoundError as exc:
        raise IntentFileError(f"{path}: no such file") from exc
    except BadFileError as exc:
        raise IntentFileError(str(exc)) from exc
    return parse_spec(text, str(path))


def parse_spec(
    text: str, source: str = "intents.yaml", extra: Mapping[str, list[dict[str, Any]]] | None = None
) -> IntentSpec:
    """``extra``: more blocks of templates (``{"templates": [...], "slots": {...}}``) for some intents,
    as if written under their ``data:`` (the user's own phrasings; check them with
    :func:`check_blocks` first, so a mistake in them is named in their own file)."""
    data = read_yaml(text, source)
    if extra and isinstance(data, dict) and isinstance(data.get("intents"), dict):
        for name, blocks in extra.items():
            body = data["intents"].get(name)
            if isinstance(body, dict):
                body["data"] = [*(body.get("data") or []), *blocks]
    return _Builder(source).build(data)


def read_yaml(text: str, source: str) -> Any:
    """YAML as intents files are read (strings that know their line; no yes/no booleans)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise IntentFileError(f"{where}: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise IntentFileError(f"{source}: {exc}") from exc


def check_blocks(spec: IntentSpec, intent: object, blocks: list[dict[str, Any]], source: str) -> None:
    """Raises IntentFileError (named in ``source``) unless ``blocks`` are templates ``intent`` could
    have in ``spec``: an intent it has, the template language, slots and rules it defines."""
    if intent not in spec.intents:
        known = ", ".join(sorted(spec.intents))
        raise _Builder(source).fail(intent, f"unknown intent {intent!r} (known: {known})")
    _Builder(source).intent(str(intent), {"reply": "", "data": blocks}, spec.slots, spec.rules, 0)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, at: object, message: str, template_column: int | None = None) -> IntentFileError:
        if isinstance(at, _Located):
            column = at.column if template_column is None else at.text_column + template_column - 1
            return IntentFileError(f"{self.source}:{at.line}:{column}: {message}")
        return IntentFileError(f"{self.source}: {message}")

    def build(self, data: object) -> IntentSpec:
        if not isinstance(data, dict):
            raise IntentFileError(f"{self.source}: expected a mapping with 'intents', 'slots', 'rules'")
        for key in data:
            if key not in TOP_LEVEL:
                raise self.fail(key, f"unknown top-level key {key!r} (known: {', '.join(sorted(TOP_LEVEL))})")
        if "intents" not in data:
            raise IntentFileError(f"{self.source}: no 'intents' section")
        settings = self.mapping(data.get("settings") or {}, "settings")
        threshold = settings.get("threshold", 0.6)
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise self.fail(None, "settings.threshold must be a number between 0 and 1")
        slots = {
            str(name): self.slot(name, body)
            for name, body in self.mapping(data.get("slots") or {}, "slots").items()
        }
        raw_rules = self.mapping(data.get("rules") or {}, "rules")
        rules = {str(name): self.template(body, f"rule {name}") for name, body in raw_rules.items()}
        self.check_rules(rules, raw_rules, slots)
        intents: dict[str, IntentDef] = {}
        order = 0
        for name, body in self.mapping(data["intents"], "intents").items():
            intent, order = self.intent(str(name), body, slots, rules, order)
            intents[str(name)] = intent
        for slot_name, body in self.mapping(data.get("adjuncts") or {}, "adjuncts").items():
            self.adjunct(str(slot_name), body, intents, slots, rules)
        return IntentSpec(
            source=self.source,
            language=str(data.get("language", "en")),
            wake_phrase=normalize(str(data.get("wake_phrase", "hey maestro"))),
            threshold=float(threshold),
            slots=slots,
            rules=rules,
            intents=intents,
            prefixes=self.phrases(data, "prefixes"),
            suffixes=self.phrases(data, "suffixes"),
            fillers=self.phrases(data, "fillers"),
        )

    def mapping(self, value: object, what: str) -> dict[Any, Any]:
        if not isinstance(value, dict):
            raise self.fail(value, f"{what} must be a mapping")
        return value

    def phrases(self, data: dict[Any, Any], key: str) -> list[str]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, f"{key} must be a list of phrases")
        # Longest first, so "could you please" is stripped before "could you".
        return sorted({normalize(v) for v in value if normalize(v)}, key=lambda p: (-len(p.split()), p))

    def template(self, text: object, what: str) -> Node:
        if not isinstance(text, str):
            raise self.fail(text, f"{what}: a template must be a string")
        try:
            return parse_template(text)
        except TemplateSyntaxError as exc:
            raise self.fail(text, f"{what}: {exc.message}", template_column=exc.column) from exc

    def slot(self, name: object, body: object) -> SlotDef:
        body = self.mapping(body, f"slot {name}")
        kind = body.get("type")
        if kind not in SLOT_TYPES:
            raise self.fail(
                kind if kind is not None else name,
                f"slot {name}: unknown slot type {kind!r} (known: {', '.join(SLOT_TYPES)})",
            )
        slot = SlotDef(str(name), str(kind))
        if kind == "number":
            slot.min, slot.max = body.get("min"), body.get("max")
            for bound in ("min", "max"):
                if body.get(bound) is not None and not isinstance(body.get(bound), int):
                    raise self.fail(name, f"slot {name}: {bound} must be a whole number")
            if slot.min is not None and slot.max is not None and slot.min > slot.max:
                raise self.fail(name, f"slot {name}: min ({slot.min}) is more than max ({slot.max})")
            units = body.get("units") or {}
            if not isinstance(units, dict) or not all(isinstance(v, int) for v in units.values()):
                raise self.fail(name, f"slot {name}: units must map words to integers")
            slot.units = {normalize(str(k)): int(v) for k, v in units.items()}
        elif kind == "enum":
            values = body.get("values")
            if not isinstance(values, dict) or not values:
                raise self.fail(name, f"slot {name}: an enum needs values")
            for canonical, synonyms in values.items():
                spoken = synonyms if isinstance(synonyms, list) else [canonical]
                slot.values[str(canonical)] = [
                    normalize(str(s)) for s in [canonical, *spoken] if normalize(str(s))
                ]
        elif kind in ("library", "device"):
            slot.kind = "device" if kind == "device" else str(body.get("kind", ""))
            if slot.kind not in KINDS:
                raise self.fail(name, f"slot {name}: kind must be one of {', '.join(KINDS[:4])}")
            slot.require_match = bool(body.get("require_match", False))
        return slot

    def adjunct(
        self, slot_name: str, body: object, intents: dict[str, IntentDef], slots: dict[str, SlotDef],
        rules: dict[str, Node],
    ) -> None:  # fmt: skip
        """Words that may come before or after every template of some intents, filling ``slot_name``
        ("TV pause", "volume up in the kitchen"): written once, wrapped around each template that
        does not already name that slot itself."""
        body = self.mapping(body, f"adjunct {slot_name}")
        parts: dict[str, Node] = {}
        for side in ("before", "after"):
            if side in body:
                parts[side] = node = self.template(body[side], f"adjunct {slot_name} {side}")
                for ref in references(node):
                    if isinstance(ref, Slot) and ref.source not in slots:
                        raise self.fail(body[side], f"adjunct {slot_name}: unknown slot {{{ref.source}}}")
                    if isinstance(ref, RuleRef) and ref.name not in rules:
                        raise self.fail(body[side], f"adjunct {slot_name}: unknown rule <{ref.name}>")
        if not parts:
            raise self.fail(slot_name, f"adjunct {slot_name}: needs before, after or both")
        names = body.get("intents")
        if not isinstance(names, list) or not names:
            raise self.fail(slot_name, f"adjunct {slot_name}: intents must be a list of intent names")
        for name in names:
            if name not in intents:
                raise self.fail(name, f"adjunct {slot_name}: unknown intent {name!r}")
            for template in intents[name].templates:
                if any(isinstance(ref, Slot) and ref.name == slot_name for ref in references(template.node)):
                    continue  # the template places the slot itself ("pause the TV")
                # Before or after, not both: one command is for one speaker.
                options = [Seq((parts["before"], template.node))] if "before" in parts else []
                options += [Seq((template.node, parts["after"]))] if "after" in parts else []
                template.node = Alt((*options, template.node))
                template.wrapped = True

    def check_rules(self, rules: dict[str, Node], raw: dict[Any, Any], slots: dict[str, SlotDef]) -> None:
        def visit(name: str, trail: tuple[str, ...]) -> None:
            for ref in references(rules[name]):
                if isinstance(ref, Slot) and ref.source not in slots:
                    raise self.fail(raw[name], f"rule {name}: unknown slot {{{ref.source}}}")
                if isinstance(ref, RuleRef):
                    if ref.name not in rules:
                        raise self.fail(raw[name], f"rule {name}: unknown rule <{ref.name}>")
                    if ref.name in trail or ref.name == name:
                        cycle = " -> ".join((*trail, name, ref.name))
                        raise self.fail(raw[name], f"rule {name} refers to itself ({cycle})")
                    visit(ref.name, (*trail, name))

        for name in rules:
            visit(name, ())

    def intent(
        self, name: str, body: object, slots: dict[str, SlotDef], rules: dict[str, Node], order: int
    ) -> tuple[IntentDef, int]:
        body = self.mapping(body, f"intent {name}")
        reply = body.get("reply", "")
        if not isinstance(reply, str):
            raise self.fail(name, f"intent {name}: reply must be a string")
        blocks = list(body.get("data") or [])
        if "templates" in body:
            blocks.insert(0, {"templates": body["templates"]})
        if not blocks:
            raise self.fail(name, f"intent {name}: no templates")
        templates = []
        for block in blocks:
            block = self.mapping(block, f"intent {name} data")
            fixed = self.mapping(block.get("slots") or {}, f"intent {name} slots")
            texts = block.get("templates")
            if not isinstance(texts, list) or not texts:
                raise self.fail(name, f"intent {name}: templates must be a non-empty list")
            for text in texts:
                node = self.template(text, f"intent {name}")
                for ref in references(node):
                    if isinstance(ref, Slot) and ref.source not in slots:
                        raise self.fail(text, f"intent {name}: unknown slot {{{ref.source}}}")
                    if isinstance(ref, RuleRef) and ref.name not in rules:
                        raise self.fail(text, f"intent {name}: unknown rule <{ref.name}>")
                line = text.line if isinstance(text, _Located) else 0
                templates.append(
                    Template(name, str(text), node, {str(k): v for k, v in fixed.items()}, line, order)
                )
                order += 1
        self.check_reply(name, reply, templates)
        grammar = body.get("grammar", True)
        if not isinstance(grammar, bool):
            raise self.fail(name, f"intent {name}: grammar must be true or false")
        return IntentDef(name, str(reply), templates, grammar), order

    def check_reply(self, name: str, reply: str, templates: list[Template]) -> None:
        """A reply may name the intent's slots, and what its action tells ({track}, {devices}...):
        "{level}" would be said as "Volume ." without this check."""
        try:
            named = [part for _, part, _, _ in string.Formatter().parse(reply) if part is not None]
        except ValueError as exc:
            raise self.fail(reply, f"intent {name}: reply {reply!r}: {exc}") from exc
        known = REPLY_NAMES | {
            ref.name for t in templates for ref in references(t.node) if isinstance(ref, Slot)
        } | {key for t in templates for key in t.fixed}  # fmt: skip
        for part in named:
            if part not in known:
                raise self.fail(reply, f"intent {name}: the reply names {{{part}}}, which it does not "
                                       f"have (it can use: {', '.join(sorted(known))})")  # fmt: skip
