"""Reading and writing the files Maestro keeps: one way in, atomic writes out.

Every file Maestro reads (config.toml, intents.yaml, tags.yaml, tokens.json, the
library cache, player.json...) comes through :func:`read_text`, which turns
bad bytes into a :class:`BadFileError` naming the file and the place, so each
reader can give its own clear message instead of a traceback. Only regular files
of sane size are read: a FIFO would hang the reader, ``/dev/zero`` would fill its
memory. Files the user owns are never left half-written.

The state directory is Maestro's own (0700, its files 0600: tokens, and the
library names and listening history that are the user's business): there
:func:`read_private` follows no symbolic link, and :func:`atomic_write_bytes` with
``private=True`` replaces a link rather than writing through it, so no link can
make Maestro read or change another file. In the config directory, links are
followed (dotfiles are often links) and written through.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

from maestro.errors import UsageError


class BadFileError(UsageError):
    """A file that cannot be read as UTF-8 text (or at all); the message names it and says why."""

    def __init__(self, message: str, *, permission: bool = False, link: bool = False) -> None:
        super().__init__(message)
        #: Not damage: this user may not read it (the file is fine; its owner or mode is not).
        self.permission = permission
        #: Not damage either: a link, a pipe or a device stands where the file should be. It is
        #: not Maestro's to move aside; the user is told what to remove.
        self.not_a_file = link


#: No file Maestro reads comes near this (a library of 10,000 names is about 1 MB).
MAX_READ_BYTES = 32 * 1024 * 1024
_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a pipe (FIFO)", stat.S_IFCHR: "a device",
          stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}  # fmt: skip


def read_text(path: Path, *, follow_links: bool = True) -> str:
    """The file as text. FileNotFoundError passes through (callers treat "none yet" their own way);
    every other problem is a BadFileError naming the file. Only a regular file is read."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow_links else os.O_NOFOLLOW)  # a FIFO opens, then fails
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except PermissionError as exc:
        raise BadFileError(f"{path}: this user may not read it ({owner_of(path)})", permission=True) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise BadFileError(f"{path}: a symbolic link; Maestro keeps this file itself and follows no "
                               "link here. Remove the link.", link=True) from exc  # fmt: skip
        raise BadFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        if stat.S_ISDIR(info.st_mode):
            raise BadFileError(f"{path}: a directory, not a file")
        raise BadFileError(f"{path}: {kind}, not a file Maestro can read", link=True)
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(MAX_READ_BYTES + 1)
        except OSError as exc:
            raise BadFileError(f"{path}: cannot be read ({exc.strerror})") from exc
    if len(data) > MAX_READ_BYTES:
        raise BadFileError(f"{path}: too large to be a file of Maestro's (over {MAX_READ_BYTES >> 20} MB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadFileError(
            f"{path}:{line}: not UTF-8 text (byte {data[exc.start]:#04x}); save it as UTF-8"
        ) from exc


def read_private(path: Path) -> str:
    """A file of the state directory: as :func:`read_text`, and a symbolic link is refused."""
    return read_text(path, follow_links=False)


def read_json(path: Path, *, private: bool = True) -> Any:
    """A JSON file (the state directory's, by default); ValueError when it is not JSON."""
    return loads(read_text(path, follow_links=not private))


def loads(text: str | bytes) -> Any:
    """``json.loads``, where nesting too deep for Python's parser (a hostile answer: 100,000
    brackets) is a ValueError like any other bad JSON, not a RecursionError that ends the process."""
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc


def private_dir(directory: Path) -> Path:
    """The state directory, made when missing and kept 0700: what is in it is the user's alone.
    Anything in the way is a UsageError that says what to do."""
    directory = Path(directory)
    try:
        _make_private(directory)
    except FileExistsError as exc:
        raise UsageError(f"{directory} is a file, not a directory: Maestro keeps its state there. "
                         "Move the file, or point MAESTRO_STATE_DIR at a directory.") from exc  # fmt: skip
    except NotADirectoryError as exc:
        raise UsageError(f"{directory}: part of that path is a file, not a directory. Point "
                         "MAESTRO_STATE_DIR at a directory.") from exc  # fmt: skip
    except PermissionError as exc:
        raise UsageError(f"Maestro cannot create {directory} ({owner_of(directory.parent)}). Fix: "
                         f"sudo mkdir -p {directory} && sudo chown $USER {directory}, "
                         "or set MAESTRO_STATE_DIR.") from exc  # fmt: skip
    return directory


def _make_private(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # not ours to change: reading and writing still work
        info = directory.stat()
        if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
            os.chmod(directory, 0o700)


def atomic_write_bytes(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one.

    The temporary file lives in the same directory (a rename across file systems
    is not atomic), gets its final mode before any byte is written (a secret is
    never readable by others, not even briefly), is fsynced, then renamed over the
    target; the directory is fsynced so the rename survives a power cut. A
    ``private`` file (the state directory's) is 0600 in a 0700 directory and
    replaces a link that stands in its place; any other file is 0644 and is written
    where a link points.
    """
    path = Path(path)
    mode = 0o600 if private else 0o644
    if private:
        _make_private(path.parent)
    else:
        if path.is_symlink():
            path = path.resolve()
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


def atomic_write_text(path: Path, text: str, *, private: bool = False) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), private=private)


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
