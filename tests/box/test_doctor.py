"""`maestro doctor`: every check reports, with a fix, and one failure does not hide the others."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.live import LiveSandbox, free_port


def doctor(env: dict[str, str]) -> tuple[int, dict[str, dict[str, str]]]:
    result = subprocess.run([sys.executable, "-m", "maestro", "doctor", "--json"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    return result.returncode, {check["name"]: check for check in json.loads(result.stdout)}


def test_a_configured_box_passes_what_it_has(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    (tmp_path / "cards.txt").write_text("tap 04AA\n")
    (tmp_path / "voice.wav").write_bytes(b"")
    code, checks = doctor({
        **live.env(tmp_path),
        "MAESTRO_VOICE_INPUT_DEVICE": f"wav:{tmp_path / 'voice.wav'}",
        "MAESTRO_TTS_ENGINE": "wav",
        "MAESTRO_DISPLAY_DRIVER": "png",
        "MAESTRO_DISPLAY_PNG_DIR": str(tmp_path / "frames"),
        "MAESTRO_NFC_READER": f"scripted:{tmp_path / 'cards.txt'}",
    })  # fmt: skip
    assert {name: c["status"] for name, c in checks.items()} == {
        "config": "ok", "intents": "ok", "microphone": "ok", "speech out": "ok", "speech engine": "ok",
        "display": "ok", "card reader": "ok", "tags.yaml": "ok", "Spotify Web API": "ok",
        "Spotify accounts": "ok", "sign-in": "ok", "library names": "off",
    }  # fmt: skip
    assert checks["sign-in"]["detail"] == "signed in as Sandbox User"
    assert code == 0


def test_problems_come_with_fixes(live: LiveSandbox, tmp_path: Path) -> None:
    (tmp_path / "tags.yaml").write_text("04AA: [broken\n")
    dead = f"http://127.0.0.1:{free_port()}"
    code, checks = doctor({
        **live.env(tmp_path),
        "MAESTRO_SPOTIFY_API_URL": f"{dead}/v1",
        "MAESTRO_VOICE_ENGINE": "vosk",
        "MAESTRO_MODELS_DIR": str(tmp_path / "models"),
        "MAESTRO_DISPLAY_DRIVER": "ssd1306",
        "MAESTRO_DISPLAY_I2C_PORT": "99",
        "MAESTRO_NFC_READER": "evdev:/dev/input/event99",
    })  # fmt: skip
    assert code == 1
    expected_fixes = {
        "speech engine": "maestro models get vosk-small-en-us",
        "display": "check the wiring",
        "card reader": "/dev/input/by-id",
        "tags.yaml": "fix the line",
        "Spotify Web API": "check the network",
        "sign-in": "maestro pair",
    }
    for name, fix in expected_fixes.items():
        assert checks[name]["status"] == "fail" and fix in checks[name]["fix"], checks[name]
    assert re.match(re.escape(str(tmp_path / "tags.yaml")) + r":\d+: ", checks["tags.yaml"]["detail"])
    assert checks["Spotify accounts"]["status"] == "ok" and checks["config"]["status"] == "ok"


def test_a_broken_config_is_named(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[display]\nrotate = 'two'\n")
    code, checks = doctor(
        {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    )
    assert (
        code == 1 and checks["config"]["status"] == "fail" and "display.rotate" in checks["config"]["detail"]
    )
    assert checks["intents"]["status"] == "ok"
