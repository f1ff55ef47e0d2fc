#!/usr/bin/env python
"""A fair contest: the preference router against textbook bandits on the scenarios of
bench/contest_world.py, mean regret with 95% intervals over seeds, and the decision's latency.

Baselines, each global (one set of statistics for everyone) and per user: random, always-most-popular
(the tool a static "top tools" list would show: the best for most users at the start), greedy
(untried first, then the best mean reward), epsilon-greedy 0.1, UCB1, Beta(1,1) Thompson sampling
(rewards in [0, 1] by the Bernoulli trick). Every policy sees the same users, in the same order, and
the same reward per call: success - the latency cost (+ the rating term where ratings are given);
the router sees the outcome, its latency and the rating through its own entry points
(``ToolPreferenceRouter.choose`` / ``observe`` / ``observe_feedback``, with a failure's error type
``ToolFailed`` so its circuit breaker acts as in production), with its defaults, the same for every
scenario. Decisions are spread evenly over the scenario's days.

    python bench/contest.py                    # 2,000 decisions x 20 seeds (about four minutes)
    python bench/contest.py --full --write     # 10,000 decisions x 20 seeds, into bench/RESULTS.md
    python bench/contest.py --cache c.json     # baselines' regrets kept in (and read from) c.json
    python bench/contest.py --only e,a --trace 10   # the router's pooling strength at tenths of each run

--cache keeps the baselines' regrets per (scenario, policy, decisions, seed), which do not depend on the
router: a rerun after a router change plays the router only. The router itself is never cached.

--write replaces what lies between ``<!-- contest:begin -->`` and ``<!-- contest:end -->`` in RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

from bench_history import RESULTS, machine
from contest_world import LATENCY_WEIGHT, RATING_WEIGHT, TIMEOUT_MS, USERS, Scenario, scenarios

from plugyard.learning.counts import DAY_S, EPOCH_S
from plugyard.learning.learner import BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

SECTION = "## The router against textbook bandits (contest.py)"
BEGIN, END = "<!-- contest:begin -->", "<!-- contest:end -->"
LEARNER: dict[str, float] = {}
ROUTER: dict[str, float] = {}
"""Settings other than the defaults (``--set``): for exploring only; the results section uses the defaults."""


class Baseline:
    """Statistics per key (None: everyone; else the user), and a rule to pick from them."""

    def __init__(self, rule: str, per_user: bool, rng: random.Random, popular: int) -> None:
        self.rule, self.per_user, self.rng, self.popular = rule, per_user, rng, popular
        self.n: dict[tuple[int | None, int], float] = {}
        self.sum: dict[tuple[int | None, int], float] = {}
        self.beta: dict[tuple[int | None, int], list[float]] = {}
        self.pulls: dict[int | None, int] = {}

    def _key(self, user: int) -> int | None:
        return user if self.per_user else None

    def choose(self, user: int, offered: Sequence[int]) -> int:
        key, rule = self._key(user), self.rule
        if rule == "random":
            return self.rng.choice(offered)
        if rule == "popular":
            return self.popular if self.popular in offered else offered[0]
        if rule == "thompson":
            return max(offered, key=lambda t: self.rng.betavariate(*self.beta.get((key, t), (1.0, 1.0))))
        untried = [t for t in offered if (key, t) not in self.n]
        if untried:
            return untried[0]
        if rule == "epsilon" and self.rng.random() < 0.1:
            return self.rng.choice(offered)
        if rule == "ucb1":
            log_t = math.log(max(1, self.pulls.get(key, 1)))
            return max(
                offered,
                key=lambda t: self.sum[(key, t)] / self.n[(key, t)] + math.sqrt(2.0 * log_t / self.n[(key, t)]),
            )
        return max(offered, key=lambda t: self.sum[(key, t)] / self.n[(key, t)])

    def update(self, user: int, tool: int, reward: float, reward01: float) -> None:
        key = self._key(user)
        self.n[(key, tool)] = self.n.get((key, tool), 0.0) + 1.0
        self.sum[(key, tool)] = self.sum.get((key, tool), 0.0) + reward
        self.pulls[key] = self.pulls.get(key, 0) + 1
        ab = self.beta.setdefault((key, tool), [1.0, 1.0])
        if self.rng.random() < reward01:
            ab[0] += 1.0
        else:
            ab[1] += 1.0


BASELINES = [
    ("random", "random"),
    ("most popular", "popular"),
    ("greedy", "greedy"),
    ("eps-greedy 0.1", "epsilon"),
    ("UCB1", "ucb1"),
    ("Thompson Beta(1,1)", "thompson"),
]
POLICIES = [f"{label} ({scope})" for label, _ in BASELINES for scope in ("global", "per user")] + ["router"]


def most_popular(scenario: Scenario) -> int:
    """The tool that is best for the most users at the start."""
    votes = [0] * scenario.tools
    offered = scenario.offered(0.0)
    for user in range(USERS):
        votes[max(offered, key=lambda t: scenario.utility(user, t, 0.0))] += 1
    return max(offered, key=lambda t: votes[t])


def play(scenario: Scenario, policy: str, decisions: int, seed: int, trace: list[float] | None = None) -> float:
    """The cumulative regret of ``policy`` on ``scenario`` (one seed). With ``trace`` (the router only), the
    pooling strength the router uses (``BayesianLearner.prior_strength``) is appended after every
    ``decisions // len(trace)`` decisions, ``trace``'s own values replaced (reading it refreshes the
    learner's cached strength a little sooner than an untraced run would: regrets may differ slightly)."""
    users = random.Random(seed)
    outcomes = random.Random(seed * 1_000_003 + 1)
    names = [f"tool{t}" for t in range(scenario.tools)]
    clock = [EPOCH_S + 300 * DAY_S]
    start = clock[0]
    router = baseline = None
    if policy == "router":
        router = ToolPreferenceRouter(
            BayesianLearner(**LEARNER),
            rng=random.Random(seed + 17),
            clock=lambda: clock[0],
            timeout_for=lambda _t: TIMEOUT_MS / 1000.0,
            **ROUTER,
        )
    else:
        label, scope = policy.rsplit(" (", 1)
        rule = dict(BASELINES)[label]
        baseline = Baseline(rule, scope.startswith("per"), random.Random(seed + 17), most_popular(scenario))
    low, span = (-0.4, 1.8) if scenario.ratings else (0.0, 1.0)
    every = decisions // len(trace) if trace else 0
    if trace is not None:
        trace.clear()
    regret = 0.0
    for k in range(decisions):
        x = k / decisions
        clock[0] = start + x * scenario.days * DAY_S
        user = scenario.user_of(users, x)
        offered = scenario.offered(x)
        if router is not None:
            chosen = names.index(router.choose(f"u{user}", [names[t] for t in offered]).chosen)
        else:
            assert baseline is not None
            chosen = baseline.choose(user, offered)
        ok = outcomes.random() < scenario.rate(user, chosen, x)
        latency = scenario.latency(chosen) * outcomes.lognormvariate(0.0, 0.1)
        reward = float(ok) - LATENCY_WEIGHT * min(1.0, latency / TIMEOUT_MS)
        rating = scenario.rating(outcomes, chosen) if scenario.ratings else None
        if rating is not None:
            reward += RATING_WEIGHT * (rating - 3.0) / 2.0
        if router is not None:
            router.observe(f"u{user}", names[chosen], ok, latency, error_type=None if ok else "ToolFailed")
            if rating is not None:
                router.observe_feedback(f"u{user}", names[chosen], None, rating, intent=None)
        else:
            assert baseline is not None
            baseline.update(user, chosen, reward, min(1.0, max(0.0, (reward - low) / span)))
        best = max(scenario.utility(user, t, x) for t in offered)
        regret += best - scenario.utility(user, chosen, x)
        if router is not None and trace is not None and every and (k + 1) % every == 0:
            router.rank(f"u{user}", names[:1])  # folds the outcomes held back into the learner
            trace.append(router.learner.prior_strength(None, names[0], clock[0]))
    return regret


def interval(values: Sequence[float]) -> tuple[float, float]:
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return mean, half


def decision_latency(candidates: int, decisions: int = 2000) -> tuple[float, float]:
    """(p50, p95) in ms of ``choose`` among ``candidates`` tools, 50 users' history warmed in."""
    rng = random.Random(5)
    clock = [EPOCH_S + 300 * DAY_S]
    router = ToolPreferenceRouter(rng=random.Random(6), clock=lambda: clock[0])
    names = [f"tool{t}" for t in range(candidates)]
    for i in range(20 * candidates):
        clock[0] += 30.0
        router.observe(f"u{i % 50}", rng.choice(names), rng.random() < 0.8, rng.uniform(5, 500))
    timings = []
    for i in range(decisions):
        clock[0] += 30.0
        user = f"u{i % 50}"
        began = time.perf_counter()
        decision = router.choose(user, names)
        timings.append((time.perf_counter() - began) * 1000.0)
        router.observe(user, decision.chosen, rng.random() < 0.8, 20.0)
    timings.sort()
    return timings[len(timings) // 2], timings[int(len(timings) * 0.95)]


def print_trace(names: set[str], args: argparse.Namespace) -> None:
    """The router's pooling strength over each run (inf: everyone's experience in full), with its regret."""
    for seed in range(args.seeds):
        for scenario in scenarios(seed):
            if scenario.name not in names:
                continue
            strengths = [0.0] * args.trace
            regret = play(scenario, "router", args.decisions, 1000 + seed, strengths)
            cells = " ".join(f"{k:.3g}" for k in strengths)
            print(f"{scenario.name} seed {1000 + seed}: regret {regret:.1f}; strength at each 1/{args.trace}: {cells}")


def verdict(router: float, best: float) -> str:
    if router <= 1.1 * best or router - best <= 5.0:
        return "met"
    return "MISSED"


def report(results: dict[str, dict[str, list[float]]], args: argparse.Namespace, elapsed: float) -> str:
    world = {s.name: s for s in scenarios(0)}
    lines = [
        SECTION,
        "",
        f"Run on {machine()}; {args.decisions:,} decisions x {args.seeds} seeds per scenario, {USERS} users "
        f"({elapsed:.0f} s). Regret = the best offered tool's utility for the user at that moment minus the "
        f"chosen one's, summed; utility = P(success) - {LATENCY_WEIGHT} x latency/timeout "
        f"(+ {RATING_WEIGHT} x (rating - 3)/2 where rated). Mean +- 95% interval over seeds. "
        "Router: its defaults, the same in every scenario.",
        "",
        "| scenario | router | best learning baseline | its regret | router / best | target | most popular |",
        "|---|---:|---|---:|---:|---|---:|",
    ]
    total_router = total_popular = 0.0
    for name, by_policy in results.items():
        router, r_half = interval(by_policy["router"])
        # The static list knows the start's best tool: a reference for the summed target, not a learner.
        baselines = {p: interval(v)[0] for p, v in by_policy.items() if p != "router" and "popular" not in p}
        best_name = min(baselines, key=lambda p: baselines[p])
        best, b_half = interval(by_policy[best_name])
        popular = interval(by_policy["most popular (global)"])[0]
        total_router += router
        total_popular += popular
        lines.append(
            f"| {name}: {world[name].summary} | {router:.1f} +- {r_half:.1f} | {best_name} | {best:.1f} +- "
            f"{b_half:.1f} | {router / best if best > 0 else math.inf:.2f}x | {verdict(router, best)} | {popular:.1f} |"
        )
    ratio = total_router / total_popular
    lines += [
        "",
        f"Summed over the scenarios: router {total_router:.1f}, always-most-popular {total_popular:.1f}: "
        f"{ratio:.2f}x (target at most 0.5x: {'met' if ratio <= 0.5 else 'MISSED'}).",
        "",
        "Every policy's mean regret:",
        "",
        "| policy | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for policy in POLICIES:
        cells = [f"{interval(results[s][policy])[0]:.1f}" for s in results]
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    lines.append("")
    for candidates in (50, 500):
        p50, p95 = decision_latency(candidates)
        target = f" (target p95 < 1 ms: {'met' if p95 < 1.0 else 'MISSED'})" if candidates == 50 else ""
        lines.append(f"- A decision among {candidates} candidates: p50 {p50:.3f} ms, p95 {p95:.3f} ms{target}.")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=2_000)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--full", action="store_true", help="10,000 decisions per seed")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--write", action="store_true", help="rewrite this section of bench/RESULTS.md")
    parser.add_argument("--cache", default="", help="a JSON file keeping the baselines' regrets between runs")
    parser.add_argument("--baselines-only", action="store_true", help="fill the cache; play no router")
    parser.add_argument(
        "--trace",
        type=int,
        default=0,
        metavar="N",
        help="print the router's pooling strength at N evenly spaced points of each run (router only)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a non-default router setting: half_life_days, prior_cap, satisfaction_weight, exploration",
    )
    args = parser.parse_args()
    for item in args.set:
        name, _, value = item.partition("=")
        if name not in ("half_life_days", "prior_cap", "satisfaction_weight", "latency_weight", "exploration"):
            parser.error(f"unknown setting {name!r}")
        try:
            (LEARNER if name in ("half_life_days", "prior_cap") else ROUTER)[name] = float(value)
        except ValueError:
            parser.error(f"--set {item}: the value must be a number")
    if args.set and args.write:
        parser.error("--write records the defaults only; drop --set")
    logging.getLogger("plugyard.preference").setLevel(logging.ERROR)  # circuits open often here: by design
    if args.full:
        args.decisions = 10_000
    if args.seeds < 2 or args.decisions < 10:
        parser.error("--seeds must be at least 2 and --decisions at least 10")
    only = {s for s in args.only.split(",") if s}
    known = {s.name for s in scenarios(0)}
    if only - known:
        parser.error(f"unknown scenario(s) {sorted(only - known)}; known: {sorted(known)}")
    cache_path = Path(args.cache) if args.cache else None
    cache: dict[str, float] = {}
    if cache_path is not None and cache_path.exists():
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    if args.trace:
        print_trace(only or known, args)
        return
    started = time.perf_counter()
    results: dict[str, dict[str, list[float]]] = {}
    for seed in range(args.seeds):
        for scenario in scenarios(seed):
            if only and scenario.name not in only:
                continue
            by_policy = results.setdefault(scenario.name, {p: [] for p in POLICIES})
            for policy in POLICIES:
                if policy == "router":
                    if not args.baselines_only:
                        by_policy[policy].append(play(scenario, policy, args.decisions, 1000 + seed))
                    continue
                key = f"{scenario.name}|{policy}|{args.decisions}|{1000 + seed}"
                if key not in cache:
                    cache[key] = play(scenario, policy, args.decisions, 1000 + seed)
                by_policy[policy].append(cache[key])
        if cache_path is not None:
            cache_path.write_text(json.dumps(cache, indent=0, sort_keys=True), encoding="utf-8")
        print(f"seed {seed + 1}/{args.seeds} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.baselines_only:
        return
    block = report(results, args, time.perf_counter() - started)
    print(block)
    if args.write:
        text = RESULTS.read_text(encoding="utf-8")
        if BEGIN not in text or END not in text:
            sys.exit(f"{RESULTS.name} has no {BEGIN} ... {END} section to replace")
        head, _, rest = text.partition(BEGIN)
        RESULTS.write_text(head + BEGIN + "\n" + block + "\n" + END + rest.partition(END)[2], encoding="utf-8")


if __name__ == "__main__":
    main()
