#!/usr/bin/env python
"""What recording adds to a call's own path: the history plugin's ``after_tool_call`` (the recorder's
enqueue plus the router's in-memory update), timed per call, while the recorder writes in the background.

    python bench/bench_enqueue.py [--calls N] [--write]

Reported as percentiles in microseconds against the same loop with a no-op hook in the same run.
The issue's target: enqueue p99 under 50 microseconds.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import anyio
import anyio.lowlevel

from plugyard.core.calls import ToolCall, ToolOutcome
from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin

RESULTS = Path(__file__).parent / "RESULTS.md"
BEGIN, END = "<!-- bench_enqueue:begin -->", "<!-- bench_enqueue:end -->"


def outcomes(n: int) -> list[ToolOutcome]:
    now = datetime.now(UTC)
    made = []
    for i in range(n):
        call = ToolCall(
            call_id=str(uuid.uuid4()),
            tool_name=f"tool_{i % 20}",
            plugin_name="bench",
            arguments={"x": i, "query": "hello"},
            user_id=f"user_{i % 50}",
            session_id="s",
            started_at=now,
        )
        made.append(ToolOutcome(call=call, success=i % 9 != 0, duration_ms=1.2, result=i, result_size=3))
    return made


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(calls: int) -> tuple[list[float], list[float], int]:
    folder = Path(tempfile.mkdtemp())
    config = parse_config({"database": {"url": f"sqlite+aiosqlite:///{folder / 'h.db'}"}})
    history = HistoryPlugin()
    host = PluginHost(config, entry_points=False, plugins={"history": history})
    items = outcomes(calls)
    hooked: list[float] = []
    baseline: list[float] = []

    def noop(call: ToolCall, outcome: ToolOutcome) -> None:
        return None

    async with host.running():
        for i, outcome in enumerate(items):
            t0 = time.perf_counter_ns()
            noop(outcome.call, outcome)
            t1 = time.perf_counter_ns()
            history.after_tool_call(outcome.call, outcome)
            t2 = time.perf_counter_ns()
            baseline.append((t1 - t0) / 1000)
            hooked.append((t2 - t1) / 1000)
            if i % 50 == 0:
                await anyio.lowlevel.checkpoint()  # let the writer run, as it does between real calls
        assert history.recorder is not None
        await history.recorder.flush()
        written = history.recorder.written
    return hooked, baseline, written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--write", action="store_true", help="rewrite this section of bench/RESULTS.md")
    args = parser.parse_args()
    hooked, baseline, written = anyio.run(measure, args.calls)
    if written != args.calls:
        sys.exit(f"only {written} of {args.calls} records were written")
    rows = [
        "| hook | p50 µs | p99 µs | p99.9 µs | mean µs |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, values in (("no-op hook (baseline)", baseline), ("history `after_tool_call`", hooked)):
        rows.append(
            f"| {label} | {pct(values, 0.5):.2f} | {pct(values, 0.99):.2f} | {pct(values, 0.999):.2f} | "
            f"{statistics.fmean(values):.2f} |"
        )
    p99 = pct(hooked, 0.99)
    section = "\n".join(
        [
            BEGIN,
            "## Recording on the call path (bench_enqueue.py)",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python bench/bench_enqueue.py --calls {args.calls}`, on the "
            "same machine as above. Each of the calls' outcomes goes through the history plugin's `after_tool_call` "
            "(the recorder's enqueue and the preference router's in-memory update) while the recorder writes "
            f"batches in the background; all {written:,} records were written.",
            "",
            *rows,
            "",
            f"Target: enqueue p99 under 50 µs: {'met' if p99 < 50 else 'MISSED'} ({p99:.2f} µs).",
            END,
        ]
    )
    print(section)
    if args.write:
        text = RESULTS.read_text(encoding="utf-8")
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _m: section, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
