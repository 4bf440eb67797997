"""The systemd unit shipped in deploy/ is one systemd accepts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.paths import REPO

UNIT = REPO / "deploy" / "maestro.service"


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed here (Debian: apt-get install systemd)")
    text = UNIT.read_text().replace("/opt/maestro/.venv/bin/maestro", sys.executable)
    unit = tmp_path / "maestro.service"
    unit.write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if "maestro.service" in line]
    assert result.returncode == 0 and not problems, result.stderr
    assert "ExecStart=" in text and "KillSignal=SIGTERM" in text and "User=maestro" in text
