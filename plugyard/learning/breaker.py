"""The circuit breaker per tool: consecutive failures open it, a cooldown later one trial may go."""

from __future__ import annotations

import dataclasses

NOT_THE_TOOLS_FAULT = frozenset({"InvalidArguments", "ToolVetoed", "Cancelled"})


@dataclasses.dataclass(slots=True)
class _Breaker:
    consecutive_failures: int = 0
    opened_at: float | None = None
    trial_started: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CircuitState:
    tool: str
    state: str
    """``closed``, ``open`` or ``half_open``."""
    consecutive_failures: int
    retry_at: float | None = None
    """When an open circuit lets a trial call through (seconds since the Unix epoch)."""
