"""What ToolHistoryService answers: plain frozen dataclasses, each with ``as_dict`` for JSON."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class ToolStatistics:
    tool_name: str
    days: int
    calls: int
    successes: int
    failures: int
    success_rate: float
    avg_ms: float
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float
    top_errors: list[tuple[str, int]]
    percentiles: str
    """``exact`` (from raw rows) or ``histogram`` (estimated from the rollup's latency buckets)."""

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["top_errors"] = [{"error_type": e, "count": n} for e, n in self.top_errors]
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class PreferredTool:
    tool_name: str
    calls: int
    successes: int
    success_rate: float
    score: float
    """Discounted success estimate: (1 + discounted successes) / (2 + discounted calls)."""
    avg_ms: float
    satisfaction: float | None
    last_called_at: datetime | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["last_called_at"] = self.last_called_at.isoformat() if self.last_called_at else None
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class DailyToolFigures:
    """One tool on one UTC day, from the ``tool_daily`` rollup (what the HTML report charts)."""

    tool_name: str
    day: date
    calls: int
    successes: int
    total_ms: float
    max_ms: float
    latency_buckets: list[int]
    """Calls per latency bucket; the buckets' upper bounds are ``rollup_models.LATENCY_BOUNDS_MS``."""

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["day"] = self.day.isoformat()
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class FailedCall:
    call_id: str
    user_id: str
    tool_name: str
    error_type: str | None
    error_message: str | None
    intent: str | None
    execution_time_ms: float
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["created_at"] = self.created_at.isoformat()
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class Feedback:
    call_id: str
    user_id: str
    tool_name: str
    intent: str | None
    score: int
    previous: int | None
    comment: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class CleanupResult:
    cutoff: datetime
    deleted: int
    archived: int
    seconds: float
    archive: Path | None

    @property
    def rows_per_second(self) -> float:
        return self.deleted / self.seconds if self.seconds > 0 else 0.0
