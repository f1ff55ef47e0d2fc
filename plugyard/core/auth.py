"""Bearer tokens for the HTTP transport: who is calling.

Tokens never live in plugins.toml. The file may name, per user, the environment variable that
holds the token (``[server.auth_tokens] alice = "env:ALICE_TOKEN"``); ``PLUGYARD_AUTH_TOKENS``
may give ``user=token`` pairs separated by commas. A token is compared in constant time with
every known token, and is never logged. The user it belongs to becomes the user id of the
calls made with it.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

from plugyard.core.config import Config
from plugyard.core.errors import ConfigError

TOKENS_ENV = "PLUGYARD_AUTH_TOKENS"
MIN_TOKEN_CHARS = 16


class TokenTable:
    """The users who may call, each with one bearer token."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        for user, token in tokens.items():
            if len(token) < MIN_TOKEN_CHARS:
                raise ConfigError(
                    f"the token of user {user!r} is shorter than {MIN_TOKEN_CHARS} characters; "
                    "use a long random one (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        self._entries = [(user, token.encode()) for user, token in tokens.items()]

    def __bool__(self) -> bool:
        return bool(self._entries)

    @property
    def users(self) -> list[str]:
        return [user for user, _ in self._entries]

    def authenticate(self, token: str) -> str | None:
        """The user ``token`` belongs to, or None. Every entry is compared, whatever matches."""
        offered = token.encode()
        found = None
        for user, expected in self._entries:
            if hmac.compare_digest(offered, expected):
                found = user
        return found

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str] | None = None) -> TokenTable:
        env = os.environ if environ is None else environ
        tokens: dict[str, str] = {}
        for user, reference in config.server.auth_tokens.items():
            name = reference.removeprefix("env:")
            value = env.get(name)
            if not value:
                raise ConfigError(f"[server.auth_tokens] {user} names environment variable {name!r}, which is not set")
            tokens[user] = value
        for pair in filter(None, (p.strip() for p in env.get(TOKENS_ENV, "").split(","))):
            user, sep, token = pair.partition("=")
            if not sep or not user.strip() or not token.strip():
                raise ConfigError(f"{TOKENS_ENV} must hold user=token pairs separated by commas")
            tokens[user.strip()] = token.strip()
        return cls(tokens)
