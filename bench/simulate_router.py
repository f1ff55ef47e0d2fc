#!/usr/bin/env python
"""Offline evaluation of the preference router: cumulative regret against the oracle on a simulator
with known reliabilities, per intent and per user, latency distributions, and drift.

The world: 3 intents x 5 candidate tools, 100 users. Each tool has a base success probability per
intent; each user's probability is the base shifted by a user-specific offset (logit scale), so the
best tool differs between users. Latencies are log-normal per tool (well under the 30 s timeout).
At the breakpoint (half-way, day 30 of 60) each intent's best tool degrades to 0.35.
Decisions arrive uniformly over the 60 days; each is (user, intent) -> a tool; the outcome is a
Bernoulli draw. Regret per decision = the oracle's success probability (the best tool for this user
and intent at that time) - the chosen tool's. Policies:

- **random**: a uniformly random candidate;
- **most popular**: always the tool that is most used for the intent in the population (the best tool
  before the breakpoint, as a usage log would show) -- what a static "top tools" list does;
- **greedy**: the best observed success rate for the intent so far (untried tools first);
- **router**: ``ToolPreferenceRouter.choose`` (per user, discounted, shrunk, Thompson sampling).

    python bench/simulate_router.py [--decisions N] [--seeds S] [--write]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench_history import machine, write_section

from plugyard.learning.counts import DAY_S, EPOCH_S
from plugyard.learning.router import ToolPreferenceRouter

SECTION = "## Preference learning on a simulator (simulate_router.py)"
INTENTS = ["error_diagnosis", "search_notes", "exam_preparation"]
TOOLS = 5
USERS = 100
DAYS = 60.0
BREAK_DAY = 30.0
DEGRADED = 0.35


def logit(p: float) -> float:
    return math.log(p / (1 - p))


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


class World:
    def __init__(self, rng: random.Random) -> None:
        self.base = {i: [rng.uniform(0.45, 0.8) for _ in range(TOOLS)] for i in INTENTS}
        for intent in INTENTS:
            best = max(range(TOOLS), key=lambda t: self.base[intent][t])
            self.base[intent][best] = 0.92
        self.best_before = {i: max(range(TOOLS), key=lambda t: self.base[i][t]) for i in INTENTS}
        self.offset = {(u, i, t): rng.gauss(0, 0.6) for u in range(USERS) for i in INTENTS for t in range(TOOLS)}
        self.latency = [rng.uniform(2.0, 6.0) for _ in range(TOOLS)]  # log-normal mu (ms: 7 .. 400)

    def p(self, user: int, intent: str, tool: int, day: float) -> float:
        base = self.base[intent][tool]
        if day >= BREAK_DAY and tool == self.best_before[intent]:
            base = DEGRADED
        return sigmoid(logit(base) + self.offset[(user, intent, tool)])

    def oracle(self, user: int, intent: str, day: float) -> float:
        return max(self.p(user, intent, t, day) for t in range(TOOLS))


Policy = Callable[[int, str, float], int]


def run(world: World, policy_name: str, decisions: int, seed: int) -> tuple[float, float]:
    """Returns (cumulative regret, regret after the breakpoint)."""
    rng = random.Random(seed)
    counts = {(i, t): [0, 0] for i in INTENTS for t in range(TOOLS)}  # successes, calls
    clock = [EPOCH_S]
    router = ToolPreferenceRouter(rng=random.Random(seed + 1), clock=lambda: clock[0])
    names = [f"tool{t}" for t in range(TOOLS)]

    def choose(user: int, intent: str, day: float) -> int:
        if policy_name == "random":
            return rng.randrange(TOOLS)
        if policy_name == "most popular":
            return world.best_before[intent]
        if policy_name == "greedy":
            untried = [t for t in range(TOOLS) if counts[(intent, t)][1] == 0]
            if untried:
                return untried[0]
            return max(range(TOOLS), key=lambda t: counts[(intent, t)][0] / counts[(intent, t)][1])
        decision = router.choose(f"u{user}", names, intent=intent)
        return names.index(decision.chosen)

    regret = after = 0.0
    for k in range(decisions):
        day = DAYS * k / decisions
        clock[0] = EPOCH_S + day * DAY_S
        user, intent = rng.randrange(USERS), rng.choice(INTENTS)
        tool = choose(user, intent, day)
        p = world.p(user, intent, tool, day)
        ok = rng.random() < p
        counts[(intent, tool)][0] += ok
        counts[(intent, tool)][1] += 1
        router.observe(
            f"u{user}",
            names[tool],
            ok,
            rng.lognormvariate(world.latency[tool], 0.5),
            intent=intent,
            error_type=None if ok else "ToolFailed",
        )
        r = world.oracle(user, intent, day) - p
        regret += r
        if day >= BREAK_DAY:
            after += r
    return regret, after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    policies = ["random", "most popular", "greedy", "router"]
    totals = {p: [0.0, 0.0] for p in policies}
    started = time.perf_counter()
    for seed in range(args.seeds):
        world = World(random.Random(100 + seed))
        for policy in policies:
            total, after = run(world, policy, args.decisions, seed)
            totals[policy][0] += total / args.seeds
            totals[policy][1] += after / args.seeds
            print(f"seed {seed} {policy:<13} regret {total:8.1f} (after the break {after:8.1f})", file=sys.stderr)
    elapsed = time.perf_counter() - started
    popular = totals["most popular"][0]
    lines = [
        SECTION,
        "",
        f"Run on {machine()}; {args.decisions:,} decisions x {args.seeds} seeds ({elapsed:.0f} s). "
        f"{len(INTENTS)} intents x {TOOLS} tools, {USERS} users with their own reliabilities, "
        f"{DAYS:g} days; on day {BREAK_DAY:g} each intent's best tool degrades to {DEGRADED}. "
        "Regret = the oracle's success probability minus the chosen tool's, summed (mean over seeds).",
        "",
        "| policy | cumulative regret | after the breakpoint | vs most popular |",
        "|---|---:|---:|---:|",
    ]
    for policy in policies:
        total, after = totals[policy]
        lines.append(f"| {policy} | {total:,.1f} | {after:,.1f} | {total / popular:.2f}x |")
    ratio = totals["router"][0] / popular
    lines += [
        "",
        f"Target: at most half the cumulative regret of always-most-popular: {'met' if ratio <= 0.5 else 'MISSED'} "
        f"({ratio:.2f}x).",
        "",
    ]
    block = "\n".join(lines)
    print(block)
    if args.write:
        write_section(block, SECTION)


if __name__ == "__main__":
    main()
