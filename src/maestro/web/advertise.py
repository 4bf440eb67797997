"""The web app announced on the local network by multicast DNS (zeroconf): phones and browsers
find ``http://<box>.local:8080``, and service browsers list "Maestro" under ``_http._tcp``."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator

log = logging.getLogger(__name__)

SERVICE = "_http._tcp.local."


def lan_addresses(host: str) -> list[str]:
    """The addresses a phone on the network reaches ``host`` at: itself, or for 0.0.0.0 every IPv4
    address of this machine but loopback."""
    if host not in ("0.0.0.0", "::", ""):
        return [] if ipaddress.ip_address(host).is_loopback else [host]
    import ifaddr  # zeroconf's own dependency: the interfaces, without a subprocess

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ipaddress.ip_address(ip.ip).is_loopback:
                found.append(ip.ip)
    return sorted(set(found))


@contextlib.asynccontextmanager
async def advertised(name: str, host: str, port: int) -> AsyncIterator[bool]:
    """Announces the web app while the block runs; yields whether it did (not for loopback, nor where
    multicast cannot be used: then the box's address still works, typed by hand)."""
    addresses = lan_addresses(host)
    if not addresses:
        yield False
        return
    from zeroconf import NonUniqueNameException
    from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

    hostname = socket.gethostname().split(".")[0]
    info = AsyncServiceInfo(
        SERVICE, f"{name}.{SERVICE}", port=port, properties={"path": "/"}, server=f"{hostname}.local.",
        parsed_addresses=addresses,
    )  # fmt: skip
    try:
        zeroconf = AsyncZeroconf(interfaces=addresses)
        await zeroconf.async_register_service(info, allow_name_change=True)
    except (OSError, NonUniqueNameException) as exc:
        log.info("the web app is not announced on the network: %s", exc)
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            await zeroconf.async_unregister_service(info)
        await zeroconf.async_close()
