"""`maestro models get`: download with progress, SHA-256, resume, atomic unpack — against a local server."""

from __future__ import annotations

import hashlib
import io
import socket
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from maestro import cli
from maestro.errors import MaestroError, UsageError
from maestro.serving import serve_in_thread
from maestro.voice import models
from maestro.voice.models import ModelInfo


def model_zip(top: str = "vosk-model-test") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        bundle.writestr(f"{top}/am/final.mdl", b"acoustic" * 5000)
        bundle.writestr(f"{top}/conf/model.conf", b"--sample-frequency=16000\n")
        bundle.writestr(f"{top}/graph/words.txt", b"hello 1\n")
    return buffer.getvalue()


class Server:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.ranges: list[str] = []

    async def serve(self, request: Request) -> Response:
        wanted = request.headers.get("range", "")
        self.ranges.append(wanted)
        if wanted.startswith("bytes="):
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(self.body):
                return Response(status_code=416)
            return Response(
                self.body[start:], status_code=206,
                headers={"content-range": f"bytes {start}-{len(self.body) - 1}/{len(self.body)}"},
            )  # fmt: skip
        return Response(self.body, media_type="application/zip")


@pytest.fixture
def server() -> Iterator[tuple[Server, str]]:
    state = Server(model_zip())
    app = Starlette(routes=[Route("/model.zip", state.serve)])
    with serve_in_thread(app) as base:
        yield state, f"{base}/model.zip"


def info(url: str, body: bytes, *, sha256: str | None = None) -> ModelInfo:
    digest = sha256 if sha256 is not None else hashlib.sha256(body).hexdigest()
    return ModelInfo("test-model", url, "vosk-model-test", digest, len(body), "a test model")


def test_download_checks_and_unpacks_atomically_with_progress(
    tmp_path: Path, server: tuple[Server, str]
) -> None:
    state, url = server
    progress = io.StringIO()
    path = models.download(info(url, state.body), tmp_path, progress=progress)
    assert path == tmp_path / "vosk-model-test"
    assert (path / "am" / "final.mdl").read_bytes() == b"acoustic" * 5000
    assert "100%" in progress.getvalue() and "test-model" in progress.getvalue()
    assert not list((tmp_path / ".partial").iterdir())  # the zip is gone once unpacked
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".unpack")] == []
    # Installed already: no second download.
    assert models.download(info(url, state.body), tmp_path, progress=None) == path
    assert len(state.ranges) == 1


def test_checksum_mismatch_installs_nothing(tmp_path: Path, server: tuple[Server, str]) -> None:
    state, url = server
    with pytest.raises(MaestroError, match=r"SHA-256 .* expected 0000.*Nothing was installed"):
        models.download(info(url, state.body, sha256="0" * 64), tmp_path, progress=None)
    assert not (tmp_path / "vosk-model-test").exists()
    assert not list((tmp_path / ".partial").iterdir())
    assert [p.name for p in tmp_path.iterdir()] == [".partial"]


def test_a_cut_download_resumes_where_it_stopped(tmp_path: Path, server: tuple[Server, str]) -> None:
    state, url = server
    partial = tmp_path / ".partial" / "vosk-model-test.zip"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(state.body[:1000])
    path = models.download(info(url, state.body), tmp_path, progress=None)
    assert state.ranges == ["bytes=1000-"]
    assert (path / "graph" / "words.txt").read_bytes() == b"hello 1\n"


def test_offline_is_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    body = model_zip()
    with pytest.raises(MaestroError, match="Is the box online"):
        models.download(info(f"http://127.0.0.1:{port}/model.zip", body), tmp_path, progress=None)
    assert not (tmp_path / "vosk-model-test").exists()


def test_a_model_without_pinned_checksum_needs_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="--sha256"):
        models.get("vosk-en-us-lgraph", tmp_path, progress=None)
    with pytest.raises(UsageError, match="No model called"):
        models.get("whisper", tmp_path)


def test_cli_get_and_list(
    tmp_path: Path,
    server: tuple[Server, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    state, url = server
    monkeypatch.setenv("MAESTRO_MODELS_DIR", str(tmp_path))
    monkeypatch.setitem(models.CATALOG, "test-model", info(url, state.body))
    assert cli.main(["models", "get", "test-model"]) == 0
    assert "Installed test-model" in capsys.readouterr().out
    assert cli.main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "pocketsphinx-en-us  installed" in listing
    assert f"test-model          installed in {tmp_path / 'vosk-model-test'}" in listing
    assert "vosk-small-en-us    not installed" in listing
