"""What made the router lose to textbook bandits, each pinned: the pooling strength (hand-computed),
drift counted in calls, ratings that count, and forgetting a user after a drift reset."""

from __future__ import annotations

import math
import random

import pytest

from plugyard.learning.counts import DAY_S, EPOCH_S
from plugyard.learning.learner import KAPPA_DEFAULT, KAPPA_MAX, BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

NOW = EPOCH_S + 300 * DAY_S


def feed(learner: BayesianLearner, user: str, tool: str, ok: int, failed: int, *, at: float = NOW) -> None:
    for _ in range(ok):
        learner.observe(user, None, tool, True, 10.0, at)
    for _ in range(failed):
        learner.observe(user, None, tool, False, 10.0, at)


def feed_evenly(learner: BayesianLearner, user: str, tool: str, ok: int, calls: int) -> None:
    """``ok`` successes spread evenly over ``calls`` (no run of failures that looks like a change)."""
    for j in range(calls):
        learner.observe(user, None, tool, (j + 1) * ok // calls > j * ok // calls, 10.0, NOW)


def test_pooling_strength_by_weighted_moments_with_a_stale_single_call_user():
    learner = BayesianLearner(half_life_days=14)
    for i in range(5):  # ten users in two camps: 78% and 62% over 100 calls each
        feed_evenly(learner, f"hi{i}", "search", 78, 100)
        feed_evenly(learner, f"lo{i}", "search", 62, 100)
    feed(learner, "stale", "search", 0, 1, at=NOW - 28 * DAY_S)  # one call two half-lives ago: weight 1/4
    # Hand computation. n = 100 (x10), 0.25; N = 1000.25; S = 700; p = S / N.
    n = [100.0] * 10 + [0.25]
    s = [78.0, 62.0] * 5 + [0.0]
    big_n, p = 1000.25, 700 / 1000.25
    pq = p * (1 - p)
    # Weighted spread of the rates around p: sum n_u (r_u - p)^2 = sum s_u^2 / n_u - S^2 / N (no cell reaches
    # the cap of 9 standard deviations).
    spread = sum(si * si / ni for si, ni in zip(s, n, strict=True)) - 700**2 / big_n
    # Noise share: c_u = min(n_u, 1); information d_u = max(n_u - 1, 0) (the stale user: none).
    c = [1.0] * 10 + [0.25]
    d = [99.0] * 10 + [0.0]
    noise = sum(c) - sum(ni * ci for ni, ci in zip(n, c, strict=True)) / big_n
    x = spread / pq - noise
    info = sum(d) - sum(ni * di for ni, di in zip(n, d, strict=True)) / big_n
    low = x - 2 * (2 * noise) ** 0.5  # two standard deviations of noise: the users do differ
    k = 0.1 * info / low - 1  # tempered to a tenth of the moment match 1 / rho - 1
    assert low > 0 and 1 < k < 10
    assert learner.drift_resets == 0
    assert learner.prior_strength(None, "search", NOW) == pytest.approx(k)
    # hi0's posterior: the others' calls (N - 100 = 900.25, 622 successes) give the prior mean.
    m = (1 + 622) / (2 + 900.25)
    hi0 = learner.user_posterior("hi0", None, "search", NOW)
    assert (hi0.alpha, hi0.beta) == (pytest.approx(k * m + 78), pytest.approx(k * (1 - m) + 22))
    # A newcomer: everyone's calls (1000.25, 700 successes), the same strength.
    m_all = 701 / 1002.25
    new = learner.user_posterior("zoe", None, "search", NOW)
    assert (new.alpha, new.beta) == (pytest.approx(k * m_all), pytest.approx(k * (1 - m_all)))


def test_two_single_call_users_say_nothing_of_how_users_differ_and_do_not_pin_the_prior():
    learner = BayesianLearner()
    feed(learner, "u1", "a", 1, 0)
    feed(learner, "u2", "a", 0, 1)
    assert learner.prior_strength(None, "a", NOW) == pytest.approx(KAPPA_DEFAULT)
    # A third user: the others' two calls (one success) give mean 2/4 and cap the strength at 2 + 2.
    third = learner.user_posterior("u3", None, "a", NOW)
    assert (third.alpha, third.beta) == (pytest.approx(2.0), pytest.approx(2.0))
    # 50 stale single calls: still no information about the spread between users.
    for i in range(50):
        feed(learner, f"s{i}", "b", i % 2, 1 - i % 2, at=NOW - 60 * DAY_S)
    assert learner.prior_strength(None, "b", NOW) == pytest.approx(KAPPA_DEFAULT)
    # Identical heavy users: everyone's experience is everyone's (no cap by default).
    for _ in range(50):
        for u in ("h1", "h2", "h3", "h4", "h5"):
            feed(learner, u, "c", 3, 1)
    assert learner.prior_strength(None, "c", NOW) == KAPPA_MAX == math.inf


def test_a_third_user_still_tries_a_tool_two_calls_know_little_about():
    clock = [NOW]
    router = ToolPreferenceRouter(rng=random.Random(3), clock=lambda: clock[0])
    router.observe("u1", "a", True, 5.0)
    router.observe("u2", "a", False, 5.0)
    router.observe("u1", "b", True, 5.0)
    router.observe("u2", "b", True, 5.0)
    picks = sum(router.choose("u3", ["a", "b"]).chosen == "a" for _ in range(2000))
    # Beta(2,2) against Beta(3,1) would pick a about a fifth of the time; a prior of 100 imaginary calls never.
    assert 200 < picks < 800


def test_a_tool_that_dies_within_one_busy_day_is_reset_after_a_few_dozen_failures():
    learner = BayesianLearner()
    start = NOW
    for i in range(2000):  # a busy morning: 2,000 good calls in two hours
        learner.observe(f"u{i % 50}", None, "best", True, 5.0, start + i * 3.6)
    for i in range(60):  # then it dies, minutes later
        learner.observe(f"u{i % 50}", None, "best", False, 5.0, start + 7300 + i * 3.6)
    assert learner.drift_resets >= 1
    assert learner.global_posterior(None, "best", start + 7600).mean < 0.5
    assert learner.user_posterior("u7", None, "best", start + 7600).mean < 0.6


def test_a_two_against_five_star_gap_outweighs_a_small_success_gap():
    clock = [NOW]
    router = ToolPreferenceRouter(rng=random.Random(5), clock=lambda: clock[0])
    for i in range(100):
        user = f"u{i % 10}"
        router.observe(user, "reliable", i % 10 != 0, 5.0)  # 90%
        router.observe(user, "liked", i % 20 > 2, 5.0)  # 85%
    for i in range(30):
        router.observe_feedback(f"u{i % 10}", "reliable", None, 2, intent=None)
        router.observe_feedback(f"u{i % 10}", "liked", None, 5, intent=None)
    ranked = router.rank("u1", ["reliable", "liked"])
    assert ranked[0].tool == "liked"
    assert ranked[0].satisfaction_reward - ranked[1].satisfaction_reward > 0.3
    picks = sum(router.choose("u1", ["reliable", "liked"]).chosen == "liked" for _ in range(500))
    assert picks > 400


def test_forgetting_a_user_after_a_drift_reset_leaves_no_negative_counts_and_choosing_works():
    clock = [NOW]
    router = ToolPreferenceRouter(rng=random.Random(1), clock=lambda: clock[0])
    for i in range(300):
        clock[0] = NOW + i * 60
        router.observe("heavy" if i % 3 else "light", "t", True, 5.0)
    for i in range(40):
        clock[0] = NOW + 20000 + i * 60
        router.observe("heavy" if i % 2 else "light", "t", False, 5.0)
    router.choose("light", ["t", "u"])
    assert router.learner.drift_resets >= 1
    router.forget_user("heavy")
    s, f = router.learner.counts(None, None, "t", clock[0])
    assert s >= 0 and f >= 0
    router.forget_user("light")
    s, f = router.learner.counts(None, None, "t", clock[0])
    assert (s, f) == (pytest.approx(0, abs=1e-9), pytest.approx(0, abs=1e-9))
    for _ in range(50):
        router.choose("newcomer", ["t", "u"])
