"""Tool search mode: with hundreds of tools, tools/list shows the few that find the rest.

``[server] tool_search`` ("auto" by default: on above ``tool_search_threshold`` registered tools)
turns it on when some plugin registered a discovery tool (``register(fn, discovery=True)``, a search
over the registry). Then ``tools/list`` shows only the pinned tools, the discovery tools and the
kernel's ``call_tool(name, arguments)``: a proxy that runs any tool through the same pipeline, as
that tool (validated, hooked, timed and recorded under its own name; the proxy itself leaves no
trace). Hidden tools stay callable by name. Which tools count is decided here, for any plugin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from plugyard.core.config import ServerSettings
from plugyard.core.errors import UnknownTool

if TYPE_CHECKING:
    from plugyard.core.tools import Tool, ToolRegistry

PROXY_TOOL = "call_tool"
PROXY_DESCRIPTION = (
    "Call any registered tool by its name with its arguments, including tools not listed here "
    "(find them with the search tool first). The call runs and is recorded as that tool's own."
)
PROXY_INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The tool's name, as a search returned it."},
        "arguments": {
            "type": "object",
            "description": "The tool's arguments, per its input schema.",
            "additionalProperties": True,
        },
    },
    "required": ["name"],
    "additionalProperties": False,
}


def search_on(settings: ServerSettings, tools: ToolRegistry) -> bool:
    """Whether tools/list hides the tools that are neither pinned nor discovery tools."""
    if settings.tool_search == "off" or not any(t.discovery for t in tools):
        return False
    return settings.tool_search == "on" or len(tools) > settings.tool_search_threshold


def listed_when_searching(settings: ServerSettings, tools: ToolRegistry) -> list[Tool]:
    """The pinned tools (in their order), then the discovery tools (in registration order)."""
    pinned = [t for t in (tools.get(n) for n in dict.fromkeys(settings.pinned_tools)) if t is not None]
    names = {t.name for t in pinned}
    return pinned + [t for t in tools if t.discovery and t.name not in names]


def unwrap(arguments: Mapping[str, Any] | None) -> tuple[str, Mapping[str, Any]]:
    """The tool and arguments a ``call_tool`` call names; refused (not recorded) when malformed."""
    args = dict(arguments or {})
    name = args.pop("name", None)
    inner = args.pop("arguments", None)
    if not isinstance(name, str) or not name:
        raise UnknownTool(f"{PROXY_TOOL} needs 'name': the name of the tool to call (a string)")
    if args:
        raise UnknownTool(f"{PROXY_TOOL} takes only 'name' and 'arguments', not {sorted(args)}")
    if inner is None:
        inner = {}
    if not isinstance(inner, Mapping):
        raise UnknownTool(f"{PROXY_TOOL}: 'arguments' must be an object of tool {name!r}'s arguments")
    if name == PROXY_TOOL:
        raise UnknownTool(f"{PROXY_TOOL} cannot call itself; name the tool to call")
    return name, inner
