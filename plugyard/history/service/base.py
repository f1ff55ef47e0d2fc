"""What every part of the history service shares: the engine, the clock, whole-UTC-day windows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from plugyard.history.rollups import utc


def _now() -> datetime:
    return datetime.now(UTC)


class ServiceBase:
    """The engine (already at head) and the clock the service's windows are counted from."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = _now) -> None:
        self.engine = engine
        self.clock = clock

    def window_start(self, days: int) -> datetime:
        """Midnight UTC that opens a window of ``days`` whole days ending today."""
        if days < 1:
            raise ValueError(f"days must be at least 1, got {days}")
        today = self.clock().astimezone(UTC).date()
        start = today - timedelta(days=days - 1)
        return datetime(start.year, start.month, start.day, tzinfo=UTC)


def as_utc(value: Any) -> datetime | None:
    """max() of a timestamp comes back as text on SQLite (no column type to convert it by)."""
    if value is None:
        return None
    if isinstance(value, str):
        return utc(datetime.fromisoformat(value))
    return utc(value)
