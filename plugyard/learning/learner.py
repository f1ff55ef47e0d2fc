"""The Bayesian learner and the tool preference router: which tool serves this user best.

The model, per (intent, tool) and per (user, intent, tool):

- **Time-discounted Beta-Bernoulli.** Every outcome counts with weight ``2 ** -(age / half_life)``
  (default half-life a year: the learner's memory is long, and a tool that changes is met by the drift
  reset below, not by forgetting everything always). Counts are kept as sums of
  ``decay_weight(t) = 2 ** ((t - EPOCH) / half_life)``: such sums are additive (the recorder's rollups
  add them in SQL, in 14-day units, converted when warming) and the discounted count at time ``now`` is
  ``sum * 2 ** -((now - EPOCH) / half_life)``.
- **Global posterior** of a tool for an intent: ``Beta(1 + S, 1 + F)`` over every user's discounted counts.
- **Pooling**: a user's posterior is ``Beta(k' * m + s, k' * (1 - m) + f)`` where ``m`` is the other users'
  posterior mean and ``k'`` the pooling strength: everyone's experience in full (``k'`` = the others' calls
  + 2, so the user's posterior is everyone's) until the intent's users demonstrably differ (a test of
  their rates' spread over all the intent's tools), weak once they do, and weak for one user whose own
  record rejects the others' rate: see ``plugyard.learning.prior``.
- **Choice by Thompson sampling**: each eligible candidate's score is a draw from the user's posterior,
  minus a latency penalty ``LATENCY_WEIGHT * min(1, mean latency / timeout)``, plus a satisfaction reward
  ``SATISFACTION_WEIGHT * (mean score - 3) / 2`` (means shrunk toward the neutral 3 with two pseudo-ratings).
- **Drift reset**: beside the discounted counts, everyone's outcomes per (intent, tool) are also counted in a
  window whose half-life is DRIFT_HALF_LIFE_CALLS *calls* (not time: a tool that dies within a busy day is
  seen as soon as one that dies over a quiet week). When those recent outcomes differ from the long-run
  rate by more than DRIFT_MARGIN plus two standard errors, the tool has changed: successes and failures
  are each scaled down (every user's and the total alike, so the total stays the sum of the users') until
  the long-run counts say what the recent ones say. (Memory only: a restart warms from the rollups again
  and the reset re-triggers on the next calls.) Measured in tests/learning/test_pooling.py: a tool at 85%
  that dies is reset within 25 calls (12 typically), and 25,000 stationary calls raise at most one reset.
  A run of failures that the tool's record rejects (``prior.breaks_down``: an outage; ten in a row at
  85%, fourteen at 72%) resets it at once to that run alone; each outage the tool has had lowers the
  evidence the next run needs (tenfold, down to 100): outages that recur are met sooner.
- **Recovery**: a tool the drift reset fired on may change again, so while it is out of favour its evidence
  (every user's and the total) halves in every RECOVERY_HALF_LIFE_CALLS calls of the intent's other tools:
  its posterior widens again and Thompson sampling retries it (a tool back from an outage of 60 failures,
  beside one at 80%, is retried within about 120 calls: tests/learning/test_recovery.py). Each retry that
  fails doubles that wait (exponential back-off): a tool that stays down costs retries logarithmic in the
  calls. One that succeeds restores it after an outage (a success ends a run of failures), not after a
  shift of the rate (a tool degraded to 55% succeeds at every other retry: that is no sign it is back),
  and a tool that shifts again while retried keeps its back-off; an outage restarts it. A steady tool's
  evidence never fades this way.
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
import logging
import math
import threading
import time
from collections.abc import Iterable

from plugyard.learning.counts import (
    DAY_S,
    EPOCH_S,
    HALF_LIFE_DAYS,
    LEARNER_HALF_LIFE_DAYS,
    Posterior,
    StoredCounts,
    decay_weight,
)
from plugyard.learning.prior import (
    KAPPA_DEFAULT,
    KAPPA_DEPARTED,
    KAPPA_MAX,
    KAPPA_MIN,
    breaks_down,
    departs,
    effective_strength,
    pooling_strength,
    spread_terms,
)

__all__ = ["KAPPA_DEFAULT", "KAPPA_MAX", "KAPPA_MIN"]  # re-exported: the prior's bounds are the learner's

log = logging.getLogger("plugyard.preference")

ANY_INTENT = "*"
"""The key under which every call of a tool counts, whatever its intent."""

NEUTRAL_SCORE = 3.0
SCORE_PSEUDO_COUNT = 2.0
DRIFT_HALF_LIFE_CALLS = 20.0
DRIFT_MIN_CALLS = 20.0
DRIFT_MARGIN = 0.1
RECOVERY_HALF_LIFE_CALLS = 20.0
"""A tool the drift reset fired on loses half its evidence in every this many calls of the intent's other
tools while it is not called itself: a tool that failed and recovered is retried (see the module docstring).
Each retry that fails doubles it for that tool; after an outage a retry that succeeds restores it (see the
module docstring)."""
STRENGTH_REFRESH = 0.02
"""A cached pooling strength is recomputed once the intent's outcomes grew by this share (at least one),
or this share of a half-life passed."""


@dataclasses.dataclass(slots=True)
class _Cell:
    """Additive sums for one (user or everyone, intent, tool), in decay_weight units."""

    s: float = 0.0
    f: float = 0.0
    ms: float = 0.0
    sat_sum: float = 0.0
    sat_n: float = 0.0
    departed: bool = False
    """A user's cell: their record rejects the others' rate (``prior.departs``), tested at each of their calls."""


@dataclasses.dataclass(slots=True)
class _Group:
    """One (intent, tool) over every user: the sum of its users' cells."""

    total: _Cell = dataclasses.field(default_factory=_Cell)
    version: int = 0
    changed: bool = False
    """The drift reset fired on this tool once: it may change again, so while it is not called its
    evidence fades in the intent's other calls (``RECOVERY_HALF_LIFE_CALLS``) and it gets retried."""
    seen: int = 0
    """The intent's outcome count (``_Pooling.calls``) at this tool's last outcome."""
    wait: float = 0.0
    """A changed tool's current recovery half-life in the intent's calls: RECOVERY_HALF_LIFE_CALLS at its
    first reset, at each outage, and after a retry (a call after at least one half-life idle) that
    succeeds after an outage; doubled after a retry that fails (exponential back-off)."""
    outage: bool = False
    """The last reset was an outage's (a run of failures the record rejects), not a shift of the rate."""
    outages: int = 0
    """Outages so far: each lowers the evidence the next run of failures needs (``prior.breaks_down``)."""


@dataclasses.dataclass(slots=True)
class _Pooling:
    """One intent's pooling strength over its tools, cached (see ``plugyard.learning.prior``)."""

    tools: set[str] = dataclasses.field(default_factory=set)
    version: int = 0
    calls: int = 0
    """Outcomes observed for the intent, every tool together (the clock of a changed tool's forgetting)."""
    strength: float = KAPPA_DEFAULT
    strength_version: int = -1
    strength_at: float = 0.0


class BayesianLearner:
    """Time-discounted Beta-Bernoulli posteriors per (intent, tool) and per (user, intent, tool)."""

    def __init__(self, *, half_life_days: float = LEARNER_HALF_LIFE_DAYS, prior_cap: float = KAPPA_MAX) -> None:
        if half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        if prior_cap < KAPPA_MIN:
            raise ValueError(f"prior_cap must be at least {KAPPA_MIN:g}")
        self.half_life_days = half_life_days
        self.prior_cap = prior_cap
        self._rate = 1.0 / (half_life_days * DAY_S)
        self._users: dict[tuple[str, str, str], _Cell] = {}
        self._groups: dict[tuple[str, str], _Group] = {}
        self._pooling: dict[str, _Pooling] = {}
        self._by_user: dict[str, set[tuple[str, str]]] = {}
        self._group_users: dict[tuple[str, str], set[str]] = {}
        self._fast: dict[tuple[str, str], list[float]] = {}
        self._fast_keep = 2.0 ** (-1.0 / DRIFT_HALF_LIFE_CALLS)
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
            self._pool(key).tools.add(tool)
        if cell is None:
            cell = self._users[(user, key, tool)] = _Cell()
            self._by_user.setdefault(user, set()).add((key, tool))
            self._group_users.setdefault((key, tool), set()).add(user)
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
        group.version += 1
        self._pool(key).version += 1

    def _pool(self, key: str) -> _Pooling:
        pool = self._pooling.get(key)
        if pool is None:
            pool = self._pooling[key] = _Pooling()
        return pool

    def observe(
        self, user_id: str, intent: str | None, tool: str, success: bool, duration_ms: float, at: float
    ) -> None:
        """Count one outcome at time ``at`` (seconds since the Unix epoch)."""
        w = self.weight(at)
        with self._lock:
            for key in self._keys(intent):
                self._recall(key, tool, success)
                self._add(user_id, key, tool, w if success else 0.0, 0.0 if success else w, w * duration_ms, 0.0, 0.0)
                self._watch_drift(key, tool, success, at)
                self._test_departure(user_id, key, tool, 1.0 / w)

    def _idle(self, key: str, group: _Group) -> float:
        """The share of a changed tool's evidence left after the intent's other calls since its last one."""
        if not group.changed:
            return 1.0
        return float(2.0 ** (-(self._pooling[key].calls - group.seen) / group.wait))

    def _recall(self, key: str, tool: str, success: bool) -> None:
        """Before a tool's outcome counts: its evidence faded while idle (if changed) becomes its state;
        a retry that fails doubles the wait before the next one (a tool that stays down costs a number of
        retries logarithmic in the calls, not linear), one that succeeds after an outage restores it."""
        pool = self._pool(key)
        pool.calls += 1
        group = self._groups.get((key, tool))
        if group is None:
            return
        idle = pool.calls - 1 - group.seen
        if group.changed and idle > 0:
            keep = float(2.0 ** (-idle / group.wait))
            if idle >= group.wait:
                if not success:
                    group.wait *= 2.0
                elif group.outage:
                    group.wait = RECOVERY_HALF_LIFE_CALLS
            for cell in [group.total, *(self._users[(u, key, tool)] for u in self._group_users.get((key, tool), ()))]:
                cell.s *= keep
                cell.f *= keep
                cell.ms *= keep
        group.seen = pool.calls

    def _test_departure(self, user_id: str, key: str, tool: str, scale: float) -> None:
        cell = self._users[(user_id, key, tool)]
        total = self._groups[(key, tool)].total
        us, uf = cell.s * scale, cell.f * scale
        cell.departed = departs(us, uf, max(0.0, total.s * scale - us), max(0.0, total.f * scale - uf))

    def _watch_drift(self, key: str, tool: str, success: bool, at: float) -> None:
        fast = self._fast.get((key, tool))
        if fast is None:
            fast = self._fast[(key, tool)] = [0.0, 0.0, 0.0]
        keep = self._fast_keep
        fast[0] = fast[0] * keep + (1.0 if success else 0.0)
        fast[1] = fast[1] * keep + (0.0 if success else 1.0)
        fast[2] = 0.0 if success else fast[2] + 1.0
        group = self._groups[(key, tool)]
        total = group.total
        n_slow = total.s + total.f
        if n_slow <= 0:
            return
        unit = self.weight(at)
        run = fast[2]
        if run >= 2.0 and breaks_down(run, total.s / unit, max(0.0, total.f / unit - run), group.outages):
            # A run of failures the tool's record makes implausible (an outage): what it says is all
            # that is left, the successes before it go.
            fast[0], fast[1] = 0.0, (1.0 - keep**run) / (1.0 - keep)
            self._reset(key, tool, 0.0, min(1.0, run * unit / total.f), at, f"{run:.0f} failures in a row", True)
            return
        n_fast = fast[0] + fast[1]
        if n_fast < DRIFT_MIN_CALLS:
            return
        recent = fast[0] / n_fast
        longrun = total.s / n_slow
        if abs(recent - longrun) <= DRIFT_MARGIN + 2.0 * math.sqrt(recent * (1.0 - recent) / n_fast):
            return
        # The tool changed: scale successes and failures (each at most to what they were) so that the
        # long-run counts hold what the recent ones say, users' cells and the total alike.
        keep_s = min(1.0, fast[0] * unit / total.s) if total.s > 0 else 1.0
        keep_f = min(1.0, fast[1] * unit / total.f) if total.f > 0 else 1.0
        self._reset(key, tool, keep_s, keep_f, at, f"recent success {100 * recent:.0f}% vs {100 * longrun:.0f}%")

    def _reset(
        self, key: str, tool: str, keep_s: float, keep_f: float, at: float, why: str, outage: bool = False
    ) -> None:
        """Scale a changed tool's successes and failures, every user's and the total alike."""
        group = self._groups[(key, tool)]
        total = group.total
        n_slow = total.s + total.f
        keep_ms = (total.s * keep_s + total.f * keep_f) / n_slow
        for cell in [total, *(self._users[(u, key, tool)] for u in self._group_users.get((key, tool), ()))]:
            cell.s *= keep_s
            cell.f *= keep_f
            cell.ms *= keep_ms
        unit = self.weight(at)
        for user in self._group_users.get((key, tool), ()):
            self._test_departure(user, key, tool, 1.0 / unit)
        group.version += 1
        if outage or not group.changed:  # a tool shifting again while retried keeps its back-off
            group.wait = RECOVERY_HALF_LIFE_CALLS
        group.changed = True
        group.outage = outage
        group.outages += outage
        self._pool(key).version += 1
        self.drift_resets += 1
        log.info("tool %r (intent %s) changed: %s; older counts dropped", tool, key, why)

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
            scale = self.discount(now)
            for user, key, tool in self._users:
                self._test_departure(user, key, tool, scale)
        return count

    def forget_user(self, user_id: str) -> int:
        """Remove everything known about one user (from memory); returns how many cells went."""
        with self._lock:
            keys = self._by_user.pop(user_id, set())
            for key, tool in keys:
                cell = self._users.pop((user_id, key, tool))
                users = self._group_users.get((key, tool), set())
                users.discard(user_id)
                group = self._groups[(key, tool)]
                total = group.total
                if not users:
                    group.total = _Cell()
                else:  # the total is the users' sum; rounding must not take it below zero
                    total.s = max(0.0, total.s - cell.s)
                    total.f = max(0.0, total.f - cell.f)
                    total.ms = max(0.0, total.ms - cell.ms)
                    total.sat_sum = max(0.0, total.sat_sum - cell.sat_sum)
                    total.sat_n = max(0.0, total.sat_n - cell.sat_n)
                group.version += 1
                self._pool(key).version += 1
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
        group = self._groups.get((key, tool))
        scale = self.discount(now) * (self._idle(key, group) if group is not None else 1.0)
        return cell.s * scale, cell.f * scale

    def global_posterior(self, intent: str | None, tool: str, now: float) -> Posterior:
        s, f = self.counts(None, intent, tool, now)
        return Posterior(1.0 + s, 1.0 + f)

    def _strength(self, key: str, scale: float, now: float) -> float:
        """The intent's pooling strength over its tools, recomputed when enough changed (cached)."""
        pool = self._pooling.get(key)
        if pool is None:
            return KAPPA_DEFAULT
        changed = pool.version - pool.strength_version
        if (changed == 0 or changed < STRENGTH_REFRESH * pool.strength_version) and abs(
            now - pool.strength_at
        ) * self._rate < STRENGTH_REFRESH:
            return pool.strength
        users = self._users
        terms = []
        for tool in pool.tools:
            cells = [users[(u, key, tool)] for u in self._group_users.get((key, tool), ())]
            terms.append(spread_terms([(c.s * scale, c.f * scale) for c in cells]))
        pool.strength = pooling_strength(terms, self.prior_cap)
        pool.strength_version = pool.version
        pool.strength_at = now
        return pool.strength

    def prior_strength(self, intent: str | None, tool: str, now: float) -> float:
        """The pooling strength k answering for (intent, tool) (see ``plugyard.learning.prior``)."""
        return self._strength(self.key_for(intent, tool), self.discount(now), now)

    def user_posterior(self, user_id: str, intent: str | None, tool: str, now: float) -> Posterior:
        """The user's posterior, shrunk toward the other users' mean with the estimated prior strength."""
        alpha, beta, *_ = self.snapshot(user_id, intent, tool, self.discount(now), now)
        return Posterior(alpha, beta)

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

    def snapshot(self, user_id: str, intent: str | None, tool: str, scale: float, now: float) -> tuple[float, ...]:
        """Everything a score needs in one pass (the decision path): (alpha, beta, the user's discounted
        calls, everyone's, prior strength, mean latency or -1, mean satisfaction). ``scale`` is
        ``2 ** -((now - EPOCH) / half_life)``: the same as ``user_posterior`` & co. at ``now``."""
        key = intent if intent and intent != ANY_INTENT else ANY_INTENT
        group = self._groups.get((key, tool))
        if key != ANY_INTENT and (group is None or group.total.s + group.total.f <= 0):
            key = ANY_INTENT
            group = self._groups.get((key, tool))
        cell = self._users.get((user_id, key, tool))
        strength_scale = scale
        if group is not None and group.changed:
            scale *= self._idle(key, group)
        us, uf = (cell.s * scale, cell.f * scale) if cell is not None else (0.0, 0.0)
        if group is None:
            k = effective_strength(KAPPA_DEFAULT, 0.0)
            return (k * 0.5 + us, k * 0.5 + uf, us + uf, 0.0, k, -1.0, NEUTRAL_SCORE)
        total = group.total
        gs, gf = total.s * scale, total.f * scale
        # The prior is the other users' experience: the user's own calls are counted once, as theirs.
        os_, of = max(0.0, gs - us), max(0.0, gf - uf)
        prior = (1.0 + os_) / (2.0 + os_ + of)
        kappa = effective_strength(self._strength(key, strength_scale, now), os_ + of)
        if kappa > KAPPA_DEPARTED and cell is not None and cell.departed:
            kappa = KAPPA_DEPARTED
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
