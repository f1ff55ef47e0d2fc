"""Prompts that plugins register: named message templates a client offers its user as commands.

A prompt is a function whose parameters are its arguments (MCP prompt arguments are strings;
a parameter with a default is optional) and whose docstring is its description. It returns a
string (one user message), a ``plugyard.PromptMessage``, a content block, or a list of these.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from plugyard.core.content import CONTENT_TYPES, PromptMessage, as_blocks
from plugyard.core.errors import PluginError, PromptArgumentsInvalid, PromptNotFound
from plugyard.core.resources import Completer, call_maybe_async

PROMPT_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,64}$")


@dataclasses.dataclass(frozen=True, slots=True)
class PromptArgument:
    name: str
    description: str | None = None
    required: bool = True


@dataclasses.dataclass(slots=True)
class Prompt:
    """A registered prompt."""

    name: str
    fn: Callable[..., Any]
    plugin: str
    title: str | None = None
    description: str = ""
    arguments: tuple[PromptArgument, ...] = ()
    completers: Mapping[str, Completer] = dataclasses.field(default_factory=dict)

    async def render(self, arguments: Mapping[str, str] | None) -> list[PromptMessage]:
        given = dict(arguments or {})
        known = {a.name for a in self.arguments}
        missing = [a.name for a in self.arguments if a.required and a.name not in given]
        extra = sorted(set(given) - known)
        if missing or extra:
            problems = ([f"missing {missing}"] if missing else []) + ([f"unknown {extra}"] if extra else [])
            raise PromptArgumentsInvalid(f"prompt {self.name!r} of plugin {self.plugin!r}: {'; '.join(problems)}")
        result = await call_maybe_async(self.fn, **given)
        messages = []
        for item in as_blocks(result):
            if isinstance(item, PromptMessage):
                messages.append(item)
            elif isinstance(item, (str, *CONTENT_TYPES)):
                messages.append(PromptMessage(role="user", content=item))
            else:
                raise TypeError(
                    f"prompt {self.name!r} of plugin {self.plugin!r} returned {type(item).__name__}; "
                    "return a string, a plugyard.PromptMessage, a content block or a list of them"
                )
        return messages


def build_prompt(
    fn: Callable[..., Any],
    *,
    plugin: str,
    name: str | None = None,
    title: str | None = None,
    description: str | None = None,
    arguments: Mapping[str, str] | None = None,
    complete: Mapping[str, Completer] | None = None,
) -> Prompt:
    """Describe ``fn`` as a prompt. ``arguments`` maps argument names to descriptions."""
    prompt_name = name or str(getattr(fn, "__name__", ""))
    if not PROMPT_NAME.fullmatch(prompt_name):
        raise PluginError(plugin, f"prompt name {prompt_name!r} is invalid: names must match {PROMPT_NAME.pattern}")
    described = dict(arguments or {})
    args = []
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise PluginError(plugin, f"prompt {prompt_name!r}: *args and **kwargs cannot be prompt arguments")
        args.append(
            PromptArgument(
                name=param.name,
                description=described.pop(param.name, None),
                required=param.default is inspect.Parameter.empty,
            )
        )
    if described:
        raise PluginError(plugin, f"prompt {prompt_name!r}: descriptions for unknown argument(s) {sorted(described)}")
    unknown = set(complete or {}) - {a.name for a in args}
    if unknown:
        raise PluginError(plugin, f"prompt {prompt_name!r}: completion for unknown argument(s) {sorted(unknown)}")
    return Prompt(
        name=prompt_name,
        fn=fn,
        plugin=plugin,
        title=title,
        description=inspect.cleandoc(description or fn.__doc__ or ""),
        arguments=tuple(args),
        completers=dict(complete or {}),
    )


class PromptRegistry:
    """Prompts by name. A name is owned by the first plugin that registers it."""

    def __init__(self) -> None:
        self._prompts: dict[str, Prompt] = {}

    def add(self, prompt: Prompt) -> None:
        existing = self._prompts.get(prompt.name)
        if existing is not None:
            raise PluginError(
                prompt.plugin,
                f"prompt {prompt.name!r} is registered by both plugin {existing.plugin!r} and plugin "
                f"{prompt.plugin!r}; disable one of them in plugins.toml or rename the prompt",
            )
        self._prompts[prompt.name] = prompt

    def remove_plugin(self, plugin: str) -> None:
        for name in [n for n, p in self._prompts.items() if p.plugin == plugin]:
            del self._prompts[name]

    def get(self, name: str) -> Prompt | None:
        return self._prompts.get(name)

    def require(self, name: str) -> Prompt:
        prompt = self._prompts.get(name)
        if prompt is None:
            known = ", ".join(sorted(self._prompts)) or "none"
            raise PromptNotFound(f"unknown prompt {name!r} (prompts available: {known})")
        return prompt

    def __iter__(self) -> Any:
        return iter(list(self._prompts.values()))

    def __len__(self) -> int:
        return len(self._prompts)
