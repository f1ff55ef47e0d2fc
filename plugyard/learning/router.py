"""The Bayesian learner and the tool preference router: which tool serves this user best.

The model, per (intent, tool) and per (user, intent, tool):

- **Time-discounted Beta-Bernoulli.** Every outcome counts with weight ``2 ** -(age / half_life)``
  (default half-life 14 days), so a tool that degrades loses its lead. Counts are kept as sums of
  ``decay_weight(t) = 2 ** ((t - EPOCH) / half_life)``: such sums are additive (the recorder's rollups
  add them in SQL) and the discounted count at time ``now`` is ``sum * 2 ** -((now - EPOCH) / half_life)``.
- **Global posterior** of a tool for an intent: ``Beta(1 + S, 1 + F)`` over every user's discounted counts.
- **Empirical-Bayes shrinkage**: a user's posterior is ``Beta(k * m + s, k * (1 - m) + f)`` where ``m`` is the
  global posterior mean and the prior strength ``k`` is estimated from the data by the method of moments:
  ``tau2 = max(0, var(r_u) - p (1 - p) mean(1 / n_u))`` over the users' rates ``r_u`` and discounted counts
  ``n_u`` (``p`` the pooled rate); ``k = p (1 - p) / tau2 - 1``, clamped to [KAPPA_MIN, KAPPA_MAX]
  (KAPPA_MAX when the users do not differ beyond noise, KAPPA_DEFAULT with fewer than two users).
- **Choice by Thompson sampling**: each eligible candidate's score is a draw from the user's posterior,
  minus a latency penalty ``LATENCY_WEIGHT * min(1, mean latency / timeout)``, plus a satisfaction reward
  ``SATISFACTION_WEIGHT * (mean score - 3) / 2`` (means shrunk toward the neutral 3 with two pseudo-ratings).
- **Drift reset**: beside the discounted counts, everyone's outcomes per (intent, tool) are also counted with
  a short half-life (a fourteenth of the long one). When those recent outcomes (at least DRIFT_MIN_CALLS)
  differ from the long-run rate by more than DRIFT_MARGIN plus two standard errors, the tool has changed:
  its long-run counts are replaced by the recent ones (users' counts shrink in proportion), so a degraded
  tool loses its lead within a few dozen calls instead of a half-life. (Memory only: a restart warms from
  the rollups again and the reset re-triggers on the next calls.)
- **Circuit breaker** per tool: ``failure_threshold`` consecutive failures (the tool's fault: not invalid
  arguments, not vetoes) open it for ``cooldown`` seconds; then it is half-open: one trial call may go,
  a success closes it, a failure opens it again. Open tools are skipped unless every candidate is open.
- Every decision carries an explanation, the policy version and the chosen tool's propensity (its
  probability of being chosen, under a normal approximation of the posteriors), so logged decisions can
  be evaluated offline.

Posteriors live in memory: a decision never queries the database. The history plugin warms the learner
from the ``user_tool_stats`` rollup at start-up and feeds it every outcome.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

log = logging.getLogger("plugyard.preference")
decision_log = logging.getLogger("plugyard.preference.decisions")

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
EPOCH_S = EPOCH.timestamp()
DAY_S = 86_400.0
HALF_LIFE_DAYS = 14.0
"""The rollups' discount half-life. A learner with another half-life converts the counts when warming."""
ANY_INTENT = "*"
"""The key under which every call of a tool counts, whatever its intent."""

KAPPA_MIN = 1.0
KAPPA_MAX = 100.0
KAPPA_DEFAULT = 4.0
LATENCY_WEIGHT = 0.3
SATISFACTION_WEIGHT = 0.1
NEUTRAL_SCORE = 3.0
SCORE_PSEUDO_COUNT = 2.0
DRIFT_MIN_CALLS = 20.0
DRIFT_MARGIN = 0.1
NOT_THE_TOOLS_FAULT = frozenset({"InvalidArguments", "ToolVetoed", "Cancelled"})
POLICY = "thompson-beta/1"


def decay_weight(at: datetime | float, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """The weight of an outcome at ``at`` in the additive, discounted sums (see the module docstring)."""
    seconds = at.timestamp() if isinstance(at, datetime) else at
    return float(2.0 ** ((seconds - EPOCH_S) / (half_life_days * DAY_S)))


@dataclasses.dataclass(slots=True)
class _Cell:
    """Additive sums for one (user or everyone, intent, tool), in decay_weight units."""

    s: float = 0.0
    f: float = 0.0
    ms: float = 0.0
    sat_sum: float = 0.0
    sat_n: float = 0.0


@dataclasses.dataclass(slots=True)
class _Group:
    """One (intent, tool) over every user, and the moments the prior strength is estimated from."""

    total: _Cell = dataclasses.field(default_factory=_Cell)
    users: int = 0
    sum_r: float = 0.0
    sum_r2: float = 0.0
    sum_inv_n: float = 0.0


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


class BayesianLearner:
    """Time-discounted Beta-Bernoulli posteriors per (intent, tool) and per (user, intent, tool)."""

    def __init__(self, *, half_life_days: float = HALF_LIFE_DAYS) -> None:
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        self.half_life_days = half_life_days
        self._rate = 1.0 / (half_life_days * DAY_S)
        self._users: dict[tuple[str, str, str], _Cell] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._by_user: dict[str, set[tuple[str, str]]] = {}
        self._group_users: dict[tuple[str, str], set[str]] = {}
        self._fast: dict[tuple[str, str], list[float]] = {}
        self._fast_rate = self._rate * 14.0
        self.drift_resets = 0
        self._lock = threading.Lock()

    # -- units ---------------------------------------------------------------------------------

    def weight(self, at: float) -> float:
        return float(2.0 ** ((at - EPOCH_S) * self._rate))

    def discount(self, now: float) -> float:
        """Multiply stored sums by this to get discounted counts at ``now``."""
        return float(2.0 ** (-(now - EPOCH_S) * self._rate))

    # -- feeding -------------------------------------------------------------------------------

    def _keys(self, intent: str | None) -> tuple[str, ...]:
        return (ANY_INTENT,) if not intent or intent == ANY_INTENT else (intent, ANY_INTENT)

    def _add(self, user: str, key: str, tool: str, ds: float, df: float, dms: float, dsat: float, dn: float) -> None:
        cell = self._users.get((user, key, tool))
        group = self._groups.get((key, tool))
        if group is None:
            group = self._groups[(key, tool)] = _Group()
        if cell is None:
            cell = self._users[(user, key, tool)] = _Cell()
            self._by_user.setdefault(user, set()).add((key, tool))
            self._group_users.setdefault((key, tool), set()).add(user)
        self._unmoment(group, cell)
        cell.s += ds
        cell.f += df
        cell.ms += dms
        cell.sat_sum += dsat
        cell.sat_n += dn
        total = group.total
        total.s += ds
        total.f += df
        total.ms += dms
        total.sat_sum += dsat
        total.sat_n += dn
        self._moment(group, cell)

    @staticmethod
    def _moment(group: _Group, cell: _Cell) -> None:
        n = cell.s + cell.f
        if n > 0:
            r = cell.s / n
            group.users += 1
            group.sum_r += r
            group.sum_r2 += r * r
            group.sum_inv_n += 1.0 / n

    @staticmethod
    def _unmoment(group: _Group, cell: _Cell) -> None:
        n = cell.s + cell.f
        if n > 0:
            r = cell.s / n
            group.users -= 1
            group.sum_r -= r
            group.sum_r2 -= r * r
            group.sum_inv_n -= 1.0 / n

    def observe(
        self, user_id: str, intent: str | None, tool: str, success: bool, duration_ms: float, at: float
    ) -> None:
        """Count one outcome at time ``at`` (seconds since the Unix epoch)."""
        w = self.weight(at)
        with self._lock:
            for key in self._keys(intent):
                self._add(user_id, key, tool, w if success else 0.0, 0.0 if success else w, w * duration_ms, 0.0, 0.0)
                self._watch_drift(key, tool, success, at)

    def _watch_drift(self, key: str, tool: str, success: bool, at: float) -> None:
        fast = self._fast.get((key, tool))
        if fast is None:
            fast = self._fast[(key, tool)] = [0.0, 0.0, at]
        decay = 2.0 ** (-max(0.0, at - fast[2]) * self._fast_rate)
        fast[0] = fast[0] * decay + (1.0 if success else 0.0)
        fast[1] = fast[1] * decay + (0.0 if success else 1.0)
        fast[2] = max(fast[2], at)
        n_fast = fast[0] + fast[1]
        group = self._groups[(key, tool)]
        total = group.total
        n_slow = total.s + total.f
        if n_fast < DRIFT_MIN_CALLS or n_slow <= 0:
            return
        recent = fast[0] / n_fast
        longrun = total.s / n_slow
        if abs(recent - longrun) <= DRIFT_MARGIN + 2.0 * math.sqrt(recent * (1.0 - recent) / n_fast):
            return
        # The tool changed: keep only what the recent outcomes say (in stored units at ``at``).
        unit = self.weight(at)
        slow_now = n_slow / unit
        factor = min(1.0, n_fast / slow_now) if slow_now > 0 else 1.0
        for user in self._group_users.get((key, tool), ()):
            cell = self._users[(user, key, tool)]
            self._unmoment(group, cell)
            cell.s *= factor
            cell.f *= factor
            cell.ms *= factor
            self._moment(group, cell)
        total.ms *= factor
        total.s, total.f = fast[0] * unit, fast[1] * unit
        self.drift_resets += 1
        log.info(
            "tool %r (intent %s): recent success %.0f%% vs %.0f%% long-run; older counts dropped",
            tool,
            key,
            100 * recent,
            100 * longrun,
        )

    def observe_feedback(self, user_id: str, intent: str | None, tool: str, old: int | None, new: int) -> None:
        """A satisfaction score (1-5) given, or changed from ``old``, on one of the user's calls."""
        dsat = float(new - (old or 0))
        dn = 0.0 if old is not None else 1.0
        with self._lock:
            for key in self._keys(intent):
                self._add(user_id, key, tool, 0.0, 0.0, 0.0, dsat, dn)

    def warm(self, rows: Iterable[StoredCounts]) -> int:
        """Add stored counts (the rollup) to what is known; returns how many rows were read."""
        # Stored sums use HALF_LIFE_DAYS; another half-life keeps today's discounted counts exactly.
        now = time.time()
        convert = (
            1.0 if self.half_life_days == HALF_LIFE_DAYS else decay_weight(now, HALF_LIFE_DAYS) ** -1 * self.weight(now)
        )
        count = 0
        with self._lock:
            for row in rows:
                count += 1
                for key in self._keys(row.intent):
                    self._add(
                        row.user_id,
                        key,
                        row.tool_name,
                        row.w_success * convert,
                        row.w_failure * convert,
                        row.w_ms * convert,
                        row.satisfaction_sum,
                        row.satisfaction_count,
                    )
        return count

    def forget_user(self, user_id: str) -> int:
        """Remove everything known about one user (from memory); returns how many cells went."""
        with self._lock:
            keys = self._by_user.pop(user_id, set())
            for key, tool in keys:
                cell = self._users.pop((user_id, key, tool))
                self._group_users.get((key, tool), set()).discard(user_id)
                group = self._groups[(key, tool)]
                self._unmoment(group, cell)
                total = group.total
                total.s -= cell.s
                total.f -= cell.f
                total.ms -= cell.ms
                total.sat_sum -= cell.sat_sum
                total.sat_n -= cell.sat_n
            return len(keys)

    # -- reading -------------------------------------------------------------------------------

    def key_for(self, intent: str | None, tool: str) -> str:
        """The intent key answering for ``tool``: the intent when it has data, else every intent."""
        if intent and intent != ANY_INTENT:
            group = self._groups.get((intent, tool))
            if group is not None and group.total.s + group.total.f > 0:
                return intent
        return ANY_INTENT

    def counts(self, user_id: str | None, intent: str | None, tool: str, now: float) -> tuple[float, float]:
        """Discounted (successes, failures) at ``now``: the user's, or everyone's when ``user_id`` is None."""
        key = self.key_for(intent, tool)
        cell = self._groups[(key, tool)].total if user_id is None and (key, tool) in self._groups else None
        if user_id is not None:
            cell = self._users.get((user_id, key, tool))
        if cell is None:
            return 0.0, 0.0
        scale = self.discount(now)
        return cell.s * scale, cell.f * scale

    def global_posterior(self, intent: str | None, tool: str, now: float) -> Posterior:
        s, f = self.counts(None, intent, tool, now)
        return Posterior(1.0 + s, 1.0 + f)

    def prior_strength(self, intent: str | None, tool: str, now: float) -> float:
        """The empirical-Bayes prior strength k for (intent, tool) (see the module docstring)."""
        group = self._groups.get((self.key_for(intent, tool), tool))
        if group is None or group.users < 2:
            return KAPPA_DEFAULT
        total_n = group.total.s + group.total.f
        p = group.total.s / total_n
        m = group.users
        mean_r = group.sum_r / m
        var_r = max(0.0, group.sum_r2 / m - mean_r * mean_r)
        mean_inv_n = group.sum_inv_n / m / self.discount(now)
        tau2 = var_r - p * (1.0 - p) * mean_inv_n
        if tau2 <= 1e-12:
            return KAPPA_MAX
        return min(KAPPA_MAX, max(KAPPA_MIN, p * (1.0 - p) / tau2 - 1.0))

    def user_posterior(self, user_id: str, intent: str | None, tool: str, now: float) -> Posterior:
        """The user's posterior, shrunk toward the global mean with the estimated prior strength."""
        prior = self.global_posterior(intent, tool, now).mean
        k = self.prior_strength(intent, tool, now)
        s, f = self.counts(user_id, intent, tool, now)
        return Posterior(k * prior + s, k * (1.0 - prior) + f)

    def mean_latency_ms(self, tool: str) -> float | None:
        """Everyone's discounted mean latency of ``tool`` (None before its first call)."""
        group = self._groups.get((ANY_INTENT, tool))
        if group is None or group.total.s + group.total.f <= 0:
            return None
        return group.total.ms / (group.total.s + group.total.f)

    def mean_satisfaction(self, user_id: str, intent: str | None, tool: str) -> tuple[float, float]:
        """(shrunk mean score, ratings given by the user). Neutral 3 without ratings."""
        key = self.key_for(intent, tool)
        group = self._groups.get((key, tool))
        g_sum, g_n = (group.total.sat_sum, group.total.sat_n) if group else (0.0, 0.0)
        group_mean = (g_sum + NEUTRAL_SCORE * SCORE_PSEUDO_COUNT) / (g_n + SCORE_PSEUDO_COUNT)
        cell = self._users.get((user_id, key, tool))
        u_sum, u_n = (cell.sat_sum, cell.sat_n) if cell else (0.0, 0.0)
        return (u_sum + group_mean * SCORE_PSEUDO_COUNT) / (u_n + SCORE_PSEUDO_COUNT), u_n

    def snapshot(self, user_id: str, intent: str | None, tool: str, scale: float) -> tuple[float, ...]:
        """Everything a score needs in one pass (the decision path): (alpha, beta, the user's discounted
        calls, everyone's, prior strength, mean latency or -1, mean satisfaction). ``scale`` is
        ``2 ** -((now - EPOCH) / half_life)``: the same as ``user_posterior`` & co. at ``now``."""
        key = intent if intent and intent != ANY_INTENT else ANY_INTENT
        group = self._groups.get((key, tool))
        if key != ANY_INTENT and (group is None or group.total.s + group.total.f <= 0):
            key = ANY_INTENT
            group = self._groups.get((key, tool))
        cell = self._users.get((user_id, key, tool))
        us, uf = (cell.s * scale, cell.f * scale) if cell is not None else (0.0, 0.0)
        if group is None:
            return (
                KAPPA_DEFAULT * 0.5 + us,
                KAPPA_DEFAULT * 0.5 + uf,
                us + uf,
                0.0,
                KAPPA_DEFAULT,
                -1.0,
                NEUTRAL_SCORE,
            )
        total = group.total
        gs, gf = total.s * scale, total.f * scale
        prior = (1.0 + gs) / (2.0 + gs + gf)
        kappa = KAPPA_DEFAULT
        if group.users >= 2 and total.s + total.f > 0:
            p = total.s / (total.s + total.f)
            m = group.users
            mean_r = group.sum_r / m
            var_r = max(0.0, group.sum_r2 / m - mean_r * mean_r)
            tau2 = var_r - p * (1.0 - p) * group.sum_inv_n / m / scale
            kappa = KAPPA_MAX if tau2 <= 1e-12 else min(KAPPA_MAX, max(KAPPA_MIN, p * (1.0 - p) / tau2 - 1.0))
        any_group = group if key == ANY_INTENT else self._groups.get((ANY_INTENT, tool))
        latency = -1.0
        if any_group is not None and any_group.total.s + any_group.total.f > 0:
            latency = any_group.total.ms / (any_group.total.s + any_group.total.f)
        group_mean = (total.sat_sum + NEUTRAL_SCORE * SCORE_PSEUDO_COUNT) / (total.sat_n + SCORE_PSEUDO_COUNT)
        u_sum, u_n = (cell.sat_sum, cell.sat_n) if cell is not None else (0.0, 0.0)
        satisfaction = (u_sum + group_mean * SCORE_PSEUDO_COUNT) / (u_n + SCORE_PSEUDO_COUNT)
        return (kappa * prior + us, kappa * (1.0 - prior) + uf, us + uf, gs + gf, kappa, latency, satisfaction)

    def user_tools(self, user_id: str, intent: str | None = None) -> list[str]:
        """The tools the user has called (for ``intent``, or at all)."""
        key = intent if intent and intent != ANY_INTENT else ANY_INTENT
        return sorted({tool for k, tool in self._by_user.get(user_id, ()) if k == key})


# -- the router ----------------------------------------------------------------------------------


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


@dataclasses.dataclass(frozen=True, slots=True)
class ToolScore:
    """Why a candidate scored what it did."""

    tool: str
    expected: float
    """Posterior mean - latency penalty + satisfaction reward: the ranking key without sampling."""
    sample: float | None
    """The Thompson draw's score, in a choice; None in a ranking."""
    alpha: float
    beta: float
    success_mean: float
    user_calls: float
    """The user's discounted calls of the tool."""
    global_calls: float
    prior_strength: float
    latency_ms: float | None
    latency_penalty: float
    satisfaction: float
    satisfaction_reward: float
    circuit: str
    eligible: bool

    def reason(self) -> str:
        parts = [
            f"success {self.success_mean:.0%} (Beta({self.alpha:.2f}, {self.beta:.2f}) from "
            f"{self.user_calls:.1f} recent calls of yours, shrunk toward the typical rate with strength "
            f"{self.prior_strength:.1f})"
        ]
        if self.latency_penalty:
            parts.append(f"latency {self.latency_ms:.0f} ms costs {self.latency_penalty:.3f}")
        if self.satisfaction_reward:
            parts.append(f"satisfaction {self.satisfaction:.2f}/5 adds {self.satisfaction_reward:+.3f}")
        if self.circuit != "closed":
            parts.append(f"circuit {self.circuit.replace('_', '-')}" + ("" if self.eligible else ": skipped"))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, object]:
        data = dataclasses.asdict(self)
        data["reason"] = self.reason()
        return data


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    """One choice among candidates, with everything needed to explain and evaluate it offline."""

    decision_id: str
    user_id: str
    intent: str | None
    capability: str | None
    chosen: str
    propensity: float
    policy_version: str
    scores: tuple[ToolScore, ...]
    at: float

    def explain(self) -> str:
        chosen = next(s for s in self.scores if s.tool == self.chosen)
        others = [s for s in self.scores if s.tool != self.chosen]
        lines = [
            f"chose {self.chosen!r} for user {self.user_id!r}"
            + (f", intent {self.intent!r}" if self.intent else "")
            + (f", capability {self.capability!r}" if self.capability else "")
            + f" by Thompson sampling (draw {chosen.sample:.3f}; chosen with probability {self.propensity:.2f};"
            f" policy {self.policy_version})",
            f"  {self.chosen}: {chosen.reason()}",
        ]
        lines += [f"  {s.tool}: draw {s.sample:.3f}; {s.reason()}" for s in others if s.sample is not None]
        lines += [f"  {s.tool}: {s.reason()}" for s in others if s.sample is None]
        return "\n".join(lines)

    def as_log(self) -> dict[str, object]:
        return {
            "decision_id": self.decision_id,
            "at": self.at,
            "user_id": self.user_id,
            "intent": self.intent,
            "capability": self.capability,
            "chosen": self.chosen,
            "propensity": round(self.propensity, 6),
            "policy_version": self.policy_version,
            "candidates": {
                s.tool: {"expected": round(s.expected, 6), "sample": s.sample, "eligible": s.eligible}
                for s in self.scores
            },
        }


FOLD_EVERY = 256
"""Outcomes the router holds before folding them into the learner unread."""


class ToolPreferenceRouter:
    """Ranks and chooses tools for a user from the learner's posteriors; never touches a database."""

    def __init__(
        self,
        learner: BayesianLearner | None = None,
        *,
        timeout_for: Callable[[str], float] | None = None,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        latency_weight: float = LATENCY_WEIGHT,
        satisfaction_weight: float = SATISFACTION_WEIGHT,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        keep_decisions: int = 1000,
    ) -> None:
        self.learner = learner or BayesianLearner()
        self.timeout_for = timeout_for or (lambda _tool: 30.0)
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.latency_weight = latency_weight
        self.satisfaction_weight = satisfaction_weight
        self.rng = rng or random.Random()
        self.clock = clock
        self.decisions: deque[Decision] = deque(maxlen=keep_decisions)
        self._breakers: dict[str, _Breaker] = {}
        self._pending: list[tuple[str, str | None, str, bool, float, float]] = []
        self.policy_version = (
            f"{POLICY};half_life={self.learner.half_life_days:g}d;latency={latency_weight:g};"
            f"satisfaction={satisfaction_weight:g};breaker={failure_threshold}/{cooldown:g}s"
        )

    # -- outcomes ------------------------------------------------------------------------------

    def observe(
        self,
        user_id: str,
        tool: str,
        success: bool,
        duration_ms: float,
        *,
        intent: str | None = None,
        error_type: str | None = None,
        at: float | None = None,
    ) -> None:
        """Learn from one finished call (the history plugin calls this for every outcome).

        The circuit breaker learns at once; the learner's sums take the outcome when the router is
        next read (or every ``FOLD_EVERY`` outcomes): on the call path that is one list append, and
        the arithmetic runs in a tight loop over many outcomes, which measured cheaper per call."""
        now = self.clock() if at is None else at
        pending = self._pending
        pending.append((user_id, intent, tool, success, duration_ms, now))
        if len(pending) >= FOLD_EVERY:
            self._fold()
        breaker = self._breakers.get(tool)
        if breaker is None:
            breaker = self._breakers[tool] = _Breaker()
        if success:
            if breaker.consecutive_failures or breaker.opened_at is not None or breaker.trial_started is not None:
                breaker.consecutive_failures = 0
                breaker.opened_at = None
                breaker.trial_started = None
        elif error_type not in NOT_THE_TOOLS_FAULT:
            breaker.consecutive_failures += 1
            half_open = breaker.trial_started is not None
            if half_open or breaker.consecutive_failures >= self.failure_threshold:
                if breaker.opened_at is None or half_open:
                    log.warning("circuit for tool %r opened after %d failures", tool, breaker.consecutive_failures)
                breaker.opened_at = self.clock()
                breaker.trial_started = None

    def _fold(self) -> None:
        """Hand the outcomes observed since the last read to the learner, in order."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        observe = self.learner.observe
        for user_id, intent, tool, success, duration_ms, at in pending:
            observe(user_id, intent, tool, success, duration_ms, at)

    def observe_feedback(self, user_id: str, tool: str, old: int | None, new: int, *, intent: str | None) -> None:
        self._fold()
        self.learner.observe_feedback(user_id, intent, tool, old, new)

    def warm(self, rows: Iterable[StoredCounts]) -> int:
        """Load stored counts (the history's rollup) into the learner."""
        self._fold()
        return self.learner.warm(rows)

    def forget_user(self, user_id: str) -> int:
        """Drop what the router knows about one user (from memory)."""
        self._fold()
        return self.learner.forget_user(user_id)

    # -- the circuit breaker -------------------------------------------------------------------

    def circuit(self, tool: str, now: float | None = None) -> CircuitState:
        now = self.clock() if now is None else now
        breaker = self._breakers.get(tool)
        if breaker is None or breaker.opened_at is None:
            return CircuitState(tool, "closed", breaker.consecutive_failures if breaker else 0)
        retry_at = breaker.opened_at + self.cooldown
        if now < retry_at:
            return CircuitState(tool, "open", breaker.consecutive_failures, retry_at)
        if breaker.trial_started is not None and now < breaker.trial_started + self.cooldown:
            # One trial is in flight: others wait for its outcome.
            return CircuitState(tool, "open", breaker.consecutive_failures, breaker.trial_started + self.cooldown)
        return CircuitState(tool, "half_open", breaker.consecutive_failures, retry_at)

    # -- scoring -------------------------------------------------------------------------------

    def _score(
        self,
        user_id: str,
        intent: str | None,
        tool: str,
        now: float,
        circuit: str,
        *,
        scale: float | None = None,
        draw: bool = False,
    ) -> ToolScore:
        if scale is None:
            scale = self.learner.discount(now)
        alpha, beta, user_n, global_n, kappa, latency, satisfaction = self.learner.snapshot(
            user_id, intent, tool, scale
        )
        penalty = 0.0
        if latency >= 0.0:
            timeout_ms = max(self.timeout_for(tool), 1e-3) * 1000.0
            penalty = self.latency_weight * min(1.0, latency / timeout_ms)
        reward = self.satisfaction_weight * (satisfaction - NEUTRAL_SCORE) / 2.0
        eligible = circuit != "open"
        mean = alpha / (alpha + beta)
        sample = None
        if draw and eligible:
            sample = self.rng.betavariate(alpha, beta) - penalty + reward
        return ToolScore(
            tool=tool,
            expected=mean - penalty + reward,
            sample=sample,
            alpha=alpha,
            beta=beta,
            success_mean=mean,
            user_calls=user_n,
            global_calls=global_n,
            prior_strength=kappa,
            latency_ms=latency if latency >= 0.0 else None,
            latency_penalty=penalty,
            satisfaction=satisfaction,
            satisfaction_reward=reward,
            circuit=circuit,
            eligible=eligible,
        )

    def _state(self, tool: str, now: float) -> str:
        breaker = self._breakers.get(tool)
        if breaker is None or breaker.opened_at is None:
            return "closed"
        return self.circuit(tool, now).state

    def rank(self, user_id: str, candidates: Sequence[str], *, intent: str | None = None) -> list[ToolScore]:
        """Candidates best first by expected score (no sampling: stable); open circuits last."""
        self._fold()
        now = self.clock()
        scale = self.learner.discount(now)
        scores = [self._score(user_id, intent, t, now, self._state(t, now), scale=scale) for t in candidates]
        order = {t: i for i, t in enumerate(candidates)}
        return sorted(scores, key=lambda s: (not s.eligible, -s.expected, order[s.tool]))

    def choose(
        self,
        user_id: str,
        candidates: Sequence[str],
        *,
        intent: str | None = None,
        capability: str | None = None,
    ) -> Decision:
        """Pick one candidate by Thompson sampling; logs the decision with its propensity."""
        self._fold()
        if not candidates:
            raise ValueError("choose() needs at least one candidate")
        now = self.clock()
        scale = self.learner.discount(now)
        states = {t: self._state(t, now) for t in candidates}
        if all(s == "open" for s in states.values()):
            # Everything is failing: try anyway rather than refuse the step.
            states = dict.fromkeys(candidates, "half_open")
        drawn = [self._score(user_id, intent, t, now, states[t], scale=scale, draw=True) for t in candidates]
        eligible = [s for s in drawn if s.eligible]
        best = max(eligible, key=lambda s: s.sample if s.sample is not None else -math.inf)
        if states[best.tool] == "half_open":
            self._breakers.setdefault(best.tool, _Breaker()).trial_started = now
        decision = Decision(
            decision_id=str(uuid.uuid4()),
            user_id=user_id,
            intent=intent,
            capability=capability,
            chosen=best.tool,
            propensity=_propensity(best, eligible),
            policy_version=self.policy_version,
            scores=tuple(sorted(drawn, key=lambda s: (not s.eligible, -(s.sample or -math.inf)))),
            at=now,
        )
        self.decisions.append(decision)
        if decision_log.isEnabledFor(logging.INFO):
            decision_log.info("%s", json.dumps(decision.as_log(), separators=(",", ":")))
        return decision

    def explain(self, user_id: str, tool: str, *, intent: str | None = None) -> str:
        """Why ``tool`` scores what it does for this user, in one line."""
        self._fold()
        now = self.clock()
        score = self._score(user_id, intent, tool, now, self.circuit(tool, now).state)
        return f"{tool}: expected {score.expected:.3f}; {score.reason()}"

    def preferred_tools(self, user_id: str, *, intent: str | None = None, limit: int = 10) -> list[ToolScore]:
        """The tools this user has called (for ``intent``), best first."""
        self._fold()
        return self.rank(user_id, self.learner.user_tools(user_id, intent), intent=intent)[:limit]

    def order(
        self,
        user_id: str,
        names: Sequence[str],
        *,
        pinned: Sequence[str] = (),
        limit: int | None = None,
    ) -> list[str]:
        """``names`` in the user's preference order for a tool list: pinned tools first (always
        listed), then the best of the rest, at most ``limit`` in all (pinned ones never cut)."""
        present = set(names)
        head = [n for n in dict.fromkeys(pinned) if n in present]
        rest = [s.tool for s in self.rank(user_id, [n for n in names if n not in set(head)])]
        if limit is not None:
            rest = rest[: max(0, limit - len(head))]
        return head + rest


def _propensity(chosen: ToolScore, eligible: Sequence[ToolScore]) -> float:
    """P(chosen has the highest draw), each score's posterior taken as normal: Simpson's rule over
    ``pdf_chosen(x) * prod(cdf_other(x))`` where that product is not negligible."""
    others = [s for s in eligible if s is not chosen]
    if not others:
        return 1.0

    def spread(s: ToolScore) -> tuple[float, float]:
        n = s.alpha + s.beta
        return s.expected, max(math.sqrt(s.alpha * s.beta / (n * n * (n + 1.0))), 1e-9)

    mu, sd = spread(chosen)
    rivals = [spread(s) for s in others]
    # Below any rival's mean - 5 sd that rival almost surely wins: the integrand is ~0 there.
    lo = max(mu - 5.0 * sd, max(m - 5.0 * d for m, d in rivals))
    hi = mu + 5.0 * sd
    if lo >= hi:
        return 0.0
    # Rivals that almost surely stay below the whole range multiply by ~1: skip them.
    near = [(m, 1.0 / (d * math.sqrt(2.0))) for m, d in rivals if m + 5.0 * d > lo]
    erf, exp = math.erf, math.exp
    points = 17  # Simpson's rule: plenty for a smooth, unimodal integrand
    step = (hi - lo) / (points - 1)
    norm = 1.0 / (sd * math.sqrt(2.0 * math.pi))
    total = 0.0
    for i in range(points):
        x = lo + i * step
        z = (x - mu) / sd
        prob = norm * exp(-0.5 * z * z)
        for m, inv in near:
            prob *= 0.5 * (1.0 + erf((x - m) * inv))
            if prob < 1e-300:
                break
        total += (1.0 if i in (0, points - 1) else 4.0 if i % 2 else 2.0) * prob
    return min(1.0, max(0.0, total * step / 3.0))
