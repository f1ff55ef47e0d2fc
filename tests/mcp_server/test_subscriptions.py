"""Resource subscriptions and list-changed notifications, on both protocol versions.

2026-07-28 clients listen (``subscriptions/listen``); 2025-11-25 clients ``resources/subscribe`` and
receive notifications on their session. The capabilities advertised say exactly that.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged
from mcp.types import ServerNotification

from plugyard.mcp_server.server import PlugyardServer

pytestmark = pytest.mark.anyio


class Inbox:
    """Notifications a handshake-era client received."""

    def __init__(self) -> None:
        self.send, self.receive = anyio.create_memory_object_stream[Any](100)

    async def __call__(self, message: Any) -> None:
        if isinstance(message, ServerNotification):
            await self.send.send(message)

    def close(self) -> None:
        self.send.close()
        self.receive.close()

    async def next_method(self) -> tuple[str, Any]:
        message = await self.receive.receive()
        return message.method, getattr(message.params, "uri", None)


async def test_capabilities_advertise_subscribe_and_list_changed(plugyard_client):
    caps = plugyard_client.server_capabilities
    assert caps.resources.subscribe is True and caps.resources.list_changed is True
    assert caps.tools.list_changed is True and caps.prompts.list_changed is True
    assert caps.completions is not None and caps.logging is not None


async def test_a_2026_client_listening_hears_its_resource_and_list_changes(plugyard_host, plugyard_history):
    async with (
        Client(PlugyardServer(plugyard_host)) as client,
        client.listen(resource_subscriptions=["feature://notes/alpha"], tools_list_changed=True) as events,
    ):
        await client.call_tool("touch", {"name": "beta"})  # not subscribed
        await client.call_tool("touch", {"name": "alpha"})
        assert await events.__anext__() == ResourceUpdated(uri="feature://notes/alpha")
        await plugyard_host.notify_lists_changed()
        assert await events.__anext__() == ToolsListChanged()
    assert [c["tool_name"] for c in await plugyard_history.calls()] == ["touch", "touch"]


async def test_a_2026_client_hears_every_list_change_it_asked_for(plugyard_host):
    async with (
        Client(PlugyardServer(plugyard_host)) as client,
        client.listen(tools_list_changed=True, prompts_list_changed=True, resources_list_changed=True) as events,
    ):
        await plugyard_host.notify_lists_changed()
        got = {await events.__anext__() for _ in range(3)}
    assert got == {ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()}


# Client.subscribe_resource is marked deprecated at 2026-07-28; handshake-era clients still send it.
@pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")
async def test_a_2025_client_subscribed_hears_updates_and_list_changes(plugyard_host, plugyard_history):
    inbox = Inbox()
    async with Client(PlugyardServer(plugyard_host), mode="legacy", message_handler=inbox) as client:
        await client.subscribe_resource("feature://notes/alpha")
        await client.call_tool("touch", {"name": "beta"})  # not subscribed
        await client.call_tool("touch", {"name": "alpha"})
        assert await inbox.next_method() == ("notifications/resources/updated", "feature://notes/alpha")
        await client.unsubscribe_resource("feature://notes/alpha")
        await client.call_tool("touch", {"name": "alpha"})
        await plugyard_host.notify_lists_changed()
        assert [await inbox.next_method() for _ in range(3)] == [
            ("notifications/tools/list_changed", None),
            ("notifications/prompts/list_changed", None),
            ("notifications/resources/list_changed", None),
        ]
    inbox.close()
    assert len(await plugyard_history.calls(tool_name="touch")) == 3
