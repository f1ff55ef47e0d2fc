"""The tool preference router: ranks and chooses tools from the learner's posteriors (see
``plugyard.learning.learner`` for the model), with the circuit breaker and logged decisions."""

from __future__ import annotations

import json
import logging
import math
import random
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence

from plugyard.learning.breaker import NOT_THE_TOOLS_FAULT, CircuitState, _Breaker
from plugyard.learning.counts import DAY_S, EPOCH, EPOCH_S, HALF_LIFE_DAYS, Posterior, StoredCounts, decay_weight
from plugyard.learning.decisions import Decision, ToolScore, propensity_of
from plugyard.learning.learner import ANY_INTENT, KAPPA_MAX, NEUTRAL_SCORE, BayesianLearner

__all__ = [
    "ANY_INTENT",
    "DAY_S",
    "EPOCH",
    "EPOCH_S",
    "HALF_LIFE_DAYS",
    "BayesianLearner",
    "CircuitState",
    "Decision",
    "Posterior",
    "StoredCounts",
    "ToolPreferenceRouter",
    "ToolScore",
    "decay_weight",
]

log = logging.getLogger("plugyard.preference")
decision_log = logging.getLogger("plugyard.preference.decisions")

LATENCY_WEIGHT = 0.3
SATISFACTION_WEIGHT = 0.4
"""A 5-star tool against a 2-star one weighs like 0.6 of success probability (a star: 0.2)."""
POLICY = "thompson-beta/1"


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
        exploration: float = 1.0,
    ) -> None:
        self.learner = learner or BayesianLearner()
        self.timeout_for = timeout_for or (lambda _tool: 30.0)
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.latency_weight = latency_weight
        self.satisfaction_weight = satisfaction_weight
        if exploration <= 0:
            raise ValueError("exploration must be positive")
        self.exploration = exploration
        """Draws spread around the posterior mean times this (1: plain Thompson sampling)."""
        self.rng = rng or random.Random()
        self.clock = clock
        self.decisions: deque[Decision] = deque(maxlen=keep_decisions)
        self._breakers: dict[str, _Breaker] = {}
        self._pending: list[tuple[str, str | None, str, bool, float, float]] = []
        self.policy_version = (
            f"{POLICY};half_life={self.learner.half_life_days:g}d;latency={latency_weight:g};"
            f"satisfaction={satisfaction_weight:g};breaker={failure_threshold}/{cooldown:g}s"
            + (f";prior_cap={self.learner.prior_cap:g}" if self.learner.prior_cap != KAPPA_MAX else "")
            + (f";exploration={exploration:g}" if exploration != 1.0 else "")
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
            user_id, intent, tool, scale, now
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
            value = self.rng.betavariate(alpha, beta)
            if self.exploration != 1.0:
                value = mean + self.exploration * (value - mean)
            sample = value - penalty + reward
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
            propensity=propensity_of(best, eligible, self.exploration),
            policy_version=self.policy_version,
            scores=tuple(sorted(drawn, key=lambda s: (not s.eligible, -(s.sample or -math.inf)))),
            at=now,
        )
        self.decisions.append(decision)
        if decision_log.isEnabledFor(logging.INFO):
            decision_log.info("%s", json.dumps(decision.as_log(), separators=(",", ":")))
        return decision

    def user_counts(self, user_id: str, tool: str) -> tuple[float, float]:
        """The user's discounted (successes, failures) with ``tool``, every intent together."""
        self._fold()
        return self.learner.counts(user_id, None, tool, self.clock())

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
