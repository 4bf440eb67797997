"""The web app announced by multicast DNS on this machine's network, and not for loopback."""

from __future__ import annotations

import pytest

from maestro.web.advertise import SERVICE, advertised, lan_addresses


async def test_loopback_is_not_announced() -> None:
    assert lan_addresses("127.0.0.1") == []
    async with advertised("Maestro", "127.0.0.1", 8080) as announced:
        assert announced is False


async def test_a_service_browser_finds_the_box() -> None:
    addresses = lan_addresses("0.0.0.0")
    if not addresses:
        pytest.skip("this machine has no network address but loopback: nothing to announce on")
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    async with advertised("Maestro Test Box", "0.0.0.0", 18080) as announced:
        assert announced
        browser = AsyncZeroconf(interfaces=addresses)
        try:
            info = AsyncServiceInfo(SERVICE, f"Maestro Test Box.{SERVICE}")
            assert await info.async_request(browser.zeroconf, 3000)
        finally:
            await browser.async_close()
    assert info.port == 18080 and set(info.parsed_addresses()) <= set(addresses)
    assert info.properties[b"path"] == b"/"
