"""The floors of docs/architecture.md hold: every import between packages points down (or to a
server of its own, from the top), and no module imports another that imports it back."""

from __future__ import annotations

import ast
from pathlib import Path

import maestro

ROOT = Path(maestro.__file__).parent
#: Bottom to top; a package may import those on its own floor's left and on lower floors.
FLOORS: list[list[str]] = [
    ["errors", "fsutil", "config", "config_template", "serving"],
    ["intents"],
    ["spotify"],
    ["messages", "voice", "display", "home"],
    ["actions", "nfc", "auth"],
    ["session", "ducking", "web"],
    ["box", "demo", "doctor"],
    ["cli", "__main__"],
]
#: Servers of their own: they import only the ground floor, and only the top floors start them.
APART = {"bridge", "sandbox"}
GROUND, TOP = 0, 6


def _imports() -> dict[str, set[str]]:
    """Module (dotted, under maestro) -> the maestro modules it imports, anywhere in its body."""
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("maestro."):
                targets.add(node.module.removeprefix("maestro."))
                targets.update(f"{node.module.removeprefix('maestro.')}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                targets.update(
                    a.name.removeprefix("maestro.") for a in node.names if a.name.startswith("maestro.")
                )
        found[name] = targets
    return {name: {t for t in targets if t in found and t != name} for name, targets in found.items()}


def _floor(package: str) -> tuple[int, int]:
    for level, packages in enumerate(FLOORS):
        if package in packages:
            return level, packages.index(package)
    raise AssertionError(f"{package} is on no floor: add it to FLOORS and to docs/architecture.md")


def test_imports_between_packages_point_down() -> None:
    wrong = []
    for module, targets in _imports().items():
        here = module.split(".")[0]
        for target in targets:
            there = target.split(".")[0]
            if here == there:
                continue
            if here in APART:
                ok = there in FLOORS[GROUND]
            elif there in APART:
                ok = _floor(here)[0] >= TOP
            else:
                ok = _floor(there) < _floor(here)
            if not ok:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_module_imports_one_that_imports_it_back() -> None:
    graph = _imports()
    circles = []

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return seen

    for module in graph:
        if module in reach(module):
            circles.append(module)
    assert not circles, f"modules in an import circle: {sorted(circles)}"
