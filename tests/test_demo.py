"""`maestro demo` as the README runs it: no account, no hardware, exit 0, quickly."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def test_demo_pairs_and_runs_the_session(tmp_path: Path) -> None:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "demo", "--no-audio", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Code: " in out and "Open: http://127.0.0.1:" in out
    assert "Signed in as Sandbox User." in out
    assert "Playing Abbey Road." in out and "Playing Miles Davis." in out
    assert "This is Come Together, by The Beatles, from Abbey Road." in out
    speech = sorted((tmp_path / "speech").glob("*.wav"))
    assert len(speech) >= 10  # the code (at least once), the greeting, every reply
    assert all(path.stat().st_size > 1000 for path in speech)
    assert elapsed < 60
