"""Off-policy evaluation on synthetic logs: the evaluator recovers a known better setting, flags a
known worse one, and its estimate is close to what the setting really does when run."""

from __future__ import annotations

import random

import pytest

from plugyard.learning.counts import DAY_S, EPOCH_S
from plugyard.learning.evaluate import LoggedCall, Setting, evaluate
from plugyard.learning.learner import BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

RATES = {"a": 0.9, "b": 0.5}
RATINGS = {"a": 1, "b": 5}  # the users rate the unreliable tool highly: a setting trusting ratings loses
START = EPOCH_S + 300 * DAY_S


def uniform_logs(n: int, seed: int) -> list[LoggedCall]:
    rng = random.Random(seed)
    calls = []
    for i in range(n):
        tool = rng.choice(["a", "b"])
        calls.append(
            LoggedCall(
                at=START + i * 60.0,
                user_id=f"u{i % 20}",
                tool=tool,
                success=rng.random() < RATES[tool],
                duration_ms=20.0,
                candidates=("a", "b"),
                propensity=0.5,
                score=RATINGS[tool] if i % 4 == 0 else None,
            )
        )
    return calls


def run_online(setting: Setting, n: int, seed: int) -> float:
    """What the setting's success rate really is, choosing live in the same world."""
    rng = random.Random(seed)
    clock = [START]
    router = ToolPreferenceRouter(
        BayesianLearner(half_life_days=setting.half_life_days, prior_cap=setting.prior_cap),
        satisfaction_weight=setting.satisfaction_weight,
        exploration=setting.exploration,
        rng=random.Random(seed + 1),
        clock=lambda: clock[0],
    )
    wins = 0
    for i in range(n):
        clock[0] = START + i * 60.0
        user = f"u{i % 20}"
        tool = router.choose(user, ["a", "b"]).chosen
        ok = rng.random() < RATES[tool]
        wins += ok
        router.observe(user, tool, ok, 20.0)
        if i % 4 == 0:
            router.observe_feedback(user, tool, None, RATINGS[tool], intent=None)
    return wins / n


def test_the_evaluator_recovers_a_better_setting_and_flags_a_worse_one():
    logs = uniform_logs(3000, seed=11)
    better = evaluate(logs, Setting(satisfaction_weight=0.0, exploration=0.5))
    worse = evaluate(logs, Setting(satisfaction_weight=3.0))
    assert better.decisions == 3000
    assert better.logged_value == pytest.approx(0.7, abs=0.03)
    assert better.significant and better.difference > 0.1 and "better" in better.verdict()
    assert worse.significant and worse.difference < -0.05 and "worse" in worse.verdict()
    assert better.low <= better.difference <= better.high
    # The estimate is close to what the better setting does when it runs.
    truth = run_online(Setting(satisfaction_weight=0.0, exploration=0.5), 3000, seed=5)
    assert better.value == pytest.approx(truth, abs=0.04)
    assert 0 < better.effective_sample_size < 3000


def test_the_logging_setting_itself_is_no_significant_change():
    rng = random.Random(3)
    clock = [START]
    router = ToolPreferenceRouter(rng=random.Random(4), clock=lambda: clock[0])
    logs = []
    for i in range(1500):
        clock[0] = START + i * 60.0
        user = f"u{i % 20}"
        decision = router.choose(user, ["a", "b"])
        ok = rng.random() < RATES[decision.chosen]
        router.observe(user, decision.chosen, ok, 20.0)
        logs.append(
            LoggedCall(clock[0], user, decision.chosen, ok, 20.0, candidates=("a", "b"), propensity=decision.propensity)
        )
    same = evaluate(logs, Setting())
    assert not same.significant
    assert same.value == pytest.approx(same.logged_value, abs=0.03)


def test_no_logged_decisions_say_so():
    calls = [LoggedCall(START, "u", "a", True, 5.0)]
    result = evaluate(calls, Setting())
    assert result.decisions == 0 and result.verdict() == "no logged decisions to evaluate"
