"""A new user's first hour: README first, then every documented command on one state directory.

Each test here failed before the fix it names (issue: the first hour with Maestro).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from maestro.voice.audio import RATE, microphone_problem
from maestro.voice.synth import utterance
from maestro.voice.tts import write_wav
from tests.live import LiveSandbox
from tests.paths import README, REPO


def maestro(
    live: LiveSandbox | None, state_dir: Path, *args: str, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    base = live.env(state_dir) if live else {"MAESTRO_STATE_DIR": str(state_dir),
                                             "MAESTRO_CONFIG": str(state_dir / "config.toml")}  # fmt: skip
    if not (state_dir / "config.toml").exists():
        (state_dir / "config.toml").write_text("")
    return subprocess.run(
        [sys.executable, "-m", "maestro", *args], capture_output=True, text=True, input=stdin,
        env={**os.environ, "MAESTRO_TTS_ENGINE": "none", **base, **env}, timeout=120,
    )  # fmt: skip


def test_say_then_listen_tags_learn_and_parse_share_one_state_dir(live: LiveSandbox, tmp_path: Path) -> None:
    """`say` leaves Maestro's library cache behind; the others read it (they refused its format)."""
    live.pair_into(tmp_path)
    said = maestro(live, tmp_path, "say", "play abbey road", MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen")
    assert said.returncode == 0, said.stderr
    assert "fetched_at" in (tmp_path / "library.json").read_text()

    parsed = maestro(live, tmp_path, "parse", "play abbey road", "--json")
    assert parsed.returncode == 0, parsed.stderr
    assert json.loads(parsed.stdout)["intent"] == "PlayAlbum"  # as `say` understood it (item 2)
    explicit = maestro(live, tmp_path, "parse", "play abbey road", "--json", "--library",
                       str(tmp_path / "library.json"))  # fmt: skip
    assert json.loads(explicit.stdout)["slots"]["album"]["name"] == "Abbey Road"

    write_wav(tmp_path / "cmd.wav", utterance("", "play abbey road"), RATE)
    heard = maestro(live, tmp_path, "listen", "--wav", str(tmp_path / "cmd.wav"), "--no-wake", "--json")
    assert heard.returncode in (0, 1) and "unknown section" not in heard.stderr, heard.stderr
    assert set(json.loads(heard.stdout)) == {"transcript", "wake", "intent", "slots", "score", "latency_ms"}

    (tmp_path / "cards.txt").write_text("tap 04A1B2C3\n")
    learnt = maestro(live, tmp_path, "tags", "learn", "play abbey road",
                     MAESTRO_NFC_READER=f"scripted:{tmp_path / 'cards.txt'}")  # fmt: skip
    assert learnt.returncode == 0, learnt.stderr
    assert 'Card 04A1B2C3 now does "play abbey road"' in learnt.stdout

    doctor = json.loads(maestro(live, tmp_path, "doctor", "--json").stdout)
    library = next(check for check in doctor if check["name"] == "library names")
    assert library["status"] == "ok" and "albums" in library["detail"]


def test_parse_help_says_what_it_does_without_json() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "parse", "--help"], capture_output=True, text=True
    )
    text = " ".join(result.stdout.split())
    assert "prints the intent, its slots and the score" in text
    assert "examples/library.json" in text and "eval/" not in text


def test_the_example_library_ships_in_the_repository() -> None:
    example = REPO / "examples" / "library.json"
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "parse", "play kind of blue in the den tv", "--json",
         "--library", str(example)],
        capture_output=True, text=True,
    )  # fmt: skip
    body = json.loads(result.stdout)
    assert body["intent"] == "PlayAlbum" and body["slots"]["device"]["name"] == "Den TV"
    assert "../shared" not in README.read_text().split("## Benchmarks")[0]


def pair_process(live: LiveSandbox, state_dir: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    if not (state_dir / "config.toml").exists():
        (state_dir / "config.toml").write_text("")
    return subprocess.Popen(
        [sys.executable, "-m", "maestro", "pair", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env={**os.environ, **live.env(state_dir), **env},
    )  # fmt: skip


def test_pair_draws_on_the_configured_display_and_says_what_it_waits_for(
    live: LiveSandbox, tmp_path: Path
) -> None:
    live.state.poll_interval = 1
    frames = tmp_path / "frames"
    process = pair_process(live, tmp_path, MAESTRO_DISPLAY_DRIVER="png", MAESTRO_DISPLAY_PNG_DIR=str(frames),
                           MAESTRO_TTS_ENGINE="pyttsx3")  # fmt: skip
    try:
        assert process.stdout is not None
        lines: list[str] = []
        while len(lines) < 5 and lines[-1:] != ["Waiting for approval (the code expires in 60 min)…"]:
            lines.append(process.stdout.readline().strip())
        assert lines[-1] == "Waiting for approval (the code expires in 60 min)…", lines
        code = next(line for line in lines if line.startswith("Code: ")).removeprefix("Code: ")
        deadline = time.monotonic() + 10
        while not list(frames.glob("*-pairing.png")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert list(frames.glob("*-pairing.png")), "the OLED (PNG twin) never showed the code"
        httpx.post(f"{live.url}/pair", data={"code": code, "decision": "approve"})
        out, err = process.communicate(timeout=30)
    finally:
        live.state.poll_interval = 5
        process.kill()
    assert process.returncode == 0, err
    assert "ALSA lib" not in out + err and "aplay" not in out + err  # no screenful of sound errors
    if microphone_problem() is not None and not Path("/proc/asound/cards").exists():
        assert "No sound card here" in "".join(lines)


def test_no_sound_card_is_said_once_and_nothing_is_spoken(monkeypatch: pytest.MonkeyPatch) -> None:
    from maestro.config import TtsSettings
    from maestro.voice import tts

    monkeypatch.setattr(tts, "has_sound_card", lambda: False)
    said: list[str] = []
    speaker = tts.speaker_for(TtsSettings(engine="pyttsx3"), said.append)
    assert isinstance(speaker, tts.SilentSpeaker)
    assert said == [tts.NO_SOUND_CARD]


def test_pair_while_signed_in_asks_first(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    asked = maestro(live, tmp_path, "pair", stdin="")
    assert asked.returncode == 2
    assert "already signed in to Spotify as Sandbox User" in asked.stderr and "--yes" in asked.stderr


def test_sign_in_messages_do_not_go_in_circles(live: LiveSandbox, tmp_path: Path) -> None:
    not_yet = maestro(live, tmp_path, "say", "sign in")
    assert not_yet.returncode == 1 and "Run maestro pair" in not_yet.stdout
    live.pair_into(tmp_path)
    already = maestro(live, tmp_path, "say", "sign in")
    assert already.returncode == 0
    assert already.stdout.strip() == "You're already signed in to Spotify as Sandbox User."
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    no_id = json.loads(maestro(None, fresh, "doctor", "--json").stdout)
    sign_in = next(check for check in no_id if check["name"] == "sign-in")
    assert f"set client_id under [spotify] in {tmp_path / 'fresh' / 'config.toml'}" in sign_in["fix"]
    assert "maestro pair --bridge" in sign_in["fix"]


def test_doctor_runs_every_check_with_a_broken_file(tmp_path: Path) -> None:
    (tmp_path / "intents.yaml").write_text("intents: [\n")
    (tmp_path / "tags.yaml").write_text("04A1B2C3: pause\n")
    dead = {
        "MAESTRO_SPOTIFY_API_URL": "http://127.0.0.1:9/v1",
        "MAESTRO_SPOTIFY_ACCOUNTS_URL": "http://127.0.0.1:9",
    }
    broken_intents = maestro(None, tmp_path, "doctor", "--json", **dead)
    checks = {check["name"]: check for check in json.loads(broken_intents.stdout)}
    assert checks["intents"]["status"] == "fail" and "intents.yaml:" in checks["intents"]["detail"]
    assert {"microphone", "speech engine", "display", "card reader", "sign-in", "Spotify Web API"} <= set(
        checks
    )
    assert checks["tags.yaml"]["detail"].startswith("1 card in")  # not "1 cards"
    assert checks["Spotify Web API"]["fix"] == "check the network (and DNS) from this box"

    (tmp_path / "config.toml").write_text("[display]\nrotate = 'two'\n")
    broken_config = {c["name"]: c for c in json.loads(maestro(None, tmp_path, "doctor", "--json").stdout)}
    for name in ("microphone", "speech out", "speech engine", "display", "card reader", "sign-in"):
        assert "config.toml is broken" in broken_config[name]["detail"], name
    summary = maestro(None, tmp_path, "doctor").stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ problems? and \d+ warnings? found\.", summary), summary


def test_doctor_says_the_network_failed_not_the_sign_in(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    live.control("faults", {"status": 503, "count": 50, "path": "/v1/me"})
    checks = {c["name"]: c for c in json.loads(maestro(live, tmp_path, "doctor", "--json").stdout)}
    assert checks["sign-in"]["status"] == "warn" and "maestro pair" not in checks["sign-in"]["fix"]
    assert "HTTP 404" not in checks["Spotify Web API"]["detail"]


def test_readme_sandbox_config_works(live: LiveSandbox, tmp_path: Path) -> None:
    block = re.search(r"### Pointing Maestro at the sandbox.*?```toml\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    port = live.url.rsplit(":", 1)[1]
    (tmp_path / "config.toml").write_text(block.group(1).replace("8765", port))
    live.pair_into(tmp_path)
    env = {"MAESTRO_STATE_DIR": str(tmp_path), "MAESTRO_CONFIG": str(tmp_path / "config.toml")}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    result = subprocess.run(
        [sys.executable, "-m", "maestro", "devices"], capture_output=True, text=True, env={**clean, **env}
    )
    assert result.returncode == 0, result.stderr
    assert "Living Room" in result.stdout


def test_bad_input_gets_a_clear_message(tmp_path: Path) -> None:
    preview = maestro(None, tmp_path, "display", "preview", "pairing", "--png", "/nonexistent/dir/x.png")
    assert preview.returncode == 2 and "Traceback" not in preview.stderr
    assert "/nonexistent/dir/x.png: cannot write the PNG" in preview.stderr
    (tmp_path / "cards.txt").write_text("tap 04A1B2C3\n")
    reader = f"scripted:{tmp_path / 'cards.txt'}"
    learn = maestro(None, tmp_path, "tags", "learn", stdin="", MAESTRO_NFC_READER=reader)
    assert learn.returncode == 2 and "Traceback" not in learn.stderr and "no answer" in learn.stderr
    (tmp_path / "bogus.wav").write_text("hello")
    bogus = maestro(None, tmp_path, "listen", "--wav", str(tmp_path / "bogus.wav"))
    assert bogus.returncode == 2 and "bogus.wav: a text file, not a sound file" in bogus.stderr
    empty = maestro(None, tmp_path, "say", "")
    assert empty.returncode == 2 and "Nothing to say" in empty.stderr
    (tmp_path / "config.toml").write_text('[spotify]\nclient_id "abc"\n')
    toml = maestro(None, tmp_path, "doctor")
    assert ":2: not valid TOML" in toml.stdout and "'client_id \"abc\"'" in toml.stdout
    (tmp_path / "config.toml").write_text("")
    typo = maestro(None, tmp_path, "parse", "pause", MAESTRO_SPOTIFY_CLIENTID="x")
    assert "MAESTRO_SPOTIFY_CLIENTID matches no setting" in typo.stderr
    assert "did you mean MAESTRO_SPOTIFY_CLIENT_ID?" in typo.stderr


def test_logout_forgets_what_it_learnt_from_the_account(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    played = maestro(live, tmp_path, "say", "play abbey road", MAESTRO_PLAYER_DEFAULT_DEVICE="Kitchen")
    assert played.returncode == 0, played.stderr
    assert (tmp_path / "library.json").exists() and (tmp_path / "player.json").exists()
    out = maestro(live, tmp_path, "logout", "--yes")
    assert out.returncode == 0 and "library's names" in out.stdout
    assert not any((tmp_path / name).exists() for name in ("tokens.json", "library.json", "player.json"))


def test_demo_mic_without_a_microphone_says_so_once_and_exits(tmp_path: Path) -> None:
    problem = microphone_problem()
    if problem is None:
        pytest.skip("this machine has a working microphone: the no-microphone path cannot be shown here")
    result = maestro(None, tmp_path, "demo", "--mic", "--no-audio", "--out", str(tmp_path / "out"))
    assert result.returncode == 1
    assert result.stdout.count(problem) == 1, result.stdout
