"""A real MCP server (the SDK's MCPServer) for the upstream plugin's tests: stdio by default,
``--http PORT --token TOKEN`` for streamable HTTP with a bearer token."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Annotated, Any

import anyio
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve, Sample
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CreateMessageResult, SamplingMessage, TextContent, ToolAnnotations
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import BaseModel


class Sum(BaseModel):
    total: int


class Confirm(BaseModel):
    ok: bool


def _question() -> Sample:
    return Sample(
        [SamplingMessage(role="user", content=TextContent(type="text", text="Six times seven?"))], max_tokens=20
    )


def _confirm() -> Elicit[Confirm]:
    return Elicit("Proceed?", Confirm)


class Verifier:
    def __init__(self, token: str) -> None:
        self.token = token

    async def verify_token(self, token: str) -> AccessToken | None:
        return AccessToken(token=token, client_id="tests", scopes=[]) if token == self.token else None


def build(token: str | None = None, port: int = 0) -> MCPServer:
    options: dict[str, Any] = {}
    if token is not None:
        options = {
            "token_verifier": Verifier(token),
            "auth": AuthSettings(issuer_url=f"http://127.0.0.1:{port}", resource_server_url=None),
        }
    server = MCPServer("upstream-fixture", **options)

    @server.tool(annotations=ToolAnnotations(read_only_hint=True, title="Add two numbers"))
    def add(a: int, b: int) -> Sum:
        """Add a and b."""
        return Sum(total=a + b)

    @server.tool()
    def echo(text: str) -> str:
        """Say it back."""
        return text

    @server.tool()
    def refuse(reason: str) -> str:
        """Always fails with the reason."""
        raise ToolError(reason)

    @server.tool()
    async def chatty(ctx: Context, steps: int = 3) -> str:
        """Reports progress and logs."""
        for i in range(steps):
            await ctx.report_progress(i + 1, steps, f"step {i + 1}")
        await ctx.info("chatty is done")
        return f"{steps} steps"

    @server.tool()
    async def sleepy(marker: str, seconds: float = 30) -> str:
        """Sleeps; writes "cancelled" to the marker file when its call is cancelled."""
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            Path(marker).write_text("cancelled")  # noqa: ASYNC240 - a few bytes, while being cancelled
            raise
        return "slept"

    @server.tool()
    async def ask(answer: Annotated[CreateMessageResult, Resolve(_question)]) -> str:
        """Asks the client's model."""
        assert isinstance(answer.content, TextContent)
        return f"the model says {answer.content.text}"

    @server.tool()
    async def proceed(choice: Annotated[Confirm, Resolve(_confirm)]) -> str:
        """Asks the user."""
        return f"ok={choice.ok}"

    @server.tool()
    def pid() -> int:
        """This server's process id."""
        return os.getpid()

    @server.tool()
    def crash() -> str:
        """Ends the process at once."""
        os._exit(3)

    @server.tool()
    async def grow(ctx: Context, name: str) -> str:
        """Adds a tool called name, and says the list changed."""
        server.add_tool(lambda: f"I am {name}", name=name, description="added while serving")
        await ctx.notify_tools_changed()  # 2026-07-28: to subscriptions/listen streams
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            await ctx.session.send_tool_list_changed()  # the handshake era's notification
        return "added"

    @server.resource("fixture://readme", mime_type="text/plain")
    def readme() -> str:
        """The fixture's readme."""
        return "read me"

    @server.resource("fixture://items/{item}")
    def item(item: str) -> str:
        """One item."""
        return f"item {item}"

    @server.prompt()
    def review(code: str, language: str = "python") -> str:
        """Review some code."""
        return f"Review this {language}: {code}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int)
    parser.add_argument("--token")
    args = parser.parse_args()
    if args.http is None:
        build().run()
    else:
        build(args.token, args.http).run("streamable-http", host="127.0.0.1", port=args.http)


if __name__ == "__main__":
    main()
