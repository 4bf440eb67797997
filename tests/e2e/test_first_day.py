"""The first day with Maestro, walked again: what a new user ran into, each held by a test."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from maestro.auth.tokens import Tokens, TokenStore
from maestro.bridge.tally import Tally
from maestro.errors import UsageError
from maestro.session import bridge_client
from tests.live import LiveSandbox, free_port
from tests.paths import README

ABBEY_ROAD = "spotify:album:p20IVD9KD4N2EBDzU5oRJd"


def maestro(
    env: dict[str, str], *args: str, stdin: str = "", cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "MAESTRO_TTS_ENGINE": "none", **env}
    return subprocess.run(
        [sys.executable, "-m", "maestro", *args],
        capture_output=True,
        text=True,
        env=full,
        input=stdin,
        cwd=cwd,
        timeout=timeout,
    )


def box_env(live: LiveSandbox, state: Path, **extra: str) -> dict[str, str]:
    return {**live.env(state), "MAESTRO_PLAYER_DEFAULT_DEVICE": "Kitchen", **extra}


class Daemon:
    """`maestro run` in the background, its stdout read line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        full = {**os.environ, "MAESTRO_TTS_ENGINE": "none", "MAESTRO_VOICE_ENABLED": "false", **env}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "maestro", "run"],
            env=full,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert "Maestro is running" in first, first + (
            self.process.stderr.read() if self.process.stderr else ""
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def daemon_env(live: LiveSandbox, tmp_path: Path) -> Iterator[dict[str, str]]:
    live.pair_into(tmp_path)
    yield box_env(live, tmp_path)


# -- 1. one daemon per state directory ------------------------------------------------------------


def test_a_second_daemon_refuses_naming_the_first(daemon_env: dict[str, str]) -> None:
    first = Daemon(daemon_env)
    try:
        second = maestro(daemon_env, "run", timeout=30)
        assert second.returncode == 1
        assert f"Maestro is already running (pid {first.process.pid}" in second.stderr
        assert maestro(daemon_env, "say", "what is playing").returncode == 0  # one-shot commands still work
    finally:
        first.stop()
    again = Daemon(daemon_env)  # the lock went with the first process
    again.stop()


@respx.mock
async def test_two_processes_never_spend_one_refresh_token(tmp_path: Path) -> None:
    url = "https://accounts.example/api/token"
    calls = []

    async def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        await asyncio.sleep(0.3)
        return httpx.Response(
            200, json={"access_token": f"at-{len(calls)}", "refresh_token": f"rt-{len(calls)}"}
        )

    respx.post(url).mock(side_effect=slow)
    TokenStore(tmp_path / "tokens.json").save(Tokens("at-0", "rt-0", time.time() + 5, "s", url, "app"))
    daemon = TokenStore(tmp_path / "tokens.json", httpx.AsyncClient(), lasting=True)
    say = TokenStore(tmp_path / "tokens.json", httpx.AsyncClient())  # another process: its own lock fd
    tokens = await asyncio.gather(daemon.access_token(), say.access_token())
    assert len(calls) == 1 and tokens == ["at-1", "at-1"]  # the second adopted the first's rotation
    assert json.loads((tmp_path / "tokens.json").read_text())["refresh_token"] == "rt-1"


# -- 2. maestro status ---------------------------------------------------------------------------------


def test_status_says_what_the_daemon_does(
    live: LiveSandbox, daemon_env: dict[str, str], tmp_path: Path
) -> None:
    stopped = json.loads(maestro(daemon_env, "status", "--json").stdout)
    assert (
        stopped["running"] is False and stopped["signed_in"] is True and stopped["account"] == "Sandbox User"
    )
    assert "Maestro is not running" in maestro(daemon_env, "status").stdout
    (tmp_path / "cards.txt").write_text(f"wait 0.5\ntap 04A1B2C3 {ABBEY_ROAD}\nwait 0.5\nremove\n")
    daemon = Daemon({**daemon_env, "MAESTRO_NFC_READER": f"scripted:{tmp_path / 'cards.txt'}"})
    try:
        assert daemon.process.stdout is not None
        for _ in range(50):
            if "Playing" in daemon.process.stdout.readline():
                break
        report = json.loads(maestro(daemon_env, "status", "--json").stdout)
        words = maestro(daemon_env, "status").stdout
    finally:
        daemon.stop()
    assert (
        report["running"] is True
        and report["pid"] == daemon.process.pid
        and report["inputs"] == ["NFC cards"]
    )
    assert report["last_command"]["source"] == "card" and report["last_command"]["text"] == "card 04A1B2C3"
    assert report["last_command"]["reply"].startswith("Playing Abbey Road")
    assert report["playing"]["album"] == "Abbey Road" and report["device"]["name"] == "Kitchen"
    assert report["trouble"] == {}
    assert (
        f"Maestro is running (pid {daemon.process.pid}" in words
        and "Signed in to Spotify as Sandbox User" in words
    )
    assert "Last command (card" in words and "Playing: " in words and "on Kitchen" in words


def test_devices_and_tags_speak_json(daemon_env: dict[str, str], tmp_path: Path) -> None:
    devices = json.loads(maestro(daemon_env, "devices", "--json").stdout)
    assert {d["name"] for d in devices} >= {"Kitchen", "Living Room"} and {"id", "volume_percent"} <= set(
        devices[0]
    )
    (tmp_path / "tags.yaml").write_text(f"04A1B2C3: {ABBEY_ROAD}\n")
    cards = json.loads(maestro(daemon_env, "tags", "list", "--json").stdout)
    assert cards[0]["uid"] == "04A1B2C3" and cards[0]["uri"] == ABBEY_ROAD


# -- 3. pairing through a bridge ----------------------------------------------------------------------


def test_the_bridge_client_id_is_the_one_to_use() -> None:
    assert bridge_client("", "bridge-app", "https://b") == "bridge-app"  # left empty: the bridge's
    assert bridge_client("bridge-app", "bridge-app", "https://b") == "bridge-app"
    with pytest.raises(UsageError, match=r"serves the client id bridge-app, but spotify\.client_id is mine"):
        bridge_client("mine", "bridge-app", "https://b")
    with pytest.raises(UsageError, match=r"Set spotify\.client_id to the client id the bridge"):
        bridge_client("", "", "https://old-bridge")


def test_pairing_through_a_bridge_says_what_is_wrong(live: LiveSandbox, tmp_path: Path) -> None:
    from maestro.bridge.app import BridgeConfig, create_app
    from maestro.bridge.sqlite_store import SQLiteStore
    from maestro.serving import serve_in_thread

    app = create_app(
        BridgeConfig(client_id="bridge-app", base_url="http://127.0.0.1:1", accounts_url=live.url),
        SQLiteStore(tmp_path / "b.db"),
    )
    env = {**live.env(tmp_path), "MAESTRO_SPOTIFY_CLIENT_ID": "other-app"}
    with serve_in_thread(app) as url:
        wrong = maestro(env, "pair", "--bridge", url)
        assert wrong.returncode == 2 and "serves the client id bridge-app" in wrong.stderr
        assert "allowlist" not in wrong.stderr  # it is not Spotify's allowlist: the user is using a bridge
    no_scheme = maestro(env, "pair", "--bridge", "127.0.0.1:8766")
    assert no_scheme.returncode == 2 and "http:// or https://" in no_scheme.stderr
    readme = README.read_text()
    assert "# or [auth] bridge_url" not in readme  # the minimal config no longer says "either"


# -- 4. a sign-in Spotify ended ------------------------------------------------------------------------


def test_a_sign_in_spotify_ended_is_no_sign_in(
    live: LiveSandbox, daemon_env: dict[str, str], tmp_path: Path
) -> None:
    live.control("tokens", {"expire": True, "revoke": True})
    ended = maestro(daemon_env, "say", "what is playing")
    assert ended.returncode == 1 and "Spotify ended Maestro's sign-in" in ended.stdout
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "pair"],
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **daemon_env, "MAESTRO_TTS_ENGINE": "none"},
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Code: ")  # pairing at once: no "already signed in"
    finally:
        process.kill()
        process.wait()


# -- 6. not commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["hello", "thank you", "music from 1996"])
def test_what_is_no_command_is_not_an_unknown_speaker(daemon_env: dict[str, str], text: str) -> None:
    maestro(daemon_env, "say", "what is playing")  # the library's names are cached now
    result = maestro(daemon_env, "say", text)
    assert result.returncode == 2 and "speaker" not in result.stdout, result.stdout


def test_a_real_command_naming_an_unknown_speaker_says_so(daemon_env: dict[str, str]) -> None:
    maestro(daemon_env, "say", "what is playing")
    result = maestro(daemon_env, "say", "in the garage, next song")
    assert result.returncode == 2 and result.stdout.strip() == "I can't find a speaker called garage."


# -- 8. tags learn, by voice ------------------------------------------------------------------------------


def test_learning_by_voice_without_a_microphone_gives_up_on_time(tmp_path: Path) -> None:
    (tmp_path / "cards.txt").write_text("tap 04EE1234\n")
    (tmp_path / "config.toml").write_text("")
    env = {
        "MAESTRO_CONFIG": str(tmp_path / "config.toml"),
        "MAESTRO_STATE_DIR": str(tmp_path),
        "MAESTRO_NFC_READER": f"scripted:{tmp_path / 'cards.txt'}",
        "MAESTRO_VOICE_INPUT_DEVICE": "no such microphone",
    }
    started = time.monotonic()
    result = maestro(env, "tags", "learn", "--say", "--timeout", "3")
    assert result.returncode == 2 and "heard no command within 3 seconds" in result.stderr
    assert time.monotonic() - started < 30  # was: waited forever ("Retrying.")


def test_a_card_action_heard_by_voice_is_read_back_and_can_be_refused(tmp_path: Path) -> None:
    from maestro.voice.audio import RATE
    from maestro.voice.synth import utterance
    from maestro.voice.tts import write_wav

    write_wav(tmp_path / "said.wav", utterance("play abbey road"), RATE)
    (tmp_path / "config.toml").write_text(f'[voice]\ninput_device = "wav:{tmp_path / "said.wav"}"\n')
    (tmp_path / "cards.txt").write_text("tap 04EE1234\n")
    env = {
        "MAESTRO_CONFIG": str(tmp_path / "config.toml"),
        "MAESTRO_STATE_DIR": str(tmp_path),
        "MAESTRO_NFC_READER": f"scripted:{tmp_path / 'cards.txt'}",
    }
    refused = maestro(env, "tags", "learn", "--say", stdin="n\n")
    assert refused.returncode == 2 and "Nothing saved" in refused.stderr
    assert "Save it for this card?" in refused.stdout and "search for" in refused.stdout  # what it would do
    assert not (tmp_path / "tags.yaml").exists()


# -- 9. relative paths ----------------------------------------------------------------------------------


def test_relative_paths_are_relative_to_the_config_file(live: LiveSandbox, tmp_path: Path) -> None:
    box = tmp_path / "box"
    box.mkdir()
    live.pair_into(box)
    (box / "config.toml").write_text('[tts]\nengine = "wav"\nwav_dir = "speech"\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**live.env(box), "MAESTRO_TTS_ENGINE": "wav"}
    doctor = {c["name"]: c for c in json.loads(maestro(env, "doctor", "--json", cwd=elsewhere).stdout)}
    assert f"tts.wav_dir = {box / 'speech'}" in doctor["config"]["detail"]  # shown absolute
    from maestro import config

    assert config.load({**env, "MAESTRO_CONFIG": str(box / "config.toml")}).tts.wav_dir == str(box / "speech")
    assert config.anchored("frames", box) == str(box / "frames")
    assert config.anchored("base", box, always=False) == "base"  # a model's name, not a path
    assert config.anchored("wav:clip.wav", box, always=False) == f"wav:{box / 'clip.wav'}"
    assert not list(elsewhere.iterdir())


# -- 10. tracebacks and wrong diagnoses ---------------------------------------------------------------


def test_a_very_long_command_and_a_state_dir_that_is_a_file(live: LiveSandbox, tmp_path: Path) -> None:
    live.pair_into(tmp_path)
    env = box_env(live, tmp_path)
    long = maestro(env, "say", "play " + "a" * 70_000)
    assert long.returncode == 2 and "too long for a command" in long.stderr and "Traceback" not in long.stderr
    (tmp_path / "a-file").write_text("not a directory")
    filed = {**env, "MAESTRO_STATE_DIR": str(tmp_path / "a-file")}
    for args in (("say", "pause"), ("pair",), ("listen", "--wav", str(tmp_path / "x.wav")), ("status",)):
        result = maestro(filed, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "is a file, not a directory" in result.stderr and "Traceback" not in result.stderr, args
        assert "damaged" not in result.stderr and "owned by" not in result.stderr


# -- 11. ports and addresses --------------------------------------------------------------------------


def test_ports_are_checked_before_any_banner(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bridge]\nclient_id = "app"\nbase_url = "http://127.0.0.1:9999"\n')
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    bad = maestro(env, "sandbox", "serve", "--port", "80000")
    assert bad.returncode == 2 and "80000 is not a port" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for args in (("sandbox", "serve", "--port", port), ("bridge", "serve", "--port", port)):
            busy = maestro(env, *args)
            assert busy.returncode == 2 and f"Port {port} on 127.0.0.1 is in use" in busy.stderr
            assert "Maestro bridge on" not in busy.stdout and "Errno" not in busy.stderr


def test_a_bridge_address_with_another_port_is_warned_about(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[bridge]\nclient_id = "app"\nbase_url = "http://127.0.0.1:9999"\n')
    env = {**os.environ, "MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "bridge", "serve", "--port", str(port)],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        warning = "".join(process.stderr.readline() for _ in range(2))  # after "Made a new form secret"
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "base_url says port 9999 but the bridge listens on" in warning


# -- 12. the command line -------------------------------------------------------------------------------


def test_the_command_line_helps(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    bare = maestro(env)
    assert bare.returncode == 2 and "pair" in bare.stderr and "status" in bare.stderr  # the commands
    typo = maestro(env, "pari")
    assert typo.returncode == 2 and "did you mean pair?" in typo.stderr
    option = maestro(env, "say", "--jsn", "pause")
    assert (
        option.returncode == 2
        and "usage: maestro say" in option.stderr
        and "did you mean --json?" in option.stderr
    )
    assert maestro(env, "parse", "").returncode == 2  # like say ""
    piped = maestro(env, "parse", "-", stdin="skip\nvolume to 30\n")
    assert piped.stdout.splitlines() == [
        "'skip' -> Next (score 1.00)",
        "'volume to 30' -> SetVolume volume=30 (score 1.00)",
    ]


def test_listen_reports_a_missing_file_and_goes_on(tmp_path: Path) -> None:
    from maestro.voice.audio import RATE
    from maestro.voice.synth import silence, utterance
    from maestro.voice.tts import write_wav

    (tmp_path / "config.toml").write_text("")
    env = {
        "MAESTRO_CONFIG": str(tmp_path / "config.toml"),
        "MAESTRO_STATE_DIR": str(tmp_path),
        "MAESTRO_VOICE_ENGINE": "pocketsphinx",
    }
    write_wav(tmp_path / "a.wav", utterance("pause the music"), RATE)
    write_wav(tmp_path / "quiet.wav", silence(2.0), RATE)
    (tmp_path / "notes.mp3").write_text("shopping: milk, eggs\n")
    files = [str(tmp_path / name) for name in ("a.wav", "missing.wav", "notes.mp3", "quiet.wav")]
    result = maestro(env, "listen", "--no-wake", "--json", "--wav", *files)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 2 and len(lines) == 4  # every file has its line, in order
    assert lines[0]["intent"] == "Pause" and "no such file" in lines[1]["error"]
    assert "a text file, not a sound file" in lines[2]["error"] and "Illegal" not in result.stderr
    plain = maestro(env, "listen", "--no-wake", "--wav", files[3])
    assert "(heard no command)" in plain.stdout and "woke" not in plain.stdout


# -- 13. cards ---------------------------------------------------------------------------------------------


def test_cards_are_listed_by_name_and_checked(
    live: LiveSandbox, daemon_env: dict[str, str], tmp_path: Path
) -> None:
    maestro(daemon_env, "say", "play abbey road")  # a command that needs the names: they are cached now
    (tmp_path / "tags.yaml").write_text(f"04A1B2C3: {ABBEY_ROAD}\n04A1B2C3D4E5F6: pause\n")
    listed = maestro(daemon_env, "tags", "list").stdout.splitlines()
    assert listed[0] == "04A1B2C3              plays the album Abbey Road, by The Beatles"
    assert listed[1].startswith("04A1B2C3D4E5F6        runs")  # a 7-byte UID lines up with the others
    (tmp_path / "tags.yaml").write_text("'0411': pause\n")
    short = maestro(daemon_env, "tags", "list")
    assert short.returncode == 2 and "card 0411" in short.stderr and "4, 7 or 10 bytes" in short.stderr
    assert "Still using the previous card list" not in short.stderr  # a one-off command has no previous list
    doctor = {c["name"]: c for c in json.loads(maestro(daemon_env, "doctor", "--json").stdout)}
    assert doctor["tags.yaml"]["status"] == "fail"
    (tmp_path / "tags.yaml").write_text("04A1B2C3: pause\n04A1B2C3: next\n")
    twice = maestro(daemon_env, "tags", "list")
    assert twice.returncode == 2 and "card 04A1B2C3 is listed twice" in twice.stderr
    (tmp_path / "tags.yaml").write_text("04A1B2C3: sandwich please\n")
    assert "(Maestro does not understand this command)" in maestro(daemon_env, "tags", "list").stdout
    doctor = {c["name"]: c for c in json.loads(maestro(daemon_env, "doctor", "--json").stdout)}
    assert doctor["tags.yaml"]["status"] == "warn" and "sandwich please" in doctor["tags.yaml"]["detail"]
    (tmp_path / "cards.txt").write_text("tap 04EE1234\n")
    write = maestro(
        {**daemon_env, "MAESTRO_NFC_READER": f"scripted:{tmp_path / 'cards.txt'}"},
        "tags",
        "learn",
        ABBEY_ROAD,
        "--write",
    )
    assert write.returncode == 2 and "--write needs an nfcpy reader" in write.stderr
    assert "Lay the card" not in write.stdout  # said before the tap, not after
    readme = README.read_text()
    assert "scripted:FILE" in readme and "`tap UID [URI]`" in readme  # the script's format is documented


# -- 14. messages ------------------------------------------------------------------------------------------


def test_no_microphone_is_said_once(daemon_env: dict[str, str]) -> None:
    env = {
        **os.environ,
        "MAESTRO_TTS_ENGINE": "none",
        **daemon_env,
        "MAESTRO_VOICE_INPUT_DEVICE": "no such mic",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "maestro", "run"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Wait for the message (building the command model first takes longer on a busy machine), then
    # long enough for two retries of the microphone (2 s, then 4 s): each must stay quiet.
    said = threading.Event()
    lines: list[str] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if "No microphone found" in line:
                said.set()

    reader = threading.Thread(target=read_stdout, daemon=True)
    reader.start()
    assert said.wait(60), "the missing microphone was never said"
    time.sleep(6.5)
    process.terminate()
    reader.join(10)
    err = process.stderr.read() if process.stderr else ""
    process.wait(10)
    out = "".join(lines)
    assert (out + err).count("No microphone found") == 1, out + err
    assert "WARNING:" not in err


def test_doctor_names_what_it_means(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(f'[voice]\nmodel_path = "{tmp_path / "no-model"}"\n')
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    checks = {c["name"]: c for c in json.loads(maestro(env, "doctor", "--json").stdout)}
    assert checks["speech engine"]["status"] == "fail"
    assert (
        f"voice.model_path is {tmp_path / 'no-model'}, which does not exist"
        in checks["speech engine"]["detail"]
    )
    mic = checks["microphone"]
    assert mic["status"] == "fail" and not (
        mic["fix"] and "arecord -l" in mic["fix"] and "arecord -l" in mic["detail"]
    )
    (tmp_path / "config.toml").write_text("")
    checks = {c["name"]: c for c in json.loads(maestro(env, "doctor", "--json").stdout)}
    from maestro import config
    from maestro.voice import whisper

    if whisper.find_model("", config.models_dir()) is not None and whisper.available():
        assert "Whisper" in checks["speech engine"]["detail"]  # the neural tier that is installed


def test_a_damaged_library_cache_does_not_stop_parse(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    (tmp_path / "library.json").write_text("{damaged")
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    result = maestro(env, "parse", "pause")
    assert result.returncode == 0 and result.stdout.startswith("Pause")


# -- 16. setting up ---------------------------------------------------------------------------------------


def test_config_init_writes_a_file_that_doctor_accepts(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    env = {"MAESTRO_CONFIG": str(path), "MAESTRO_STATE_DIR": str(tmp_path)}
    made = maestro(
        env,
        "config",
        "init",
        "--client-id",
        "my-app",
        "--bridge-url",
        "https://bridge.example.com",
        "--speaker",
        "Kitchen",
        "--display",
        "png",
        "--reader",
        "none",
    )
    assert made.returncode == 0 and f"Wrote {path}" in made.stdout
    text = path.read_text()
    assert 'client_id = "my-app"' in text and 'bridge_url = "https://bridge.example.com"' in text
    assert 'default_device = "Kitchen"' in text and text.count("#") > 20  # commented
    doctor = {c["name"]: c for c in json.loads(maestro(env, "doctor", "--json").stdout)}
    assert doctor["config"]["status"] == "ok"
    again = maestro(env, "config", "init", "--sandbox")
    assert again.returncode == 2 and "already exists" in again.stderr
    sandbox = maestro(env, "config", "init", "--sandbox", "--force")
    assert sandbox.returncode == 0 and 'client_id = "maestro-sandbox"' in path.read_text()


def test_the_bridge_counts_pairings_without_codes() -> None:
    now = [0.0]
    tally = Tally(clock=lambda: now[0])
    for event in ("started", "started", "confirmed", "approved", "delivered", "expired"):
        tally.note(event)
    assert tally.summary() is None  # not yet ten minutes
    now[0] = 601
    assert (
        tally.summary()
        == "pairings in the last 10 min: 2 started, 1 confirmed, 1 approved, 1 delivered, 1 expired"
    )
    now[0] = 1300
    assert tally.summary() is None  # nothing happened since


def test_verbose_says_more(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("")
    env = {"MAESTRO_CONFIG": str(tmp_path / "config.toml"), "MAESTRO_STATE_DIR": str(tmp_path)}
    quiet, loud = maestro(env, "doctor"), maestro(env, "-vv", "doctor")
    assert "DEBUG" not in quiet.stderr and "DEBUG" in loud.stderr  # every request, with -vv
