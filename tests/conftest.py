from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from maestro.sandbox.app import create_app
from tests.live import DEVICE_GRANT, LiveSandbox, running_sandbox, sign_in  # noqa: F401 (re-exported)

# Nothing a test writes reaches the user's own state directory (tokens, the learned parser, the
# speech caches): one for the whole run, shared so its caches are built once; tests that need a
# state of their own set MAESTRO_STATE_DIR themselves.
if "MAESTRO_STATE_DIR" not in os.environ:
    os.environ["MAESTRO_STATE_DIR"] = tempfile.mkdtemp(prefix="maestro-test-state-")
    atexit.register(shutil.rmtree, os.environ["MAESTRO_STATE_DIR"], ignore_errors=True)

# Nor the user's own config directory (tags.yaml, speakers.yaml beside config.toml): a test that
# writes there without naming a config of its own writes into this one, deleted after the run.
if "MAESTRO_CONFIG" not in os.environ:
    _config_dir = tempfile.mkdtemp(prefix="maestro-test-config-")
    os.environ["MAESTRO_CONFIG"] = os.path.join(_config_dir, "config.toml")
    open(os.environ["MAESTRO_CONFIG"], "w").close()  # named, so it must be there: empty, the defaults
    atexit.register(shutil.rmtree, _config_dir, ignore_errors=True)

# `maestro run` serves its web app on 0.0.0.0:8080 by default; no test takes that port (the web
# app's own tests turn it on, on a free loopback port).
os.environ.setdefault("MAESTRO_WEB_ENABLED", "false")

LIVING_ROOM = "c7b60f3edf3318e80575d5e28c1ce24aa99a9025"
KITCHEN = "018618c0e1e71a7995c1470d7258dd8963728818"
DEN_TV = "9a1f2c7e4b0d4e58b6b3f0e1d2c3a4b5c6d7e8f9"


@pytest.fixture
def sandbox() -> Iterator[TestClient]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(create_app(), base_url="http://127.0.0.1:8765")
    with client:
        yield client


def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


@pytest.fixture
def auth(sandbox: TestClient) -> dict[str, str]:
    return bearer(sign_in(sandbox))


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveSandbox]:
    with running_sandbox() as live:
        yield live


@pytest.fixture
def live(live_server: LiveSandbox) -> LiveSandbox:
    live_server.control("reset")
    live_server.state.clock.offset = 0.0
    return live_server


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e/ is end to end, and slow."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
