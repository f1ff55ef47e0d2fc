"""How much a user leans on everyone's experience: all of it while users look alike, little once they
differ or once one user's own record says they differ; and the drift reset's detection delay and false
alarms, in calls."""

from __future__ import annotations

import math
import random

import pytest

from plugyard.learning.counts import DAY_S, EPOCH_S
from plugyard.learning.learner import BayesianLearner
from plugyard.learning.prior import KAPPA_DEPARTED, departs, estimate_strength

NOW = EPOCH_S + 300 * DAY_S


def play(learner: BayesianLearner, rates: dict[str, dict[str, float]], calls: int, seed: int) -> None:
    """Each user calls each of their tools ``calls`` times, interleaved, succeeding at their rate."""
    rng = random.Random(seed)
    for i in range(calls):
        for user, tools in rates.items():
            for tool, rate in tools.items():
                learner.observe(user, None, tool, rng.random() < rate, 10.0, NOW + i)


def test_identical_users_pool_completely_and_a_newcomer_gets_everyones_posterior():
    learner = BayesianLearner()
    play(learner, {f"u{i}": {"a": 0.85, "b": 0.80} for i in range(30)}, 40, seed=1)
    assert learner.prior_strength(None, "a", NOW) == math.inf
    glob = learner.global_posterior(None, "a", NOW)
    new = learner.user_posterior("newcomer", None, "a", NOW)
    assert (new.alpha, new.beta) == (pytest.approx(glob.alpha), pytest.approx(glob.beta))
    # An experienced user's posterior is everyone's too: their own calls counted once.
    u3 = learner.user_posterior("u3", None, "a", NOW)
    assert (u3.alpha, u3.beta) == (pytest.approx(glob.alpha), pytest.approx(glob.beta))


def test_users_whose_best_tools_differ_pool_weakly_even_for_a_tool_they_barely_call():
    learner = BayesianLearner()
    rates = {f"u{i}": {t: (0.85 if t == f"t{i % 3}" else 0.65) for t in ("t0", "t1", "t2")} for i in range(30)}
    play(learner, rates, 30, seed=2)
    for i in range(5):  # a fourth tool, one call each by five users: it says nothing about the users
        learner.observe(f"u{i}", None, "rare", i % 2 == 0, 10.0, NOW + 100)
    k = learner.prior_strength(None, "t0", NOW)
    assert k < 10
    assert learner.prior_strength(None, "rare", NOW) == k  # the intent's tools say how alike its users are
    # The one tool's users alone would say as much.
    cells = [learner.counts(f"u{i}", None, "t0", NOW) for i in range(30)]
    assert estimate_strength(cells) < 10


def test_a_user_whose_record_rejects_everyones_rate_learns_on_their_own():
    learner = BayesianLearner()
    play(learner, {f"u{i}": {"a": 0.85} for i in range(20)}, 50, seed=3)
    assert learner.prior_strength(None, "a", NOW) == math.inf
    for j in range(12):  # 2 successes in 12: everyone else's 85% is implausible for this user
        learner.observe("odd", None, "a", j in (3, 8), 10.0, NOW + 200 + j)
    odd = learner.user_posterior("odd", None, "a", NOW + 300)
    assert odd.alpha + odd.beta == pytest.approx(KAPPA_DEPARTED + 12, abs=1e-3)
    assert odd.mean < 0.35
    for j in range(12):  # 10 in 12: like the others
        learner.observe("usual", None, "a", j not in (3, 8), 10.0, NOW + 200 + j)
    usual = learner.user_posterior("usual", None, "a", NOW + 300)
    assert usual.alpha + usual.beta > 500


def test_a_user_like_the_others_rarely_departs_however_often_they_are_looked_at():
    # Checked after every one of 300 calls, users whose rate is the others' cross at most 1% (Ville).
    rng = random.Random(4)
    crossed = 0
    for _ in range(300):
        s = f = 0
        for _ in range(300):
            if rng.random() < 0.85:
                s += 1
            else:
                f += 1
            if departs(s, f, 8500, 1500):  # the others: 10,000 calls at 85%
                crossed += 1
                break
    assert crossed <= 6  # 2% of 300: the bound is 1%, with room for sampling


@pytest.mark.parametrize("rate", [0.5, 0.85, 0.95])
def test_the_drift_reset_fires_on_a_dead_tool_within_25_calls_and_not_on_stationary_noise(rate):
    false_alarms = 0
    for seed in range(5):
        rng = random.Random(seed)
        learner = BayesianLearner()
        for i in range(5000):
            learner.observe(f"u{i % 50}", None, "t", rng.random() < rate, 5.0, NOW + i * 60)
        false_alarms += learner.drift_resets
        before = learner.drift_resets
        for j in range(25):  # then it dies
            learner.observe(f"u{j % 50}", None, "t", False, 5.0, NOW + (5000 + j) * 60)
        assert learner.drift_resets > before
    assert false_alarms <= 1  # 25,000 stationary calls: fewer than one false alarm in 10,000 calls
