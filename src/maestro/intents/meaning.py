"""A meaning chosen rather than said: an intent and its slots' values, typed or picked from lists
(the web app's "I meant…", ``POST /api/corrections`` with ``intent``), read into the same
:class:`Recognition` the matcher makes, with each value read as the matcher reads a slot's words.

:func:`choices` lists what can be chosen: every intent with a sample sentence and the slots its
templates can fill (a number's range, an enum's values, a name's kind for the library search).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from rapidfuzz import fuzz, process, utils

from maestro.intents.grammar import deep_refs
from maestro.intents.library import LibraryItem, LibraryProvider
from maestro.intents.normalize import normalize
from maestro.intents.personal import PhrasingError
from maestro.intents.recognition import Recognition
from maestro.intents.slots import SlotValues
from maestro.intents.spec import IntentSpec, SlotDef
from maestro.intents.templates import Alt, Node, Opt, RuleRef, Seq, Slot, Word, parse_template

#: How like (rapidfuzz WRatio, 0-100) a name must be to what was typed to be suggested instead.
NEAR_CUTOFF = 70
#: Longest value taken for one slot (the longest album titles are shorter).
MAX_VALUE = 200


@dataclass(frozen=True)
class SlotChoice:
    """One slot an intent can be given: ``name`` as the recognition reports it."""

    name: str
    type: str  # number, enum, library, device, text
    #: library and device: which names to search (album, artist, playlist, track, device).
    kind: str = ""
    #: enum: the values to pick from.
    values: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    #: As intents.yaml defines it (an enum's synonyms, a number's units).
    definition: SlotDef | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "kind": self.kind, "values": list(self.values),
                "min": self.low, "max": self.high}  # fmt: skip


@dataclass(frozen=True)
class IntentChoice:
    name: str
    #: How people say it, from its first template ("play the album …").
    sample: str
    slots: tuple[SlotChoice, ...]

    @property
    def label(self) -> str:
        """ "PlayAlbum" -> "Play album"."""
        words = re.findall(r"[A-Z][a-z]*", self.name) or [self.name]
        return " ".join([words[0], *(w.lower() for w in words[1:])])

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.name, "label": self.label, "sample": self.sample,
                "slots": [slot.to_json() for slot in self.slots]}  # fmt: skip


def choices(spec: IntentSpec) -> list[IntentChoice]:
    """Every intent with its sample and slots, in intents.yaml's order."""
    return [IntentChoice(name, sample(spec, name), tuple(_slot_choices(spec, name))) for name in spec.intents]


def sample(spec: IntentSpec, intent: str) -> str:
    """The intent's first template, said the shortest way: options left out, the first of each
    choice taken, a slot as "…"."""
    templates = spec.intents[intent].templates  # as written: not wrapped in the adjuncts
    return " ".join(_said(parse_template(templates[0].text), spec)) if templates else intent


def _said(node: Node, spec: IntentSpec) -> list[str]:
    if isinstance(node, Word):
        return [node.text]
    if isinstance(node, Seq):
        return [word for item in node.items for word in _said(item, spec)]
    if isinstance(node, Alt):
        return _said(node.options[0], spec)
    if isinstance(node, Opt):
        return []
    if isinstance(node, RuleRef):
        return _said(spec.rules[node.name], spec)
    assert isinstance(node, Slot)
    return ["…"]


def _slot_choices(spec: IntentSpec, intent: str) -> list[SlotChoice]:
    """The slots the intent's templates fill, by the name they report; a name drawn from two
    definitions (``{album}``, ``{known_album:album}``) is the one searched in the same names."""
    found: dict[str, SlotDef] = {}
    for template in spec.intents[intent].templates:
        for ref in deep_refs(template.node, spec):
            if isinstance(ref, Slot):
                found.setdefault(ref.name, spec.slots[ref.source])
        for name, value in template.fixed.items():  # "stop shuffling": state off
            found.setdefault(name, SlotDef(name, "enum", values={str(value): [normalize(str(value))]}))
    ordered = sorted(found.items(), key=lambda named: named[1].type == "device")  # "in the kitchen" last
    return [SlotChoice(name, slot.type, slot.kind, tuple(slot.values), slot.min, slot.max, slot)
            for name, slot in ordered]  # fmt: skip


def meaning(spec: IntentSpec, names: SlotValues, intent: str, values: Mapping[str, str]) -> Recognition:
    """What the user chose, as a recognition: each value read as the matcher reads a slot's words
    (a number in words or digits, an enum's synonyms, a name found in the library, fuzzily).
    PhrasingError: no such intent or slot, or a value that can't be one."""
    choice = next((c for c in choices(spec) if c.name == intent), None)
    if choice is None:
        raise PhrasingError(f"Maestro has no intent called “{intent}”.")
    slots = {slot.name: slot for slot in choice.slots}
    read: dict[str, Any] = {}
    for name, raw in values.items():
        text = normalize(str(raw))[:MAX_VALUE]
        if not text:
            continue  # a slot left empty: the command doesn't say it
        if name not in slots:
            raise PhrasingError(f"{choice.label} has no {name}: it takes {', '.join(slots) or 'nothing'}.")
        read[name] = _value(slots[name], names, text, str(raw))
    slot_names = " ".join(f"{{{name}}}" for name in read)
    return Recognition(text=f"{choice.sample} {slot_names}".strip(), intent=intent, slots=read, score=1.0)


def _value(slot: SlotChoice, names: SlotValues, text: str, raw: str) -> Any:
    assert slot.definition is not None
    if slot.type == "text":
        return text
    # a name must be one of the user's: a correction is taught with what it really means
    outcome = names.resolve(slot.name, replace(slot.definition, require_match=True), text, "")
    if outcome is not None and not outcome[2]:
        return outcome[0]
    if slot.type == "enum":
        raise PhrasingError(f"{slot.name} is one of: {', '.join(slot.values)}.")
    if slot.type == "number":
        raise PhrasingError(f"{slot.name} is a number from {slot.low} to {slot.high}, not “{raw}”.")
    where = "your speakers" if slot.kind == "device" else "your library"
    near = near_names(names.library, slot.kind, raw, limit=3, cutoff=NEAR_CUTOFF)
    hint = f" Did you mean {' or '.join(f'“{name}”' for name in near)}?" if near else ""
    raise PhrasingError(f"I couldn't find the {slot.kind} “{raw}” in {where}.{hint}")


def near_names(library: LibraryProvider, kind: str, query: str, *, limit: int, cutoff: float) -> list[str]:
    """The names of a kind most like ``query`` as typed ("abb": "Abbey Road"), best first; the
    first ``limit`` in order when it is empty."""
    names = sorted({item.name for item in library.items(kind)}, key=str.casefold)
    if not query.strip():
        return names[:limit]
    return [item.name for item in near_items([LibraryItem(kind, name, "") for name in names], query,
                                             limit=limit, cutoff=cutoff)]  # fmt: skip


def near_items(items: Sequence[LibraryItem], query: str, *, limit: int, cutoff: float) -> list[LibraryItem]:
    """The items whose names are most like ``query`` as typed (rapidfuzz WRatio: "abb" is like
    "Abbey Road"), best first."""
    found = process.extract(query, [item.name for item in items], scorer=fuzz.WRatio,
                            processor=utils.default_process, limit=limit, score_cutoff=cutoff)  # fmt: skip
    return [items[index] for _, _, index in found]
