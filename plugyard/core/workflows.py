"""Workflows: multi-step runs chosen for intents that need collaboration."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar


class Workflow:
    """Base class for workflows a plugin registers.

    Subclasses set ``name`` and ``intents`` (the intents they handle) and implement ``run``.
    """

    name: ClassVar[str] = ""
    intents: ClassVar[Sequence[str]] = ()
    description: ClassVar[str] = ""

    async def run(self, message: str, **kwargs: Any) -> Any:
        raise NotImplementedError(f"workflow {type(self).__name__} does not implement run()")


@dataclasses.dataclass(slots=True)
class RegisteredWorkflow:
    name: str
    plugin: str
    workflow: Workflow
    intents: tuple[str, ...]
