"""The learner's posteriors and shrinkage against hand-computed values; the router's choices,
circuit breaker, explanations and propensities."""

from __future__ import annotations

import random

import pytest

from plugyard.learning.counts import DAY_S, EPOCH_S, HALF_LIFE_DAYS, StoredCounts, decay_weight
from plugyard.learning.learner import KAPPA_DEFAULT, KAPPA_MAX, KAPPA_MIN, BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

NOW = EPOCH_S + 300 * DAY_S


def feed(learner: BayesianLearner, user: str, tool: str, ok: int, failed: int, *, intent=None, at=NOW) -> None:
    for _ in range(ok):
        learner.observe(user, intent, tool, True, 10.0, at)
    for _ in range(failed):
        learner.observe(user, intent, tool, False, 10.0, at)


def test_an_outcome_one_half_life_old_counts_half():
    learner = BayesianLearner(half_life_days=14)
    learner.observe("ada", None, "search", True, 5.0, NOW - 14 * DAY_S)
    learner.observe("ada", None, "search", False, 5.0, NOW - 28 * DAY_S)
    s, f = learner.counts("ada", None, "search", NOW)
    assert (s, f) == (pytest.approx(0.5), pytest.approx(0.25))
    assert learner.global_posterior(None, "search", NOW).alpha == pytest.approx(1.5)


def test_users_who_plainly_differ_get_the_weakest_pooling_and_keep_their_own_record():
    learner = BayesianLearner()
    feed(learner, "u1", "search", 8, 2)
    feed(learner, "u2", "search", 5, 5)
    feed(learner, "u3", "search", 2, 8)
    # pooled p = 15/30 = 0.5; rates 0.8, 0.5, 0.2; weighted spread 10 * (0.09 + 0 + 0.09) = 1.8;
    # X = 1.8 / 0.25 - (3 - 1) = 5.2; its noise variance V = 2 * 2 = 4; information D = 27 - 270/30 = 18.
    # X - 2 sqrt(V) = 1.2 > 0: the users differ; 0.1 * D / 1.2 - 1 = 0.5, at least KAPPA_MIN = 1.
    assert learner.prior_strength(None, "search", NOW) == KAPPA_MIN == 1.0
    glob = learner.global_posterior(None, "search", NOW)
    assert (glob.alpha, glob.beta) == (pytest.approx(16), pytest.approx(16))
    # u1's prior: the others' 20 calls (7 successes): mean 8/22, strength 1.
    m = 8 / 22
    u1 = learner.user_posterior("u1", None, "search", NOW)
    assert (u1.alpha, u1.beta) == (pytest.approx(m + 8), pytest.approx(1 - m + 2))
    new = learner.user_posterior("zoe", None, "search", NOW)
    assert (new.alpha, new.beta) == (pytest.approx(0.5), pytest.approx(0.5))


def test_prior_strength_is_the_default_for_one_user_and_the_maximum_for_identical_users():
    learner = BayesianLearner()
    feed(learner, "u1", "a", 3, 1)
    assert learner.prior_strength(None, "a", NOW) == KAPPA_DEFAULT
    for _ in range(100):
        feed(learner, "u2", "a", 3, 1)
        feed(learner, "u3", "a", 3, 1)
    assert learner.prior_strength(None, "a", NOW) == KAPPA_MAX


def test_an_intent_without_data_falls_back_to_every_intent_of_the_tool():
    learner = BayesianLearner()
    feed(learner, "u1", "search", 4, 0, intent="exam_preparation")
    assert learner.counts("u1", "exam_preparation", "search", NOW) == (pytest.approx(4), 0)
    assert learner.counts("u1", None, "search", NOW) == (pytest.approx(4), 0)
    assert learner.counts("u1", "error_diagnosis", "search", NOW) == (pytest.approx(4), 0)
    assert learner.user_tools("u1", "exam_preparation") == ["search"]


def test_warm_from_stored_counts_equals_observing_and_forget_user_removes_them():
    observed = BayesianLearner(half_life_days=HALF_LIFE_DAYS)  # the rollups' own units
    feed(observed, "u1", "search", 3, 1, at=EPOCH_S + 10 * DAY_S)
    w = decay_weight(EPOCH_S + 10 * DAY_S)
    warmed = BayesianLearner(half_life_days=HALF_LIFE_DAYS)
    assert warmed.warm([StoredCounts("u1", None, "search", 3 * w, w, 40 * w, 9, 2)]) == 1
    assert warmed.counts("u1", None, "search", NOW) == pytest.approx(observed.counts("u1", None, "search", NOW))
    assert warmed.mean_latency_ms("search") == pytest.approx(10.0)
    # everyone's mean (9 + 3*2)/(2 + 2) = 15/4; the user's, shrunk toward it: (9 + 15/4 * 2)/(2 + 2)
    assert warmed.mean_satisfaction("u1", None, "search") == (pytest.approx((9 + 15 / 4 * 2) / 4), 2)
    assert warmed.forget_user("u1") == 1
    assert warmed.counts(None, None, "search", NOW) == (0, 0)


def router(**kwargs) -> tuple[ToolPreferenceRouter, list[float]]:
    clock = [NOW]
    r = ToolPreferenceRouter(rng=random.Random(7), clock=lambda: clock[0], cooldown=30, **kwargs)
    return r, clock


def test_thompson_sampling_prefers_the_reliable_tool_and_reports_a_propensity():
    r, _ = router()
    for _ in range(10):
        r.observe("ada", "good", True, 5.0)
        r.observe("ada", "meh", True, 5.0)
        r.observe("ada", "meh", False, 5.0, error_type="InvalidArguments")
    choices = [r.choose("ada", ["meh", "good"], capability="search") for _ in range(200)]
    assert sum(d.chosen == "good" for d in choices) > 150
    decision = choices[0]
    assert decision.policy_version.startswith("thompson-beta/1;half_life=365d")
    good = next(d for d in choices if d.chosen == "good")
    assert 0.8 < good.propensity <= 1.0
    assert "chose 'good'" in good.explain() and "capability 'search'" in good.explain()
    assert [s.tool for s in r.rank("ada", ["meh", "good"])] == ["good", "meh"]


def test_the_circuit_opens_after_consecutive_failures_and_half_opens_for_one_trial():
    r, clock = router(failure_threshold=3)
    for _ in range(3):
        r.observe("ada", "flaky", False, 5.0, error_type="ToolFailed")
    assert r.circuit("flaky").state == "open"
    assert all(r.choose("ada", ["flaky", "other"]).chosen == "other" for _ in range(20))
    clock[0] += 31
    assert r.circuit("flaky").state == "half_open"
    # Only "flaky" is offered: the trial goes, and others wait for its outcome.
    assert r.choose("ada", ["flaky"]).chosen == "flaky"
    assert r.circuit("flaky").state == "open"
    r.observe("ada", "flaky", False, 5.0, error_type="ToolFailed")
    assert r.circuit("flaky").state == "open"
    clock[0] += 31
    r.choose("ada", ["flaky"])
    r.observe("ada", "flaky", True, 5.0)
    assert r.circuit("flaky").state == "closed"


def test_invalid_arguments_do_not_open_the_circuit_and_every_open_circuit_still_chooses():
    r, _ = router(failure_threshold=2)
    for _ in range(5):
        r.observe("ada", "a", False, 1.0, error_type="InvalidArguments")
        r.observe("ada", "b", False, 1.0, error_type="ToolTimeout")
    assert r.circuit("a").state == "closed" and r.circuit("b").state == "open"
    r.observe("ada", "a", False, 1.0, error_type="ToolFailed")
    r.observe("ada", "a", False, 1.0, error_type="ToolFailed")
    assert r.choose("ada", ["a", "b"]).chosen in {"a", "b"}


def test_latency_against_the_timeout_is_a_penalty_and_satisfaction_a_reward():
    r, _ = router(timeout_for=lambda tool: 1.0)
    for _ in range(10):
        r.observe("ada", "slow", True, 500.0)
        r.observe("ada", "fast", True, 10.0)
    slow, fast = r.rank("ada", ["slow", "fast"])[::-1]
    assert slow.latency_penalty == pytest.approx(0.3 * 0.5)
    assert fast.latency_penalty == pytest.approx(0.3 * 0.01)
    assert r.rank("ada", ["slow", "fast"])[0].tool == "fast"
    r.observe_feedback("ada", "slow", None, 5, intent=None)
    [score] = r.rank("ada", ["slow"])
    # group mean (5 + 3*2)/3 = 11/3; the user's (5 + 11/3 * 2)/3 = 37/9; reward 0.1 * (37/9 - 3) / 2
    assert score.satisfaction == pytest.approx(37 / 9)
    assert score.satisfaction_reward == pytest.approx(0.4 * (37 / 9 - 3) / 2)
    assert "satisfaction 4.11/5" in r.explain("ada", "slow")


def test_order_puts_pinned_tools_first_and_caps_the_rest():
    r, _ = router()
    for _ in range(5):
        r.observe("ada", "c", True, 1.0)
        r.observe("ada", "a", False, 1.0, error_type="InvalidArguments")
    assert r.order("ada", ["a", "b", "c", "d"]) == ["c", "b", "d", "a"]
    assert r.order("ada", ["a", "b", "c", "d"], pinned=["a", "zz"], limit=2) == ["a", "c"]
    assert r.order("ada", ["a", "b", "c"], pinned=["a", "b"], limit=1) == ["a", "b"]
    assert r.order("bob", ["a", "b"]) == ["b", "a"]  # bob inherits everyone's experience of "a"


def test_propensities_of_identical_candidates_are_equal_and_sum_to_one():
    r, _ = router()
    decision = r.choose("ada", ["a", "b", "c", "d", "e"])
    assert decision.propensity == pytest.approx(0.2, abs=0.005)
    assert decision.as_log()["policy_version"] == r.policy_version


def test_a_tool_that_degrades_loses_its_lead_within_a_few_dozen_calls():
    learner = BayesianLearner()
    for i in range(400):  # a long, good history
        learner.observe(f"u{i % 10}", None, "best", True, 5.0, NOW - 20 * DAY_S + i * 60)
    assert learner.global_posterior(None, "best", NOW).mean > 0.99
    for i in range(30):  # then it breaks
        learner.observe(f"u{i % 10}", None, "best", False, 5.0, NOW + i * 60)
    assert learner.drift_resets >= 1
    assert learner.global_posterior(None, "best", NOW + 1800).mean < 0.5
    assert learner.user_posterior("u1", None, "best", NOW + 1800).mean < 0.5


def test_every_choice_is_logged_as_one_json_line_for_offline_evaluation(caplog):
    import json
    import logging

    r, _ = router()
    with caplog.at_level(logging.INFO, logger="plugyard.preference.decisions"):
        decision = r.choose("ada", ["a", "b"], intent="error_diagnosis", capability="diagnose_error")
    [record] = [rec for rec in caplog.records if rec.name == "plugyard.preference.decisions"]
    logged = json.loads(record.getMessage())
    assert logged["decision_id"] == decision.decision_id and logged["chosen"] == decision.chosen
    assert logged["policy_version"] == r.policy_version and 0 < logged["propensity"] <= 1
    assert set(logged["candidates"]) == {"a", "b"} and logged["intent"] == "error_diagnosis"
