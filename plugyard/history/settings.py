"""The history plugin's settings: the ``[plugins.history]`` table of plugins.toml (the name is the
plugin's: whatever name it is loaded under). ``[history]``, the table's old place, is still read,
with a warning (``plugyard.core.config``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from plugyard.learning.counts import LEARNER_HALF_LIFE_DAYS

DEFAULT_REDACT_KEYS = (
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "access_key",
    "private_key",
    "authorization",
    "cookie",
    "credential",
)


class HistorySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(500, ge=1, le=100_000)
    flush_interval: float = Field(0.2, gt=0, le=60)
    """Seconds a record may wait in memory before its batch is written."""
    queue_size: int = Field(100_000, ge=1)
    """Records held in memory while the database is slow; beyond this they go to the journal."""
    redact_keys: tuple[str, ...] = DEFAULT_REDACT_KEYS
    """Argument keys containing any of these (case-insensitive) are stored as "[REDACTED]"; so are values
    under them in header pairs and ``key=value`` text (``history/redact.py``)."""
    half_life_days: float = Field(LEARNER_HALF_LIFE_DAYS, gt=0)
    """The preference router's memory: an outcome this many days old counts half as much as a new one
    (long by default: a tool that changes is met by the router's drift reset, not by forgetting always)."""
    breaker_failures: int = Field(5, ge=1)
    """Consecutive failures of a tool after which the router stops choosing it for a while."""
    breaker_cooldown: float = Field(30.0, gt=0)
    """Seconds before a tool whose circuit opened gets one trial call (half-open)."""
    durability: Literal["memory", "journal"] = "memory"
    """"memory": accepted records wait in memory for their batch (kill -9 loses at most one
    flush_interval's worth). "journal": each is also appended to a write-ahead file before the
    call returns, so kill -9 loses nothing accepted (it costs the call a file append)."""
    journal: str | None = None
    """Where records go when the database cannot take them (default: beside the SQLite file; for
    PostgreSQL, in the data directory, one file per database). Relative to plugins.toml."""
