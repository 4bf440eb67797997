"""The settings the web app writes: checked value by value, written with the file's comments, the
whole file checked again; nothing written when anything is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from maestro import config
from maestro.errors import ConfigError
from maestro.web.settings import changed_settings, shadowed, write_settings


def test_values_are_checked_and_the_file_keeps_its_comments(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n[voice]\nduck_volume = 30  # quieter\n")
    settings = config.load({"MAESTRO_CONFIG": str(path)})
    new, changed = changed_settings(settings, {"voice.duck_volume": "30", "tts.rate": "170"})
    assert changed == ["tts.rate"]  # the same value is no change
    write_settings(path, new, changed)
    assert path.read_text() == "# mine\n[voice]\nduck_volume = 30  # quieter\n\n[tts]\nrate = 170\n"
    for form, message in [({"tts.rate": "fast"}, r"Speaking rate \(tts.rate\): must be an integer"),
                          ({"voice.engine": "siri"}, r"Recogniser \(voice.engine\): must be one of"),
                          ({"spotify.client_id": "x"}, "not a setting the web app changes")]:  # fmt: skip
        with pytest.raises(ConfigError, match=message):
            changed_settings(settings, form)


def test_a_broken_file_is_not_written_over(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[voice\nduck_volume = 30\n")
    new, changed = changed_settings(config.Settings(), {"voice.duck_volume": "20"})
    with pytest.raises(ConfigError, match="not valid TOML"):
        write_settings(path, new, changed)
    assert path.read_text() == "[voice\nduck_volume = 30\n"
    assert list(tmp_path.iterdir()) == [path]  # no check file left behind


def test_a_variable_wins_over_the_file() -> None:
    assert shadowed(["voice.engine", "tts.rate"], {"MAESTRO_VOICE_ENGINE": "whisper"}) == ["voice.engine"]
