"""What the end-to-end tests share: a session signed in to the live sandbox, its names fetched."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from maestro.session import Session
from tests.e2e.helpers import open_session
from tests.live import LiveSandbox


@pytest.fixture
async def session(live: LiveSandbox, tmp_path: Path) -> AsyncIterator[Session]:
    live.pair_into(tmp_path)
    session = open_session(live, tmp_path, MAESTRO_PLAYER_DEFAULT_DEVICE="Living Room")
    await session.ensure_library()
    yield session
    await session.aclose()
