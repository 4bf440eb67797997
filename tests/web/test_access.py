"""Who may use the web app: a code shown on the box buys one browser a session; tokens for scripts;
only digests kept; limits on guessing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from maestro.web.access import CODE_EVERY_S, CODE_TRIES, CODE_TTL_S, Access, TooSoon
from tests.waiting import FakeClock


def test_the_code_on_the_screen_pairs_one_browser(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    access = Access(tmp_path, clock=clock)
    code = access.new_code()
    assert len(code) == 6 and code.isdigit() and access.code_waiting()
    secret = access.pair(f"{code[:3]} {code[3:]}", "Firefox")  # typed with the space the screen shows
    assert secret is not None and access.session_ok(secret)
    assert access.pair(code) is None  # one browser per code
    assert not access.session_ok("made-up") and not access.session_ok(None)
    stored = (tmp_path / "web.json").read_text()
    assert secret not in stored and len(json.loads(stored)["sessions"]) == 1  # only its digest
    assert stat.S_IMODE((tmp_path / "web.json").stat().st_mode) == 0o600
    assert Access(tmp_path).session_ok(secret)  # the daemon restarted: still paired


def test_wrong_codes_use_the_code_up_and_new_codes_come_slowly(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    access = Access(tmp_path, clock=clock)
    code = access.new_code()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(CODE_TRIES):
        assert access.pair(wrong) is None
    assert access.pair(code) is None and not access.code_waiting()  # gone after five wrong tries
    with pytest.raises(TooSoon):
        access.new_code()
    clock.advance(CODE_EVERY_S)
    code = access.new_code()
    clock.advance(CODE_TTL_S + 1)
    assert access.pair(code) is None  # too late


def test_tokens_and_signing_out(tmp_path: Path) -> None:
    access = Access(tmp_path, clock=FakeClock(5.0))
    browser = access.pair(access.new_code())
    token = Access(tmp_path).new_token("home script")  # `maestro web token` while the daemon runs
    assert access.token_ok(token) and not access.session_ok(token)
    assert access.sign_out_browsers() == 1 and not access.session_ok(browser)
    assert access.token_ok(token)  # scripts keep theirs
    assert Access(tmp_path).revoke_tokens() == 1
    assert not access.token_ok(token)


def test_a_broken_file_lets_nobody_in_and_is_said(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    access = Access(tmp_path)
    token = access.new_token()
    (tmp_path / "web.json").write_text("{not json")
    assert not access.token_ok(token)
    assert "web.json could not be read" in caplog.text
    access.new_token()  # written again, whole
    assert json.loads((tmp_path / "web.json").read_text())["tokens"]


def test_maestro_web_token_and_sign_out(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "MAESTRO_STATE_DIR": str(tmp_path)}
    run = [sys.executable, "-m", "maestro", "web"]
    made = subprocess.run(
        [*run, "token", "--label", "tablet"], env=env, capture_output=True, text=True, check=True
    )
    token = made.stdout.strip()
    assert token.startswith("mst_") and Access(tmp_path).token_ok(token)
    access = Access(tmp_path, clock=FakeClock())
    access.pair(access.new_code())
    out = subprocess.run([*run, "sign-out"], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "Signed out 1 browser."
    assert Access(tmp_path).token_ok(token)  # scripts keep theirs
