"""The HTTP listening sockets: bound before the host starts, one port for every address."""

from __future__ import annotations

import socket

import pytest

from plugyard.core.errors import ConfigError
from plugyard.mcp_server.listen import bind_sockets, http_url


def test_urls_bracket_ipv6_addresses():
    assert http_url("::1", 8000, "/mcp") == "http://[::1]:8000/mcp"
    assert http_url("[::1]", 8000) == "http://[::1]:8000"
    assert http_url("127.0.0.1", 8000, "/mcp") == "http://127.0.0.1:8000/mcp"
    assert http_url("localhost", 1) == "http://localhost:1"


def test_port_zero_gets_one_real_port_for_every_address():
    sockets = bind_sockets("localhost", 0)
    try:
        ports = {s.getsockname()[1] for s in sockets}
        assert len(ports) == 1 and ports != {0}
    finally:
        for sock in sockets:
            sock.close()


def test_a_taken_port_and_a_bad_address_are_config_errors():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"127\.0\.0\.1:{port}: the port is already in use"):
            bind_sockets("127.0.0.1", port)
    with pytest.raises(ConfigError, match="out of range"):
        bind_sockets("127.0.0.1", 99999)
    with pytest.raises(ConfigError, match="does not resolve"):
        bind_sockets("no-such-host.invalid", 0)
    with pytest.raises(ConfigError, match="is not an address of this machine"):
        bind_sockets("192.0.2.1", 0)
