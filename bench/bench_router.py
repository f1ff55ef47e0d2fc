#!/usr/bin/env python
"""Decision latency of the ToolPreferenceRouter: a choice among 50 candidates (Thompson sampling,
explanation, propensity), with the learner warmed like a busy deployment (1,000 users x 200 tools,
six intents). Also ``rank`` (the recommend_tools answer) and ``order`` (a ranked tools/list of 200).

    python bench/bench_router.py [--decisions N] [--write]

``--write`` replaces this benchmark's section of bench/RESULTS.md. Never run this as a test.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench_history import machine, write_section

from plugyard.learning.counts import StoredCounts, decay_weight
from plugyard.learning.learner import BayesianLearner
from plugyard.learning.router import ToolPreferenceRouter

SECTION = "## Preference router (bench_router.py)"
INTENTS = [None, "exam_preparation", "task_decomposition", "error_diagnosis", "deep_learning", "skill_building"]


def warmed_router(users: int, tools: int, rows: int, seed: int = 1) -> ToolPreferenceRouter:
    rng = random.Random(seed)
    now = time.time()
    stored = []
    for _ in range(rows):
        w = decay_weight(now - rng.random() * 90 * 86_400)
        calls = rng.randint(1, 20)
        ok = sum(rng.random() < 0.85 for _ in range(calls))
        stored.append(
            StoredCounts(
                f"user{rng.randrange(users)}",
                rng.choice(INTENTS),
                f"tool{rng.randrange(tools)}",
                ok * w,
                (calls - ok) * w,
                calls * w * rng.lognormvariate(3, 1),
                rng.randint(0, 10),
                rng.randint(0, 3),
            )
        )
    router = ToolPreferenceRouter(BayesianLearner(), rng=random.Random(seed))
    started = time.perf_counter()
    router.warm(stored)
    print(f"warmed {rows:,} rollup rows in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return router


def timed(n: int, fn: Callable[[int], Any]) -> dict[str, float]:
    for i in range(50):
        fn(i)
    gc.collect()
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1e6)
    times.sort()
    return {
        "p50": statistics.median(times),
        "p95": times[int(0.95 * n)],
        "p99": times[int(0.99 * n)],
        "max": times[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--decisions", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=200_000, help="rollup rows the learner is warmed with")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    router = warmed_router(1000, 200, args.rows)
    rng = random.Random(2)
    tools = [f"tool{i}" for i in range(200)]
    fifty = [tools[i] for i in rng.sample(range(200), 50)]

    def user(i: int) -> str:
        return f"user{i % 1000}"

    results = {
        "choose among 50 (Thompson + propensity + log)": timed(
            args.decisions, lambda i: router.choose(user(i), fifty, intent=INTENTS[i % 6], capability="bench")
        ),
        "choose among 5": timed(args.decisions, lambda i: router.choose(user(i), fifty[:5], intent=INTENTS[i % 6])),
        "rank 50 (recommend_tools)": timed(
            args.decisions, lambda i: router.rank(user(i), fifty, intent=INTENTS[i % 6])
        ),
        "order 200 (ranked tools/list)": timed(max(500, args.decisions // 10), lambda i: router.order(user(i), tools)),
        "observe one outcome": timed(
            args.decisions, lambda i: router.observe(user(i), fifty[i % 50], i % 9 != 0, 12.0, intent=INTENTS[i % 6])
        ),
    }
    lines = [
        SECTION,
        "",
        f"Run on {machine()}. Learner warmed with {args.rows:,} rollup rows (1,000 users, 200 tools, 6 intents);"
        f" {args.decisions:,} decisions per line, in microseconds.",
        "",
        "| operation | p50 µs | p95 µs | p99 µs | max µs |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, t in results.items():
        lines.append(f"| {label} | {t['p50']:.0f} | {t['p95']:.0f} | {t['p99']:.0f} | {t['max']:.0f} |")
    p95 = results["choose among 50 (Thompson + propensity + log)"]["p95"]
    lines += [
        "",
        f"Target: a decision among 50 candidates p95 under 1 ms: {'met' if p95 < 1000 else 'MISSED'} ({p95:.0f} µs).",
        "",
    ]
    block = "\n".join(lines)
    print(block)
    if args.write:
        write_section(block, SECTION)


if __name__ == "__main__":
    main()
