"""Off-policy evaluation of a router setting on logged decisions (``plugyard history evaluate``).

The logs: every recorded call in time order (the router learns from all of them), some carrying the
decision that led to them (the candidates, the chosen tool and its propensity under the logging
policy). A candidate setting is replayed: a fresh router with that setting learns from the calls as
they happened, and at each logged decision gives the probability ``pi(chosen)`` it would have had of
choosing what was chosen. With ``w = pi(chosen) / propensity`` the self-normalised inverse propensity
estimate of the setting's success rate is ``V = sum w r / sum w`` (``r``: the call succeeded); the
logging policy's own value is the plain mean of ``r``. The difference's 95% interval comes from the
paired influence terms ``w / mean(w) * (r - V) - (r - V_0)`` (the delta method); it is significant
when the interval leaves out 0. The effective sample size ``(sum w)^2 / sum w^2`` says how much of
the log the estimate really rests on: far from the logging setting it shrinks.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
from collections.abc import Iterable, Sequence

from plugyard.learning.counts import LEARNER_HALF_LIFE_DAYS
from plugyard.learning.decisions import propensity_of
from plugyard.learning.learner import BayesianLearner
from plugyard.learning.prior import KAPPA_MAX
from plugyard.learning.router import LATENCY_WEIGHT, SATISFACTION_WEIGHT, ToolPreferenceRouter

Z95 = 1.959964


@dataclasses.dataclass(frozen=True, slots=True)
class LoggedCall:
    """One recorded call; ``candidates``/``propensity`` set when a router decision led to it."""

    at: float
    user_id: str
    tool: str
    success: bool
    duration_ms: float
    intent: str | None = None
    error_type: str | None = None
    candidates: tuple[str, ...] = ()
    propensity: float | None = None
    score: int | None = None
    """The satisfaction rating given to the call, if any."""


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """What can differ between the logging router and a candidate."""

    half_life_days: float = LEARNER_HALF_LIFE_DAYS
    satisfaction_weight: float = SATISFACTION_WEIGHT
    latency_weight: float = LATENCY_WEIGHT
    prior_cap: float = KAPPA_MAX
    exploration: float = 1.0

    def describe(self) -> str:
        return (
            f"half_life={self.half_life_days:g}d satisfaction={self.satisfaction_weight:g} "
            f"latency={self.latency_weight:g} prior_cap={self.prior_cap:g} exploration={self.exploration:g}"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Evaluation:
    setting: Setting
    decisions: int
    logged_value: float
    value: float
    difference: float
    low: float
    high: float
    effective_sample_size: float

    @property
    def significant(self) -> bool:
        return self.low > 0.0 or self.high < 0.0

    def verdict(self) -> str:
        if self.decisions == 0:
            return "no logged decisions to evaluate"
        if not self.significant:
            return "no significant difference: keep the current setting"
        return "significantly better: worth promoting" if self.difference > 0 else "significantly worse"

    def as_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["setting"] = dataclasses.asdict(self.setting)
        data["significant"] = self.significant
        data["verdict"] = self.verdict()
        return data


def target_propensities(calls: Iterable[LoggedCall], setting: Setting, timeout_s: float = 30.0) -> list[float]:
    """For each logged decision (in order), the candidate setting's probability of its chosen tool."""
    clock = [0.0]
    router = ToolPreferenceRouter(
        BayesianLearner(half_life_days=setting.half_life_days, prior_cap=setting.prior_cap),
        latency_weight=setting.latency_weight,
        satisfaction_weight=setting.satisfaction_weight,
        exploration=setting.exploration,
        rng=random.Random(0),
        clock=lambda: clock[0],
        timeout_for=lambda _tool: timeout_s,
    )
    out: list[float] = []
    replay_log = logging.getLogger("plugyard.preference")
    level = replay_log.level
    replay_log.setLevel(logging.ERROR)  # the replay's circuits opening are not news
    try:
        _replay(router, clock, calls, setting, out)
    finally:
        replay_log.setLevel(level)
    return out


def _replay(
    router: ToolPreferenceRouter, clock: list[float], calls: Iterable[LoggedCall], setting: Setting, out: list[float]
) -> None:
    for call in sorted(calls, key=lambda c: c.at):
        clock[0] = call.at
        if call.propensity is not None and call.tool in call.candidates:
            scores = router.rank(call.user_id, list(call.candidates), intent=call.intent)
            eligible = [s for s in scores if s.eligible] or scores
            chosen = next((s for s in eligible if s.tool == call.tool), None)
            out.append(0.0 if chosen is None else propensity_of(chosen, eligible, setting.exploration))
        router.observe(
            call.user_id, call.tool, call.success, call.duration_ms, intent=call.intent, error_type=call.error_type
        )
        if call.score is not None:
            router.observe_feedback(call.user_id, call.tool, None, call.score, intent=call.intent)


def evaluate(calls: Sequence[LoggedCall], setting: Setting, timeout_s: float = 30.0) -> Evaluation:
    """The self-normalised IPS estimate of ``setting`` against the logging policy (module docstring)."""
    ordered = sorted(calls, key=lambda c: c.at)
    decided = [c for c in ordered if c.propensity is not None and c.tool in c.candidates]
    pis = target_propensities(ordered, setting, timeout_s)
    rewards = [1.0 if c.success else 0.0 for c in decided]
    weights = [pi / max(c.propensity or 0.0, 1e-6) for pi, c in zip(pis, decided, strict=True)]
    n = len(decided)
    if n == 0 or sum(weights) <= 0:
        return Evaluation(setting, n, math.nan, math.nan, math.nan, math.nan, math.nan, 0.0)
    v0 = sum(rewards) / n
    total = sum(weights)
    value = sum(w * r for w, r in zip(weights, rewards, strict=True)) / total
    mean_w = total / n
    influence = [w / mean_w * (r - value) - (r - v0) for w, r in zip(weights, rewards, strict=True)]
    mean_i = sum(influence) / n
    var = sum((d - mean_i) ** 2 for d in influence) / max(1, n - 1)
    half = Z95 * math.sqrt(var / n)
    diff = value - v0
    ess = total * total / sum(w * w for w in weights)
    return Evaluation(setting, n, v0, value, diff, diff - half, diff + half, ess)
