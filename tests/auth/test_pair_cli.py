"""`maestro pair` and `maestro logout` as a user (or a script) runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.live import LiveSandbox


def env(live: LiveSandbox, state_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, **live.env(state_dir), "MAESTRO_TTS_ENGINE": "none", **extra}


@pytest.mark.slow
def test_pair_prints_code_and_link_then_the_account(live: LiveSandbox, tmp_path: Path) -> None:
    live.state.poll_interval = 1
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "pair"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(live, tmp_path),
    )  # fmt: skip
    try:
        assert process.stdout is not None
        code_line = process.stdout.readline().strip()
        open_line = process.stdout.readline().strip()
        assert code_line.startswith("Code: ")
        code = code_line.removeprefix("Code: ")
        assert open_line == f"Open: {live.url}/pair?code={code}"
        # The user opens the page on a phone and approves.
        page = httpx.post(f"{live.url}/pair", data={"code": code, "decision": "approve"})
        assert "Device connected" in page.text
        out, err = process.communicate(timeout=30)
    finally:
        live.state.poll_interval = 5
        process.kill()
    assert process.returncode == 0, err
    assert "Paired: Maestro is connected to Spotify as Sandbox User." in out
    assert (tmp_path / "tokens.json").stat().st_mode & 0o777 == 0o600
    assert code in err  # the terminal display showed the pairing screen


def test_pair_with_an_unallowlisted_app_explains_and_exits_1(live: LiveSandbox, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "pair"], capture_output=True, text=True, timeout=30,
        env=env(live, tmp_path, MAESTRO_SPOTIFY_CLIENT_ID="someone-else"),
    )  # fmt: skip
    assert result.returncode == 1
    assert "allowlist" in result.stderr and "maestro pair --bridge" in result.stderr


def test_pair_without_a_client_id_is_bad_usage(live: LiveSandbox, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "pair"], capture_output=True, text=True, timeout=30,
        env=env(live, tmp_path, MAESTRO_SPOTIFY_CLIENT_ID=""),
    )  # fmt: skip
    assert result.returncode == 2
    assert f"set client_id under [spotify] in {tmp_path / 'config.toml'}" in result.stderr
    assert "maestro pair --bridge" in result.stderr


def answer_prompt(live: LiveSandbox, state_dir: Path, answer: str) -> int:
    """Run `maestro logout` on a terminal and answer its question."""
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "logout"], stdin=terminal, stdout=terminal, stderr=terminal,
        env=env(live, state_dir),
    )  # fmt: skip
    os.close(terminal)
    output = b""
    while b"[y/N]" not in output:
        output += os.read(controller, 1024)
    os.write(controller, answer.encode() + b"\n")
    code = process.wait(timeout=30)
    os.close(controller)
    return code


def test_logout(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    unconfirmed = subprocess.run(
        [sys.executable, "-m", "maestro", "logout"], capture_output=True, text=True, env=env(live, tmp_path),
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert unconfirmed.returncode == 2 and (tmp_path / "tokens.json").exists()
    assert answer_prompt(live, tmp_path, "n") == 0 and (tmp_path / "tokens.json").exists()
    assert answer_prompt(live, tmp_path, "y") == 0 and not (tmp_path / "tokens.json").exists()
    live.pair_into(tmp_path)
    confirmed = subprocess.run(
        [sys.executable, "-m", "maestro", "logout", "--yes"],
        capture_output=True,
        text=True,
        env=env(live, tmp_path),
    )
    assert confirmed.returncode == 0 and not (tmp_path / "tokens.json").exists()
    assert "Signed out" in confirmed.stdout
