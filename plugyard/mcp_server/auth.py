"""Bearer-token authentication for streamable HTTP, through the mcp SDK's own auth support.

The decision (which token belongs to whom) is ``plugyard.core.auth.TokenTable``; this module
only presents it to the SDK as a ``TokenVerifier``. The SDK answers 401 with a
``WWW-Authenticate`` header for a missing or unknown token, and hands the token's user to the
call through ``get_access_token()``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings

from plugyard.core.auth import TokenTable


class StaticTokenVerifier:
    def __init__(self, table: TokenTable) -> None:
        self._table = table

    async def verify_token(self, token: str) -> AccessToken | None:
        user = self._table.authenticate(token)
        if user is None:
            return None
        return AccessToken(token=token, client_id=user, subject=user, scopes=[])


def auth_options(table: TokenTable, base_url: str) -> dict[str, Any]:
    """Keyword arguments for ``MCPServer`` that require a bearer token on every MCP request."""
    if not table:
        return {}
    settings = AuthSettings(
        # The SDK's model requires an issuer; only an authorization server provider would publish it.
        issuer_url=base_url,
        # No protected-resource metadata: it would have to name an authorization server, and no
        # authorization server issues these tokens (the operator hands them out). A 401 therefore
        # says "Bearer" and nothing a client could follow to a server that does not exist.
        resource_server_url=None,
    )
    return {"token_verifier": StaticTokenVerifier(table), "auth": settings}
