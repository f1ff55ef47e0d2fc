"""The Host and Origin check in front of every HTTP path, ``/healthz`` included.

The SDK checks Host and Origin on its MCP endpoint only, and its ``host:*`` pattern takes whatever
follows the colon (``Host: 127.0.0.1:evil`` passes). This middleware runs first, for every request:
an allowed entry matches exactly (case-insensitive), and ``name:*`` matches ``name:<port>`` with a port
of 1-65535 in digits only. A refused Host gets 421, a refused Origin 403, as from the SDK.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def matches(value: str, allowed: Sequence[str]) -> bool:
    """Whether ``value`` (a Host, or an Origin's scheme://host:port) fits one of ``allowed``."""
    value = value.lower()
    for entry in allowed:
        entry = entry.lower()
        if value == entry:
            return True
        if entry.endswith(":*"):
            base = entry[:-1]  # "name:"
            port = value[len(base) :] if value.startswith(base) else ""
            if port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) <= 65535:
                return True
    return False


class HostCheck:
    """ASGI middleware: refuse requests whose Host (or Origin, when sent) is not allowed."""

    def __init__(self, app: ASGIApp, hosts: Sequence[str], origins: Sequence[str]) -> None:
        self.app = app
        self.hosts = list(hosts)
        self.origins = list(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = Headers(scope=scope)
            host = headers.get("host")
            if not host or not matches(host, self.hosts):
                await Response("Invalid Host header", status_code=421)(scope, receive, send)
                return
            origin = headers.get("origin")
            if origin and not matches(origin, self.origins):
                await Response("Invalid Origin header", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)
