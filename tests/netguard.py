"""A test-wide network guard: no socket may connect outside the loopback range (127.0.0.0/8, ::1).

It sits under Harvest's own SSRF guard, at ``socket.socket.connect`` (asyncio and aiohttp connect
through it too), so a test cannot reach another machine even if the product's guard is broken. Each
refused attempt is recorded in ``violations`` and raises ``ConnectionRefusedError``; ``tests/conftest.py``
fails the test that made it. Subprocesses get it through ``tests/netguard_site/sitecustomize.py``
(prepend that folder to ``PYTHONPATH``), which prints ``NETWORK GUARD`` on stderr for each refusal.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from typing import Any

violations: list[str] = []
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):
        return True  # AF_UNIX paths and other non-IP families
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _refuse(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address):
        violations.append(repr(address))
        print(f"NETWORK GUARD: refused a connection to {address!r} (outside loopback)", file=sys.stderr)
        raise ConnectionRefusedError(f"test network guard: {address!r} is outside loopback")


def _connect(self: socket.socket, address: Any) -> None:
    _refuse(self, address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    _refuse(self, address)
    return _real_connect_ex(self, address)


def install() -> None:
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


def uninstall() -> None:
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
