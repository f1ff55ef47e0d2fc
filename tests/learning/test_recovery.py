"""A tool that fails and comes back: a run of failures its record makes implausible resets it (an outage),
and while it is out of favour its evidence fades in the intent's other calls, so it is retried."""

from __future__ import annotations

import random

import pytest

from plugyard.learning.counts import DAY_S, EPOCH_S
from plugyard.learning.learner import RECOVERY_HALF_LIFE_CALLS, BayesianLearner
from plugyard.learning.prior import breaks_down
from plugyard.learning.router import ToolPreferenceRouter

NOW = EPOCH_S + 300 * DAY_S


def test_a_run_of_failures_breaks_down_a_record_by_its_bayes_factor():
    # Record 144 successes / 56 failures (72%): 13 failures in a row are e^11.3, 14 e^12.4 (threshold
    # e^11.5, 100,000).
    assert not breaks_down(13, 144, 56)
    assert breaks_down(14, 144, 56)
    # At 85% fewer suffice: 10 (e^12.6), not 9 (e^11.1).
    assert not breaks_down(9, 170, 30)
    assert breaks_down(10, 170, 30)


def test_an_outage_resets_a_tool_to_its_failures_and_they_fade_in_the_others_calls():
    learner = BayesianLearner()
    for i in range(100):  # 90 successes, 10 failures, never two failures in a row
        learner.observe(f"u{i % 10}", None, "a", i % 10 != 0, 10.0, NOW + i)
    for i in range(8):
        learner.observe("u1", None, "a", False, 10.0, NOW + 200 + i)
    assert learner.drift_resets == 0  # 8 in a row against 90/10: e^10.7, not enough
    learner.observe("u1", None, "a", False, 10.0, NOW + 208)
    assert learner.drift_resets == 1  # the ninth (e^12.2): only the run is left
    assert learner.counts(None, None, "a", NOW + 300) == (pytest.approx(0.0), pytest.approx(9.0, rel=1e-4))
    learner.observe("u1", None, "a", False, 10.0, NOW + 209)
    assert learner.counts(None, None, "a", NOW + 300) == (pytest.approx(0.0), pytest.approx(10.0, rel=1e-4))
    # 60 calls of another tool: three recovery half-lives of 20 calls, 10 failures -> 1.25.
    assert RECOVERY_HALF_LIFE_CALLS == 20.0
    for i in range(60):
        learner.observe("u2", None, "b", True, 10.0, NOW + 300 + i)
    assert learner.counts(None, None, "a", NOW + 400) == (pytest.approx(0.0), pytest.approx(1.25, rel=1e-4))
    everyone = learner.user_posterior("u5", None, "a", NOW + 400)
    assert (everyone.alpha, everyone.beta) == (pytest.approx(1.0), pytest.approx(2.25, rel=1e-4))
    # Its next call makes the faded counts its state: one success on 1.25 failures.
    learner.observe("u3", None, "a", True, 10.0, NOW + 400)
    assert learner.counts(None, None, "a", NOW + 401) == (pytest.approx(1.0, rel=1e-4), pytest.approx(1.25, rel=1e-4))


def test_a_steady_tools_evidence_does_not_fade_while_others_are_called():
    learner = BayesianLearner()
    for i in range(100):
        learner.observe("u1", None, "a", i % 10 != 0, 10.0, NOW + i)
    for i in range(200):
        learner.observe("u2", None, "b", True, 10.0, NOW + 200 + i)
    assert learner.counts(None, None, "a", NOW + 500) == (pytest.approx(90.0, rel=1e-4), pytest.approx(10.0, rel=1e-4))


def test_a_tool_back_from_an_outage_is_retried_within_150_calls_and_chosen_again():
    clock = [NOW]
    router = ToolPreferenceRouter(rng=random.Random(3), clock=lambda: clock[0])
    rng = random.Random(4)
    for i in range(300):  # a at 90%, b at 80%
        clock[0] += 60.0
        router.observe(f"u{i % 10}", "a", rng.random() < 0.9, 10.0)
        router.observe(f"u{i % 10}", "b", rng.random() < 0.8, 10.0)
    for _ in range(60):  # a is down: 60 failures would leave it at 270 / 90 (75%) without the reset
        clock[0] += 60.0
        router.observe("u1", "a", False, 10.0, error_type="ToolFailed")
    clock[0] += 3600.0  # past the breaker's cooldown: a is back
    retried_at = None
    for i in range(200):
        clock[0] += 60.0
        user = f"u{i % 10}"
        chosen = router.choose(user, ["a", "b"]).chosen
        router.observe(user, chosen, rng.random() < (0.9 if chosen == "a" else 0.8), 10.0)
        if chosen == "a" and retried_at is None:
            retried_at = i
    assert retried_at is not None and retried_at < 150
    assert [router.choose("u1", ["a", "b"]).chosen for _ in range(20)].count("a") >= 12


def test_each_failed_retry_of_a_changed_tool_doubles_the_wait_before_the_next_and_a_success_restores_it():
    learner = BayesianLearner()
    for i in range(100):
        learner.observe("u1", None, "a", i % 10 != 0, 10.0, NOW + i)
    for i in range(12):  # down: reset at the ninth failure, 12 failures left
        learner.observe("u1", None, "a", False, 10.0, NOW + 200 + i)
    assert learner.drift_resets == 1
    for i in range(40):  # two half-lives of 20: 12 -> 3
        learner.observe("u2", None, "b", True, 10.0, NOW + 300 + i)
    assert learner.counts(None, None, "a", NOW + 400)[1] == pytest.approx(3.0, rel=1e-4)
    learner.observe("u1", None, "a", False, 10.0, NOW + 400)  # the retry fails: 4 failures, the wait 40
    for i in range(40):  # one half-life of 40: 4 -> 2
        learner.observe("u2", None, "b", True, 10.0, NOW + 500 + i)
    assert learner.counts(None, None, "a", NOW + 600)[1] == pytest.approx(2.0, rel=1e-4)
    learner.observe("u1", None, "a", True, 10.0, NOW + 600)  # this one succeeds: the wait is 20 again
    for i in range(40):  # two half-lives of 20: (1, 2) -> (0.25, 0.5)
        learner.observe("u2", None, "b", True, 10.0, NOW + 700 + i)
    assert learner.counts(None, None, "a", NOW + 800) == (pytest.approx(0.25, rel=1e-4), pytest.approx(0.5, rel=1e-4))


def test_after_a_shift_of_the_rate_a_retry_that_succeeds_does_not_restore_the_wait():
    # A tool that fell from 90% to a third is not back when one retry succeeds (it succeeds a third of
    # the time): only an outage's end restores the wait; after a shift the back-off goes on.
    learner = BayesianLearner()
    for i in range(100):
        learner.observe("u1", None, "a", i % 10 != 0, 10.0, NOW + i)
    calls = 0
    while learner.drift_resets == 0:  # one success in three: a shift the 20-call window sees, no outage
        learner.observe("u1", None, "a", calls % 3 == 0, 10.0, NOW + 200 + calls)
        calls += 1
        assert calls < 60

    def faded(after: float) -> tuple[float, float]:
        return learner.counts(None, None, "a", NOW + after)

    s0, f0 = faded(300)
    for i in range(20):  # one half-life of 20
        learner.observe("u2", None, "b", True, 10.0, NOW + 300 + i)
    assert faded(400) == (pytest.approx(s0 / 2, rel=1e-4), pytest.approx(f0 / 2, rel=1e-4))
    learner.observe("u1", None, "a", False, 10.0, NOW + 400)  # the retry fails: the wait doubles to 40
    for i in range(40):
        learner.observe("u2", None, "b", True, 10.0, NOW + 500 + i)
    assert faded(600) == (pytest.approx(s0 / 4, rel=1e-4), pytest.approx((f0 / 2 + 1) / 2, rel=1e-4))
    learner.observe("u1", None, "a", True, 10.0, NOW + 600)  # this one succeeds: the wait stays 40
    s1, f1 = faded(601)
    for i in range(40):  # one half-life of 40 (not two of 20)
        learner.observe("u2", None, "b", True, 10.0, NOW + 700 + i)
    assert faded(800) == (pytest.approx(s1 / 2, rel=1e-4), pytest.approx(f1 / 2, rel=1e-4))
    assert learner.drift_resets == 1


def test_outages_that_recur_are_recognised_after_fewer_failures():
    # Against a record of 90 successes / 10 failures a first outage needs 9 failures in a row (e^11.5,
    # 100,000); each outage the tool has had divides that by 10, down to 100: 8, 6, then 5.
    assert [min(r for r in range(1, 20) if breaks_down(r, 90, 10, k)) for k in range(5)] == [9, 8, 6, 5, 5]
    learner = BayesianLearner()
    at = [NOW]

    def call(user: str, success: bool) -> None:
        learner.observe(user, None, "a", success, 10.0, at[0])
        at[0] += 1.0

    def outage() -> int:
        before, failures = learner.drift_resets, 0
        while learner.drift_resets == before:
            call("u1", False)
            failures += 1
        return failures

    runs = []
    for _ in range(4):  # 100 calls at 90% (never two failures in a row), then down
        for i in range(100):
            call(f"u{i % 10}", i % 10 != 0)
        runs.append(outage())
    # The second still needs 9: the first outage's nine failures linger in the record.
    assert runs == [9, 9, 7, 5]
