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
    # Spoken commands went through the wake phrase and the recogniser, the card through the reader.
    assert 'Heard: "play abbey road" -> PlayAlbum' in out and "Maestro: Playing Abbey Road." in out
    assert "Maestro: This is Come Together, by The Beatles, from Abbey Road." in out
    assert "Maestro: Playing Kind of Blue, by Miles Davis." in out
    assert out.count("Heard: ") == 5 and "Maestro: Paused." in out
    # Every command heard whole, whatever the machine's load (it once lost "skip to" 18 times in 32).
    heard = [line for line in out.splitlines() if line.startswith("Heard: ")]
    assert heard == ['Heard: "play abbey road" -> PlayAlbum', 'Heard: "volume up" -> VolumeUp',
                     'Heard: "what is playing" -> NowPlaying', 'Heard: "skip to the next song" -> Next',
                     'Heard: "pause" -> Pause']  # fmt: skip
    assert "Maestro: Skipping." in out
    assert "Listening…" in result.stderr  # the OLED's terminal twin showed the listening screen
    speech = sorted((tmp_path / "speech").glob("*.wav"))
    assert len(speech) >= 12  # the code, the greeting, five earcons, every reply
    assert all(path.stat().st_size > 1000 for path in speech)
    assert elapsed < 60
