"""Reading and writing the files Maestro keeps: one way in, atomic writes out.

Every file Maestro reads (config.toml, intents.yaml, tags.yaml, tokens.json, the
library cache, player.json...) comes through :func:`read_text`, which turns
bad bytes into a :class:`BadFileError` naming the file and the place, so each
reader can give its own clear message instead of a traceback. Files the user
owns are never left half-written.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from maestro.errors import UsageError


class BadFileError(UsageError):
    """A file that cannot be read as UTF-8 text (or at all); the message names it and says why."""

    def __init__(self, message: str, *, permission: bool = False) -> None:
        super().__init__(message)
        #: Not damage: this user may not read it (the file is fine; its owner or mode is not).
        self.permission = permission


def read_text(path: Path) -> str:
    """The file as text. FileNotFoundError passes through (callers treat "none yet" their own way);
    every other problem is a BadFileError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError as exc:
        raise BadFileError(f"{path}: a directory, not a file") from exc
    except PermissionError as exc:
        raise BadFileError(f"{path}: this user may not read it ({owner_of(path)})", permission=True) from exc
    except OSError as exc:
        raise BadFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadFileError(
            f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x}); save it as UTF-8"
        ) from exc


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one.

    The temporary file lives in the same directory (a rename across file systems
    is not atomic), gets its final mode before any byte is written (a secret is
    never readable by others, not even briefly), is fsynced, then renamed over the
    target; the directory is fsynced so the rename survives a power cut.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = 0o644) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename still happened
    finally:
        os.close(dir_fd)


def owner_of(path: Path) -> str:
    """ "owned by pi" (or by uid 1000), for messages about permissions."""
    try:
        uid = Path(path).stat().st_uid
    except OSError:
        return "owner unknown"
    try:
        import pwd

        return f"owned by {pwd.getpwuid(uid).pw_name}"
    except (ImportError, KeyError):
        return f"owned by uid {uid}"
