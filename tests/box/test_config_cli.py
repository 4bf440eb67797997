"""config.py and the command line's shape."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from maestro import cli, config
from maestro.errors import ConfigError
from maestro.fsutil import atomic_write_text


def write(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return {"MAESTRO_CONFIG": str(path)}


def test_defaults_point_at_spotify() -> None:
    settings = config.load({})
    assert settings.spotify.api_url == "https://api.spotify.com/v1"
    assert settings.device_authorization_url == "https://accounts.spotify.com/oauth2/device/authorize"
    assert settings.token_url == "https://accounts.spotify.com/api/token"


def test_file_then_environment(tmp_path: Path) -> None:
    env = write(tmp_path, '[spotify]\nclient_id = "abc"\n[display]\ni2c_address = 0x3D\n')
    env["MAESTRO_SPOTIFY_ACCOUNTS_URL"] = "http://127.0.0.1:8765"
    env["MAESTRO_DISPLAY_ROTATE"] = "2"
    env["MAESTRO_TTS_RATE"] = "180"
    settings = config.load(env)
    assert settings.spotify.client_id == "abc"
    assert settings.display.i2c_address == 0x3D and settings.display.rotate == 2
    assert settings.tts.rate == 180
    # Auth endpoints follow the accounts service unless set explicitly.
    assert settings.token_url == "http://127.0.0.1:8765/api/token"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[spotify]\nclient_id = "abc\n', "line 2"),
        (
            '[spotify]\nclient_id = "a"\n\n[player]\ndefault_devise = "x"\n',
            ":5: player.default_devise: unknown key",
        ),
        ("[nonsense]\nx = 1\n", ":1: unknown section [nonsense]"),
        ('[display]\nrotate = "two"\n', ":2: display.rotate: must be an integer"),
        ('[tts]\nengine = "festival"\n', ":2: tts.engine: must be one of"),
    ],
)
def test_bad_files_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    env = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        config.load(env)
    assert str(tmp_path / "config.toml") in str(info.value)
    assert expected in str(info.value)
    assert info.value.exit_code == 2


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="MAESTRO_DISPLAY_ROTATE: must be an integer"):
        config.load({"MAESTRO_DISPLAY_ROTATE": "upside-down"})


def test_missing_named_config_file() -> None:
    with pytest.raises(ConfigError, match="not found"):
        config.load({"MAESTRO_CONFIG": "/nonexistent/maestro.toml"})


def test_state_dir_override(tmp_path: Path) -> None:
    assert config.state_dir({"MAESTRO_STATE_DIR": str(tmp_path)}) == tmp_path


def test_atomic_write_sets_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    atomic_write_text(target, "one", private=True)
    atomic_write_text(target, "two", private=True)
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["secret.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tokens.json"
    atomic_write_text(target, "old")

    def crash(*args: object) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["tokens.json"]


def test_help_lists_the_contract_commands() -> None:
    text = cli.build_parser().format_help()
    for command in (
        "demo",
        "run",
        "pair",
        "logout",
        "say",
        "parse",
        "listen",
        "devices",
        "tags",
        "models",
        "doctor",
        "bridge",
        "sandbox",
    ):
        assert command in text


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "maestro", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "sandbox" in result.stdout
