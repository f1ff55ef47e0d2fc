"""The HTTP listening sockets, bound before anything else starts.

uvicorn binds by itself only after the application's start-up, and a failure there is a log
line and ``sys.exit(1)`` (or an ``OverflowError`` for a port out of range). Binding here first
makes a taken port a one-line ``ConfigError`` before the host starts, and gives port 0 its real
number for the URLs printed and advertised.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import AsyncIterator

from plugyard.core.errors import ConfigError


def http_url(bind: str, port: int, path: str = "") -> str:
    """The URL a client uses for ``bind:port``: an IPv6 address goes in brackets."""
    host = bind.strip("[]")
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


def bind_sockets(bind: str, port: int) -> list[socket.socket]:
    """Bind every address ``bind`` resolves to on ``port`` (one port for all, also when ``port``
    is 0), not yet listening; uvicorn listens on them. A port that is taken or an address that
    cannot be bound is a ``ConfigError`` in one line, before anything else starts."""
    if not 0 <= port <= 65535:
        raise ConfigError(f"HTTP port {port} is out of range (0-65535); choose another with --port or [server] port")
    try:
        found = socket.getaddrinfo(bind.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"cannot serve HTTP on {bind!r}: the address does not resolve ({exc})") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _name, address in dict.fromkeys(found):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            try:
                sock.bind(address)
            except OSError as exc:
                raise ConfigError(_bind_failure(bind, int(address[1]), exc)) from None
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind_failure(bind: str, port: int, exc: OSError) -> str:
    where = http_url(bind, port).removeprefix("http://")
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot serve HTTP on {where}: the port is already in use (another plugyard?); "
            "choose another with --port or [server] port"
        )
    if exc.errno == errno.EACCES:
        return f"cannot serve HTTP on {where}: permission denied (ports below 1024 need privileges); choose another"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot serve HTTP on {where}: {bind!r} is not an address of this machine"
    return f"cannot serve HTTP on {where}: {exc.strerror or exc}"


@contextlib.asynccontextmanager
async def closing(sockets: list[socket.socket]) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for sock in sockets:
            sock.close()
