"""The learner's units: time-discounted outcome sums, shared by the learner and the recorder's rollups.

An outcome at time ``t`` counts ``decay_weight(t) = 2 ** ((t - EPOCH) / half_life)``: such sums are additive
(the rollups add them in SQL, in ``HALF_LIFE_DAYS`` units; the learner converts them to its own half-life when
warming), and the discounted count at ``now`` is ``sum * 2 ** -((now - EPOCH) / half_life)``.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_S = EPOCH.timestamp()
DAY_S = 86_400.0
HALF_LIFE_DAYS = 14.0
"""The rollups' discount half-life. A learner with another half-life converts the counts when warming."""
LEARNER_HALF_LIFE_DAYS = 365.0
"""The learner's own memory: long, since a change is met by the drift reset, not by forgetting always."""


def decay_weight(at: datetime | float, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """The weight of an outcome at ``at`` in the additive, discounted sums (see the module docstring)."""
    seconds = at.timestamp() if isinstance(at, datetime) else at
    return float(2.0 ** ((seconds - EPOCH_S) / (half_life_days * DAY_S)))


@dataclasses.dataclass(frozen=True, slots=True)
class StoredCounts:
    """One ``user_tool_stats`` row, as the learner warms from it (weights in ``HALF_LIFE_DAYS`` units)."""

    user_id: str
    intent: str | None
    tool_name: str
    w_success: float
    w_failure: float
    w_ms: float
    satisfaction_sum: float = 0.0
    satisfaction_count: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class Posterior:
    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def variance(self) -> float:
        n = self.alpha + self.beta
        return self.alpha * self.beta / (n * n * (n + 1.0))
