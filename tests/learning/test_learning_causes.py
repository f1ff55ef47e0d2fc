"""What made the router lose to textbook bandits, each pinned: the prior strength (hand-computed),
drift counted in calls, ratings that count, and forgetting a user after a drift reset."""

from __future__ import annotations

import random

import pytest

from plugyard.learning.learner import DAY_S, EPOCH_S, KAPPA_DEFAULT, KAPPA_MAX, BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

NOW = EPOCH_S + 300 * DAY_S


def feed(learner: BayesianLearner, user: str, tool: str, ok: int, failed: int, *, at: float = NOW) -> None:
    for _ in range(ok):
        learner.observe(user, None, tool, True, 10.0, at)
    for _ in range(failed):
        learner.observe(user, None, tool, False, 10.0, at)


def test_prior_strength_by_weighted_moments_shrunk_toward_the_default_with_a_stale_single_call_user():
    learner = BayesianLearner(half_life_days=14)
    feed(learner, "u1", "search", 8, 2)
    feed(learner, "u2", "search", 5, 5)
    feed(learner, "u3", "search", 2, 8)
    feed(learner, "u4", "search", 0, 1, at=NOW - 28 * DAY_S)  # one call two half-lives ago: weight 1/4
    # Hand computation. n = 10, 10, 10, 0.25; N = 30.25; S = 15; p = 15/30.25.
    n = [10, 10, 10, 0.25]
    s = [8, 5, 2, 0]
    big_n, p = 30.25, 15 / 30.25
    pq = p * (1 - p)
    # Weighted spread of the rates around p: sum n_u (r_u - p)^2 = sum s_u^2 / n_u - S^2 / N.
    spread = 64 / 10 + 25 / 10 + 4 / 10 + 0 - 15**2 / big_n
    # Noise share: c_u = min(n_u, 1) = 1, 1, 1, 0.25; information d_u = max(n_u - 1, 0) = 9, 9, 9, 0.
    c = [1, 1, 1, 0.25]
    d = [9, 9, 9, 0]
    x = spread / pq - (sum(c) - sum(ni * ci for ni, ci in zip(n, c, strict=True)) / big_n)
    info = sum(d) - sum(ni * di for ni, di in zip(n, d, strict=True)) / big_n
    w = info / (info + 20)  # 20 pseudo-information at the default strength
    rho = w * min(1, max(0, x / info)) + (1 - w) / (KAPPA_DEFAULT + 1)
    k = 1 / rho - 1
    assert s == [8, 5, 2, 0]
    assert learner.prior_strength(None, "search", NOW) == pytest.approx(k)
    assert 3 < k < 8  # the rates differ: a weak prior
    # u1's posterior: the others' calls (N - 10 = 20.25, 7 successes) give the prior mean and cap the strength.
    m = (1 + 7) / (2 + 20.25)
    k_eff = min(k, 20.25 + 2)  # the others' evidence caps the strength; here it does not bind
    u1 = learner.user_posterior("u1", None, "search", NOW)
    assert (u1.alpha, u1.beta) == (pytest.approx(k_eff * m + 8), pytest.approx(k_eff * (1 - m) + 2))
    # A newcomer: everyone's calls (30.25, 15 successes).
    m_all = 16 / 32.25
    k_new = min(k, 30.25 + 2)
    new = learner.user_posterior("zoe", None, "search", NOW)
    assert (new.alpha, new.beta) == (pytest.approx(k_new * m_all), pytest.approx(k_new * (1 - m_all)))


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
    # Identical heavy users: the cap, a modest one.
    for _ in range(50):
        for u in ("h1", "h2", "h3", "h4", "h5"):
            feed(learner, u, "c", 3, 1)
    assert learner.prior_strength(None, "c", NOW) == KAPPA_MAX


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
