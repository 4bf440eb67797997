"""Where the tests find the repository's files, and the shared material beside it."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
#: ../shared: the design, the evaluation data, Spotify's published OpenAPI description.
SHARED = REPO.parent / "shared"
README = REPO / "README.md"
DATA = TESTS / "data"
GOLDEN = TESTS / "golden"
