"""Every error plugyard raises, under one root.

    PlugyardError
    ├── ConfigError              plugins.toml or an environment override is invalid
    ├── PluginError              a plugin could not be loaded or registered (names the plugin)
    │   └── ToolNameClash        two plugins register the same tool name (names both)
    ├── ToolCallError            a tool call did not produce a result (the client sees the message)
    │   ├── UnknownTool
    │   ├── InvalidArguments
    │   ├── ToolVetoed           a before_tool_call hook refused the call
    │   ├── ToolTimeout
    │   └── ToolFailed           the tool itself raised
    │       └── ToolResultError  the tool answered a RawResult with is_error (forwarded as it is)
    ├── ClientFeatureUnavailable a tool asked the MCP client for sampling/elicitation it did not declare
    ├── ResourceNotFound         no registered resource matches a URI
    ├── PromptNotFound           no registered prompt has that name
    ├── PromptArgumentsInvalid   a prompt was asked for with missing or unknown arguments
    └── InputRequired            not a failure: a tool asked its client a question not answered yet

A feature package defines its own errors under ``PlugyardError``, beside its code (its module
documents them); the public face re-exports those a plugin or a host's driver may meet.
Every message names the plugin, tool or setting at fault and, where there is one, the fix.
"""

from __future__ import annotations

from typing import Any


class PlugyardError(Exception):
    """The root of every error plugyard raises on purpose."""


class ConfigError(PlugyardError):
    """The configuration (plugins.toml, PLUGYARD_* variables) is invalid."""


class PluginError(PlugyardError):
    """A plugin failed to import, to register, or declared something invalid."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin


class ToolNameClash(PluginError):
    """Two plugins registered a tool under the same name."""

    def __init__(self, name: str, first: str, second: str) -> None:
        PlugyardError.__init__(
            self,
            f"tool name {name!r} is registered by both plugin {first!r} and plugin {second!r}; "
            f"disable one of them in plugins.toml or rename the tool",
        )
        self.plugin = second
        self.name = name
        self.plugins = (first, second)


class ToolCallError(PlugyardError):
    """A tool call ended without a result. ``kind`` is what gets recorded as the error type."""

    kind = "ToolCallError"


class UnknownTool(ToolCallError):
    kind = "UnknownTool"


class InvalidArguments(ToolCallError):
    kind = "InvalidArguments"


class ToolVetoed(ToolCallError):
    kind = "ToolVetoed"

    def __init__(self, message: str, plugin: str) -> None:
        super().__init__(message)
        self.plugin = plugin


class ToolTimeout(ToolCallError):
    kind = "ToolTimeout"


class ToolFailed(ToolCallError):
    """The tool raised; ``__cause__`` is what it raised."""

    kind = "ToolFailed"


class ToolResultError(ToolFailed):
    """The tool answered a ``RawResult`` with ``is_error``: a failed call whose result still reaches
    the client as it is (``result``)."""

    kind = "ToolResultError"

    def __init__(self, message: str, result: Any) -> None:
        super().__init__(message)
        self.result = result


class ClientFeatureUnavailable(PlugyardError):
    """The client cannot do what a tool asked (it declared no sampling or elicitation, or there is
    no client at all, as in a direct ``host.call_tool``)."""


class ResourceNotFound(PlugyardError):
    """No registered resource or template matches the URI."""


class PromptNotFound(PlugyardError):
    """No registered prompt has this name."""


class PromptArgumentsInvalid(PlugyardError):
    """A prompt was asked for without a required argument, or with one it does not take."""


class InputRequired(PlugyardError):
    """Raised inside a tool when it asks its client a question not answered yet
    (see docs/architecture.md, "Input required").

    Do not catch it (a tool that catches ``Exception`` should re-raise it).
    """
