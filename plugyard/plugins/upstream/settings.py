"""The ``[plugins.upstream]`` table: one ``[plugins.upstream.servers.NAME]`` per MCP server to mount.

A stdio server has ``command`` (and ``args``, ``env``, ``cwd``); a streamable HTTP server has ``url`` (and
``headers``). A value ``"env:NAME"`` in ``env`` or ``headers`` is read from plugyard's environment when
the server is connected, so the secret never sits in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENV_PREFIX = "env:"
SERVER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,48}$")
PREFIX = re.compile(r"^[a-zA-Z0-9_-]{0,48}$")


class MissingEnvironment(LookupError):
    """An ``"env:NAME"`` value names a variable that is not set."""


class ServerSettings(BaseModel):
    """One upstream MCP server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    prefix: str | None = None
    """Tools appear as ``<prefix>_<tool>``; default: the server's name; ``""`` for the tools' own names."""
    timeout: float = Field(default=30.0, gt=0)
    """Seconds a call (and connecting) may take."""
    capabilities: dict[str, list[str]] = Field(default_factory=dict)
    """capability -> the upstream's tool names (as the upstream names them), for the router."""
    protocol: Literal["auto", "legacy"] = "auto"
    """``auto``: 2026-07-28 when the server speaks it, else the 2025-11-25 handshake; ``legacy``: the handshake."""

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is not None and not PREFIX.fullmatch(value):
            raise ValueError(f"prefix {value!r} may hold only letters, digits, '_' and '-' (at most 48)")
        return value

    @model_validator(mode="after")
    def _one_transport(self) -> ServerSettings:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either command (a stdio server) or url (a streamable HTTP server), not both")
        if self.url is not None and (self.args or self.env or self.cwd):
            raise ValueError("args, env and cwd are for stdio servers (command); an url server takes headers")
        if self.command is not None and self.headers:
            raise ValueError("headers are for streamable HTTP servers (url); a stdio server takes env")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url {self.url!r} must start with http:// or https://")
        return self

    @property
    def transport(self) -> str:
        return "stdio" if self.command is not None else "http"

    def prefix_for(self, name: str) -> str:
        return name if self.prefix is None else self.prefix

    def resolved_env(self, name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        return _resolve(self.env, f"env of upstream {name!r}", environ)

    def resolved_headers(self, name: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
        return _resolve(self.headers, f"headers of upstream {name!r}", environ)


def _resolve(values: Mapping[str, str], where: str, environ: Mapping[str, str] | None) -> dict[str, str]:
    source = os.environ if environ is None else environ
    resolved = {}
    for key, value in values.items():
        if value.startswith(ENV_PREFIX):
            variable = value.removeprefix(ENV_PREFIX)
            if variable not in source:
                raise MissingEnvironment(f'{where}: {key} = "env:{variable}" but ${variable} is not set')
            value = source[variable]
        resolved[key] = value
    return resolved


class UpstreamSettings(BaseModel):
    """The upstream plugin's settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: dict[str, ServerSettings] = Field(default_factory=dict)
    restart_delay: float = Field(default=0.25, gt=0)
    """Seconds before the first restart of a server that failed; doubled each failure in a row."""
    max_restart_delay: float = Field(default=30.0, gt=0)
    ping_interval: float = Field(default=5.0, gt=0)
    """Seconds between liveness pings of each connected server."""

    @field_validator("servers")
    @classmethod
    def _names(cls, servers: dict[str, ServerSettings]) -> dict[str, ServerSettings]:
        for name in servers:
            if not SERVER_NAME.fullmatch(name):
                raise ValueError(f"server name {name!r} may hold only letters, digits, '_' and '-' (at most 48)")
        return servers
