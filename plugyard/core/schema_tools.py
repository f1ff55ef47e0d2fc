"""Tools registered from a JSON schema instead of a Python signature.

``register(fn, name=..., input_schema={...}, output_schema={...})``: the schema is published as it is
(``$schema``, ``$defs`` and every other keyword kept) and each call's arguments are validated against it
with ``jsonschema`` (the dialect the schema's ``$schema`` names, else 2020-12). ``fn`` takes the validated
arguments as one mapping (its one parameter that is not the ``ToolContext``), so argument names need not
be Python identifiers. The pipeline sees an ordinary ``Tool`` whose argument model runs the validator.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

import jsonschema
import jsonschema.exceptions
import jsonschema.validators
import pydantic
import pydantic_core

from plugyard.core.errors import PluginError
from plugyard.core.tools import TOOL_NAME, Tool, _is_context_hint, build_tool

MAX_PROBLEMS = 5
"""Validation problems named in one refusal (a long list helps no one)."""


def _checked(plugin: str, tool: str, which: str, schema: object) -> Any:
    if not isinstance(schema, Mapping):
        raise PluginError(plugin, f"tool {tool!r}: {which} must be a JSON schema object, got {type(schema).__name__}")
    if schema.get("type", "object") != "object":
        raise PluginError(plugin, f'tool {tool!r}: {which} must describe an object ("type": "object")')
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise PluginError(plugin, f"tool {tool!r}: {which} is not a valid JSON schema: {exc.message}") from None
    return cls


def _where(error: jsonschema.exceptions.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(arguments)"


def _arguments_model(tool: str, field: str, validator: Any) -> type[pydantic.BaseModel]:
    """A pydantic model the pipeline validates with, as for any tool: it runs ``validator`` and keeps the
    arguments whole under ``field`` (the name of ``fn``'s parameter)."""

    class SchemaArguments(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(extra="forbid")

        @pydantic.model_validator(mode="before")
        @classmethod
        def _json_schema(cls, data: Any) -> Any:
            if not isinstance(data, Mapping):
                raise pydantic_core.PydanticCustomError("json_schema", "the arguments must be a JSON object")
            errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
            if errors:
                problems = "; ".join(f"{_where(e)}: {e.message}" for e in errors[:MAX_PROBLEMS])
                more = f" (and {len(errors) - MAX_PROBLEMS} more)" if len(errors) > MAX_PROBLEMS else ""
                # The message is a template to pydantic: braces in it are literal.
                raise pydantic_core.PydanticCustomError(
                    "json_schema", problems.replace("{", "{{").replace("}", "}}") + more
                )
            return {field: dict(data)}

    name = "".join(part.capitalize() for part in re.split(r"[_-]", tool)) + "SchemaArguments"
    fields: dict[str, Any] = {field: (Any, ...)}
    return pydantic.create_model(name, __base__=SchemaArguments, **fields)


def _arguments_parameter(plugin: str, tool: str, fn: Callable[..., Any]) -> str:
    try:
        params = list(inspect.signature(fn).parameters.values())
        hints = typing.get_type_hints(fn)
    except (NameError, TypeError, ValueError) as exc:
        raise PluginError(plugin, f"tool {tool!r}: cannot read its signature: {exc}") from exc
    rest = [p.name for p in params if not _is_context_hint(hints.get(p.name)) and p.default is inspect.Parameter.empty]
    if len(rest) != 1:
        raise PluginError(
            plugin,
            f"tool {tool!r} is registered with input_schema: its function takes the arguments as one "
            f"mapping (one parameter without a default besides a ToolContext), not {rest}",
        )
    return rest[0]


def build_schema_tool(
    fn: Callable[..., Any],
    *,
    plugin: str,
    input_schema: Mapping[str, Any],
    output_schema: Mapping[str, Any] | None = None,
    name: str | None = None,
    **options: Any,
) -> Tool:
    """Describe ``fn`` as a tool whose arguments are ``input_schema``'s (see the module's docstring)."""
    tool_name = name if name is not None else getattr(fn, "__name__", "")
    if not TOOL_NAME.fullmatch(tool_name):
        raise PluginError(plugin, f"tool name {tool_name!r} is invalid: names must match {TOOL_NAME.pattern}")
    validator_class = _checked(plugin, tool_name, "input_schema", input_schema)
    if output_schema is not None:
        _checked(plugin, tool_name, "output_schema", output_schema)
    field = _arguments_parameter(plugin, tool_name, fn)
    tool = build_tool(fn, plugin=plugin, name=tool_name, **options)
    return dataclasses.replace(
        tool,
        input_schema=dict(input_schema),
        output_schema=dict(output_schema) if output_schema is not None else None,
        arg_model=_arguments_model(tool_name, field, validator_class(input_schema)),
    )
