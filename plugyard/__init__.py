"""plugyard: a plugin-based agent framework served over the Model Context Protocol.

This module is the public face for plugin authors; everything here is stable API.
"""

from plugyard.core.calls import ToolCall, ToolContext, ToolOutcome, Veto
from plugyard.core.cards import ActionCard
from plugyard.core.client import Elicitation
from plugyard.core.config import data_dir
from plugyard.core.content import (
    Audio,
    EmbeddedResource,
    Image,
    PromptMessage,
    RawResult,
    ResourceLink,
    Text,
    ToolResult,
)
from plugyard.core.errors import (
    ClientFeatureUnavailable,
    ConfigError,
    InputRequired,
    InvalidArguments,
    PluginError,
    PlugyardError,
    ToolCallError,
    ToolFailed,
    ToolNameClash,
    ToolResultError,
    ToolTimeout,
    ToolVetoed,
    UnknownTool,
)
from plugyard.core.hookspecs import hookimpl
from plugyard.core.intents import INTENTS, IntentClassifier, IntentResult, detect_language
from plugyard.core.llm import complete as ask_model_text
from plugyard.core.llm import structured as ask_model
from plugyard.core.prompts import PROMPT_NAME
from plugyard.core.resources import ResourceContext
from plugyard.core.tools import TOOL_NAME, Tool
from plugyard.core.workflows import END, Run, Workflow, WorkflowRequest, WorkflowState, branch, step
from plugyard.history.errors import HistoryError, SchemaBehind

__version__ = "0.1.0"

__all__ = [
    "END",
    "INTENTS",
    "PROMPT_NAME",
    "TOOL_NAME",
    "ActionCard",
    "Audio",
    "ClientFeatureUnavailable",
    "ConfigError",
    "Elicitation",
    "EmbeddedResource",
    "HistoryError",
    "Image",
    "InputRequired",
    "IntentClassifier",
    "IntentResult",
    "InvalidArguments",
    "PluginError",
    "PlugyardError",
    "PromptMessage",
    "RawResult",
    "ResourceContext",
    "ResourceLink",
    "Run",
    "SchemaBehind",
    "Text",
    "Tool",
    "ToolCall",
    "ToolCallError",
    "ToolContext",
    "ToolFailed",
    "ToolNameClash",
    "ToolOutcome",
    "ToolResult",
    "ToolResultError",
    "ToolTimeout",
    "ToolVetoed",
    "UnknownTool",
    "Veto",
    "Workflow",
    "WorkflowRequest",
    "WorkflowState",
    "__version__",
    "ask_model",
    "ask_model_text",
    "branch",
    "data_dir",
    "detect_language",
    "hookimpl",
    "step",
]
