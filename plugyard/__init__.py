"""plugyard: a plugin-based agent framework served over the Model Context Protocol.

This module is the public face for plugin authors; everything here is stable API.
"""

from plugyard.core.calls import ToolCall, ToolContext, ToolOutcome, Veto
from plugyard.core.errors import (
    ConfigError,
    HistoryError,
    InvalidArguments,
    PluginError,
    PlugyardError,
    SchemaBehind,
    ToolCallError,
    ToolFailed,
    ToolNameClash,
    ToolTimeout,
    ToolVetoed,
    UnknownTool,
)
from plugyard.core.hookspecs import hookimpl
from plugyard.core.intents import INTENTS, IntentClassifier, IntentResult
from plugyard.core.tools import Tool
from plugyard.core.workflows import Workflow

__version__ = "0.1.0"

__all__ = [
    "INTENTS",
    "ConfigError",
    "HistoryError",
    "IntentClassifier",
    "IntentResult",
    "InvalidArguments",
    "PluginError",
    "PlugyardError",
    "SchemaBehind",
    "Tool",
    "ToolCall",
    "ToolCallError",
    "ToolContext",
    "ToolFailed",
    "ToolNameClash",
    "ToolOutcome",
    "ToolTimeout",
    "ToolVetoed",
    "UnknownTool",
    "Veto",
    "Workflow",
    "__version__",
    "hookimpl",
]
