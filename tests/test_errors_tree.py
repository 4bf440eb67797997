"""The exception tree in errors.py's docstring is the whole tree: every MaestroError, where it sits."""

from __future__ import annotations

import importlib
import pkgutil
import re

import maestro
from maestro import errors


def _all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *_all_subclasses(sub)}
    return found


def test_every_maestro_error_is_drawn_under_its_parent() -> None:
    for module in pkgutil.walk_packages(maestro.__path__, "maestro."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    drawn = {}  # class name -> indentation of its row in the drawing
    for line in (errors.__doc__ or "").splitlines():
        row = re.match(r"^(\s*(?:[│ ]   )*(?:[├└]── )?)([A-Z]\w+)\s", line)
        if row and row.group(2).endswith(("Error", "Lost")):
            drawn[row.group(2)] = len(row.group(1))
    classes = {cls for cls in _all_subclasses(errors.MaestroError) if cls.__module__.startswith("maestro.")}
    assert {cls.__name__ for cls in classes} <= set(drawn), "classes missing from the drawing"
    for cls in classes:
        parent = cls.__bases__[0].__name__
        assert drawn[cls.__name__] == drawn[parent] + 4, f"{cls.__name__} is not drawn under {parent}"
