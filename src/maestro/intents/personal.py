"""The user's own phrasings, learned from corrections: an overlay on ``intents.yaml``.

When Maestro mishears a phrasing and the user says what was meant ("stick on abbey road" meant
"play abbey road"), :func:`phrasing_for` turns the words into a template of the meant intent: each
slot's value found in the words becomes the slot ("stick on {known_album:album}"), found by sound
and spelling as well as exactly (a name as the recogniser wrote it, "abby road", counts); a value
the words do not say is kept as the template's own (``slots:``). The phrasings live in
``personal_intents.yaml`` in the state directory (written atomically, readable and editable: the
same template language as ``intents.yaml``), and :func:`spec_with` builds the intents with them,
so the matcher, the learned parser and the voice model all learn them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz

from maestro.errors import UsageError
from maestro.fsutil import BadFileError, atomic_write_text, read_text
from maestro.intents.normalize import normalize
from maestro.intents.numbers import parse_duration, parse_number
from maestro.intents.recognition import NameValue, Recognition
from maestro.intents.spec import IntentFileError, IntentSpec, check_blocks, parse_spec, read_yaml
from maestro.intents.templates import Slot, references

PERSONAL_FILE = "personal_intents.yaml"
#: How alike (rapidfuzz ratio, 0-100) words must be to a name to stand for it ("abby road").
NAME_LIKENESS = 75
HEADER = """\
# Your own phrasings, learned from corrections (the web app's Heard page, or "no, I meant ...").
# Each adds a template to an intent of intents.yaml, in the same template language; remove one
# here or on the page. Maestro rewrites this file when it learns a phrasing.
"""


class PhrasingError(UsageError):
    """A correction Maestro cannot turn into a phrasing (the message says why, for the user)."""


@dataclass(frozen=True)
class Phrasing:
    intent: str
    template: str
    #: Slot values the template sets by itself (they were not in the words).
    slots: dict[str, Any] = field(default_factory=dict)
    #: The words that taught it, and when.
    heard: str = ""
    at: float = 0.0

    @property
    def key(self) -> tuple[str, str, str]:
        """What it teaches (not when or from which words)."""
        return self.intent, self.template, repr(sorted(self.slots.items()))

    def block(self) -> dict[str, Any]:
        return {"templates": [self.template], **({"slots": dict(self.slots)} if self.slots else {})}

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "template": self.template, "slots": dict(self.slots),
                "heard": self.heard, "at": self.at}  # fmt: skip


def read_phrasings(path: Path, spec: IntentSpec) -> list[Phrasing]:
    """The phrasings in ``path`` ([] when there is none), each checked against ``spec``; a mistake
    is an IntentFileError naming the file, line and column."""
    try:
        text = read_text(path, follow_links=False)
    except FileNotFoundError:
        return []
    except BadFileError as exc:
        raise IntentFileError(str(exc)) from exc
    data = read_yaml(text, str(path)) or {}
    entries = data.get("phrasings") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise IntentFileError(f"{path}: expected 'phrasings:', a list of intent and template")
    phrasings = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("template"), str):
            raise IntentFileError(f"{path}: each phrasing needs an intent and a template")
        slots = entry.get("slots") or {}
        block = {"templates": [entry["template"]], "slots": slots}
        check_blocks(spec, entry.get("intent"), [block], str(path))
        at = entry.get("at")
        phrasing = Phrasing(
            str(entry["intent"]), str(entry["template"]), dict(slots), heard=str(entry.get("heard", "")),
            at=float(at) if isinstance(at, int | float) else 0.0,
        )  # fmt: skip
        phrasings.append(phrasing)
    return phrasings


def write_phrasings(path: Path, phrasings: Iterable[Phrasing]) -> None:
    entries = [{"intent": p.intent, "template": p.template, **({"slots": dict(p.slots)} if p.slots else {}),
                "heard": p.heard, "at": round(p.at, 3)} for p in phrasings]  # fmt: skip
    body = yaml.safe_dump({"phrasings": entries}, sort_keys=False, allow_unicode=True, width=1000)
    atomic_write_text(path, HEADER + body, private=True)


def spec_with(base_text: str, base_source: str, phrasings: Iterable[Phrasing]) -> IntentSpec:
    """The intents of ``base_text`` with the phrasings added to theirs."""
    extra: dict[str, list[dict[str, Any]]] = {}
    own = set()
    for phrasing in phrasings:
        extra.setdefault(phrasing.intent, []).append(phrasing.block())
        own.add(phrasing.template)
    spec = parse_spec(base_text, base_source, extra)
    spec.own = frozenset(own)
    return spec


def phrasing_for(heard: str, meant: Recognition, spec: IntentSpec) -> Phrasing:
    """The template that makes ``heard`` mean what ``meant`` means."""
    if meant.intent is None or meant.intent not in spec.intents:
        raise PhrasingError("That isn't a command Maestro knows either: say what it should have done.")
    words = normalize(heard).split()
    if not words:
        raise PhrasingError("There are no words to learn.")
    placed: list[tuple[int, int, str]] = []  # (start, end, "{source:name}")
    fixed: dict[str, Any] = {}
    # Longest values first, so "two" inside "twenty two" is not taken alone.
    for name, value in sorted(meant.slots.items(), key=lambda item: -len(str(_value_text(item[1])))):
        source = _slot_source(spec, meant.intent, name)
        span = _find(words, value, spec, source, taken=placed) if source else None
        if span is not None:
            placed.append((*span, f"{{{source}:{name}}}" if source != name else f"{{{name}}}"))
        elif isinstance(value, NameValue):
            raise PhrasingError(f"I couldn't find “{value.name}” in “{heard}”: the words must say the name.")
        else:
            fixed[name] = _plain(value)
    out: list[str] = []
    position = 0
    for start, end, ref in sorted(placed):
        out += [*words[position:start], ref]
        position = end
    out += words[position:]
    return Phrasing(meant.intent, " ".join(out), fixed, heard=heard, at=time.time())


def _slot_source(spec: IntentSpec, intent: str, name: str) -> str | None:
    """The slot definition the intent's templates fill ``name`` from; of several, one that needs a
    name from the library ("stick on the dishwasher" then plays nothing)."""
    sources = {ref.source for t in spec.intents[intent].templates for ref in references(t.node)
               if isinstance(ref, Slot) and ref.name == name}  # fmt: skip
    sources |= {ref.source for rule in spec.rules.values() for ref in references(rule)
                if isinstance(ref, Slot) and ref.name == name and ref.source in spec.slots}  # fmt: skip
    if not sources:
        return name if name in spec.slots else None
    return max(sorted(sources), key=lambda s: (spec.slots[s].require_match, s == name))


def _plain(value: Any) -> Any:
    """A slot value as the file keeps it: an enum's words may be strings that know their place in
    intents.yaml, which YAML cannot write."""
    if isinstance(value, bool | int | float):
        return value
    return str(value)


def _value_text(value: Any) -> str:
    return value.name if isinstance(value, NameValue) else str(value)


def _find(words: list[str], value: Any, spec: IntentSpec, source: str,
          taken: list[tuple[int, int, str]]) -> tuple[int, int] | None:  # fmt: skip
    """Where in ``words`` the value is said: (start, end), or None."""
    slot = spec.slots[source]
    free = [i for i in range(len(words)) if not any(s <= i < e for s, e, _ in taken)]
    spans = [(s, e) for s in free for e in range(s + 1, min(len(words), s + 8) + 1)
             if all(i in free for i in range(s, e))]  # fmt: skip
    if slot.type == "number" and isinstance(value, int):
        said = [(s, e) for s, e in spans if _number(" ".join(words[s:e]), slot.units) == value]
        return max(said, key=lambda span: span[1] - span[0], default=None)
    if slot.type == "enum":
        synonyms = {normalize(w) for w in [str(value), *slot.values.get(str(value), [])]}
        said = [(s, e) for s, e in spans if " ".join(words[s:e]) in synonyms]
        return max(said, key=lambda span: span[1] - span[0], default=None)
    target = normalize(_value_text(value))
    if not target:
        return None
    scored = [(fuzz.ratio(" ".join(words[s:e]), target), -(e - s), s, e) for s, e in spans]
    best = max(scored, default=None)
    return (best[2], best[3]) if best and best[0] >= NAME_LIKENESS else None


def _number(text: str, units: dict[str, int]) -> int | None:
    return parse_duration(text, units) if units else parse_number(text)


class PersonalPhrasings:
    """The intents a session uses: ``intents.yaml`` with the user's phrasings over it. A broken
    phrasings file is set aside (``problem`` says why) rather than stopping Maestro, and is never
    written over."""

    def __init__(self, intents_path: Path, state_dir: Path) -> None:
        self.source = str(intents_path)
        try:
            self.base_text = read_text(intents_path)
        except FileNotFoundError as exc:
            raise IntentFileError(f"{intents_path}: no such file") from exc
        except BadFileError as exc:
            raise IntentFileError(str(exc)) from exc
        self.path = Path(state_dir) / PERSONAL_FILE
        base = parse_spec(self.base_text, self.source)
        #: Why the phrasings are not used (a hand edit gone wrong), or None.
        self.problem: str | None = None
        try:
            self.phrasings = read_phrasings(self.path, base)
            self.spec = spec_with(self.base_text, self.source, self.phrasings) if self.phrasings else base
        except IntentFileError as exc:
            self.problem = f"Your own phrasings are not used until {PERSONAL_FILE} is fixed: {exc}"
            self.phrasings, self.spec = [], base
        #: Bumped on every change: the voice model is built again.
        self.version = 0

    def learn(self, heard: str, meant: Recognition) -> Phrasing:
        """Learns ``heard`` as a way of saying ``meant``: written, and in ``spec`` at once."""
        if self.problem:
            raise PhrasingError(self.problem)
        phrasing = phrasing_for(heard, meant, self.spec)
        for known in self.phrasings:
            if known.key == phrasing.key:
                return known
        self._use([*self.phrasings, phrasing])
        return phrasing

    def forget(self, index: int) -> Phrasing:
        """Removes the phrasing at ``index`` (as listed); IndexError when there is none."""
        if self.problem:
            raise PhrasingError(self.problem)
        gone = self.phrasings[index]
        self._use([p for i, p in enumerate(self.phrasings) if i != index])
        return gone

    def _use(self, phrasings: list[Phrasing]) -> None:
        try:
            spec = spec_with(self.base_text, self.source, phrasings)
        except IntentFileError as exc:  # checked before, so only a clash Maestro did not foresee
            raise PhrasingError(f"That phrasing can't be learned: {exc}") from exc
        write_phrasings(self.path, phrasings)
        self.spec.adopt(spec)
        self.phrasings = phrasings
        self.version += 1
