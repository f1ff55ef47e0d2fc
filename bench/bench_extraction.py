"""What `assist` reads from a message, scored against labelled sets (datasets/README.md).

    python bench/bench_extraction.py                 # the development set (optimistic: the rules were tuned on it)
    python bench/bench_extraction.py --set blind4    # a named set: dev, dev2, blind..blind6, blind8 (all studied)
    python bench/bench_extraction.py --set new.jsonl # any labelled JSONL file, by path (a new blind set)
    python bench/bench_extraction.py --rules-only    # the rules alone, without the topic model
    python bench/bench_extraction.py --leave-out     # leave-one-author-out: the topic model trained without
                                                     # each author's sets, scored on them
    python bench/bench_extraction.py --leave-out --exclude blind6   # ... with a set in no fold
    python bench/bench_extraction.py --libraries     # also dateparser / jionlp deadlines, a jieba topic baseline
                                                     # (pip install dateparser jionlp jieba; none is a dependency)

Per language: topic exact (case-insensitive, whitespace collapsed), deadline exact (ISO date or null), and for quick
tasks whether the right tool answers with the right number (the first-party tool functions, called directly). The
time per message is the reading alone.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plugyard.assistant import quick
from plugyard.assistant.reading import fit, read, spans
from plugyard.assistant.reading.dates import strip_times
from plugyard.assistant.reading.errors import error_topic
from plugyard.core.intents import detect_language
from plugyard.plugins import calculator


def norm(text: str | None) -> str:
    return re.sub(r"\s+", " ", (text or "").strip()).casefold()


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def pct(hits: int, total: int) -> str:
    return f"{hits}/{total} ({100 * hits / total:.1f}%)" if total else "-"


def score_reading(rows: list[dict[str, Any]], show: bool, rules_only: bool = False) -> dict[str, Any]:
    by_lang: dict[str, dict[str, int]] = {}
    times: list[float] = []
    misses: list[str] = []
    for row in rows:
        today = date.fromisoformat(row["today"])
        started = time.perf_counter()
        reading = read(row["text"], row["intent"], today=today, topic_model=None if rules_only else "shipped")
        times.append((time.perf_counter() - started) * 1000)
        counts = by_lang.setdefault(row["lang"], {"n": 0, "topic": 0, "deadline": 0, "with": 0, "with_ok": 0})
        counts["n"] += 1
        topic_ok = norm(reading.topic) == norm(row["topic"])
        got = reading.deadline.isoformat() if reading.deadline else None
        deadline_ok = got == row["deadline"]
        counts["topic"] += topic_ok
        counts["deadline"] += deadline_ok
        if row["deadline"]:
            counts["with"] += 1
            counts["with_ok"] += deadline_ok
        if show and not (topic_ok and deadline_ok):
            misses.append(
                f"  {row['lang']} {row['intent']}: topic {reading.topic!r} (want {row['topic']!r}), "
                f"deadline {got} (want {row['deadline']}) | {row['text'][:90]!r}"
            )
    return {"by_lang": by_lang, "median_ms": statistics.median(times) if times else 0.0, "misses": misses}


def quick_answer(message: str) -> tuple[str | None, Any]:
    """The capability whose reader takes the message, and the first-party tool's number (if it computes one)."""
    for answerer in quick.ANSWERERS:
        arguments = answerer.read(message)
        if arguments is None:
            continue
        try:
            if answerer.capability == "calculate":
                return "calculate", calculator.calculate(**arguments).result
            if answerer.capability == "convert_units":
                return "convert_units", calculator.convert_units(**arguments).result
        except ValueError:
            return answerer.capability, None
        return {"read_note": "read_note", "list_notes": "list_notes"}.get(
            answerer.capability, answerer.capability
        ), None
    return None, None


def score_quick(rows: list[dict[str, Any]], show: bool) -> tuple[dict[str, list[int]], list[str]]:
    by_lang: dict[str, list[int]] = {}
    misses: list[str] = []
    for row in rows:
        capability, value = quick_answer(row["text"])
        want = row["tool"]
        ok = capability == want
        if ok and row.get("answer") is not None:
            ok = isinstance(value, int | float) and abs(value - row["answer"]) <= abs(row["answer"]) * 1e-3 + 1e-9
        counts = by_lang.setdefault(row["lang"], [0, 0])
        counts[0] += ok
        counts[1] += 1
        if show and not ok:
            misses.append(
                f"  {row['lang']}: {capability} -> {value} (want {want} -> {row.get('answer')}) | {row['text']!r}"
            )
    return by_lang, misses


# -- libraries, for comparison ---------------------------------------------------------------------------------


def library_deadlines(rows: list[dict[str, Any]]) -> list[str]:
    lines = []
    readers: dict[str, Callable[[str, date], str | None]] = {}
    try:
        from dateparser.search import search_dates

        def with_dateparser(text: str, today: date) -> str | None:
            base = datetime.combine(today, datetime.min.time()).replace(hour=12)
            settings: Any = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "future"}
            found = search_dates(text, settings=settings, languages=["en", "zh"]) or []
            days = [d.date() for _, d in found if d.date() >= today]
            return days[-1].isoformat() if days else None

        readers["dateparser (search_dates, en+zh)"] = with_dateparser
    except ImportError:
        lines.append("  dateparser not installed")
    try:
        import logging

        import jionlp

        logging.disable(logging.ERROR)

        def with_jionlp(text: str, today: date) -> str | None:
            stamp = datetime.combine(today, datetime.min.time()).replace(hour=12).timestamp()
            try:
                found = jionlp.ner.extract_time(text, time_base=stamp)
            except Exception:  # the library raises on some inputs: that is a miss
                return None
            for item in found:
                value = item["detail"]["time"]
                if isinstance(value, list) and value and isinstance(value[0], str):
                    return value[0][:10]
            return None

        readers["jionlp (extract_time, zh)"] = with_jionlp
    except ImportError:
        lines.append("  jionlp not installed")
    for name, reader in readers.items():
        per: dict[str, list[int]] = {}
        started = time.perf_counter()
        for row in rows:
            counts = per.setdefault(row["lang"], [0, 0])
            counts[0] += reader(row["text"], date.fromisoformat(row["today"])) == row["deadline"]
            counts[1] += 1
        ms = (time.perf_counter() - started) * 1000 / max(1, len(rows))
        lines.append(
            f"  {name}: " + ", ".join(f"{lang} {pct(*c)}" for lang, c in sorted(per.items())) + f"; {ms:.2f} ms"
        )
    return lines


def jieba_topics(rows: list[dict[str, Any]]) -> list[str]:
    try:
        import jieba
        import jieba.posseg as pseg
    except ImportError:
        return ["  jieba not installed"]
    jieba.setLogLevel(60)
    cues = set(
        "帮 帮我 请 我 我们 想 要 准备 复习 备考 考试 期末 期中 考 理解 搞懂 弄懂 深入 彻底 讲 讲解 解释 提高 提升 "
        "练习 学习 学会 学 能力 水平 原理 拆分 拆解 分解 拆成 分成 任务 步骤 计划 规划 一下 怎么 如何 为什么 什么 能 "
        "吗 呢 的 了 是 把 帮忙 一个 小 几个 清单 过程 流程 工作 一直 总是 不懂 明白 搞 完成 需要 自己 每天 还有 就 "
        "在 前 后".split()
    )
    nouny = re.compile(r"^(n|nz|nr|ns|nt|vn|eng|l|i|j|an|x)")

    def topic(row: dict[str, Any]) -> str:
        if row["intent"] == "error_diagnosis" and (named := error_topic(row["text"])):
            return named
        best: list[str] = []
        run: list[str] = []
        for word in [*pseg.cut(strip_times(row["text"], date.fromisoformat(row["today"]))), None]:
            if word is not None and word.word.strip() and word.word not in cues and nouny.match(word.flag):
                if not re.fullmatch(r"[\W_]+", word.word):
                    run.append(word.word)
                    continue
            if len("".join(run)) > len("".join(best)):
                best = run
            run = []
        return "".join(best)

    zh = [r for r in rows if r["lang"] == "zh"]
    hits = sum(norm(topic(r)) == norm(r["topic"]) for r in zh)
    return [f"  jieba posseg, longest run of noun-like words without cue words (zh): {pct(hits, len(zh))}"]


# -- leave-one-author-out ----------------------------------------------------------------------------------------

AUTHORS = {
    "first author (dev, blind, blind2)": ["dev", "blind", "blind2"],
    "second author (blind3)": ["blind3"],
    "third author (blind4)": ["blind4"],
    "fourth author (blind5)": ["blind5"],
    "fifth author (blind6)": ["blind6"],
    "sixth author (blind8)": ["blind8"],
}
TRAINED_IN_EVERY_FOLD = ["dev2"]
"""Written after the rules and blind5 were studied (by the author of the 2026-12-03 evening revision): never left
out (the rules were revised on it), always trained on."""
SEEDS = (7, 8, 9)


def _topic_hits(rows: list[dict[str, Any]], reader: Callable[[dict[str, Any]], str]) -> dict[str, list[int]]:
    per: dict[str, list[int]] = {}
    for row in rows:
        counts = per.setdefault(row["lang"], [0, 0])
        counts[0] += norm(reader(row)) == norm(row["topic"])
        counts[1] += 1
    return per


def leave_one_author_out(exclude: frozenset[str] = frozenset()) -> None:
    """For each author: the topic model trained on the other authors' sets (and the rules' readings recorded for
    them), scored on this author's. The rules' reading of the left-out set is the one recorded when it was first
    scored, where there is one (the rules had not seen it then); else today's (which were revised on it).
    ``exclude``: sets left out of every fold (neither trained on nor scored)."""
    datasets = ROOT / "datasets"
    authors = {a: [s for s in sets if s not in exclude] for a, sets in AUTHORS.items()}
    authors = {a: sets for a, sets in authors.items() if sets}
    rows = {a: fit.load_rows([datasets / f"assist_{s}.jsonl" for s in sets]) for a, sets in authors.items()}
    recorded = fit.load_readings(datasets / fit.READINGS)
    always = fit.load_rows([datasets / f"assist_{s}.jsonl" for s in TRAINED_IN_EVERY_FOLD])
    print("| left out | language | messages | rules' reading used | rules alone | rules + model (seeds 7/8/9) |")
    print("|---|---|---:|---|---:|---:|")
    for author in authors:
        train = [r for a, rs in rows.items() if a != author for r in rs] + always
        others = [s for a, sets in authors.items() if a != author for s in sets]
        readings = fit.load_readings(datasets / fit.READINGS, others)
        test = rows[author]  # without the labels the model is never trained on (fit.LABELS_NOT_TRAINED)
        first = {key: recorded[key] for r in test if (key := (r["text"], r["today"])) in recorded}
        used = "as first scored" if len(first) == len(test) else "today's (revised on it: optimistic)"

        def rule_of(row: dict[str, Any], first: fit.Readings = first) -> str | None:
            return first.get((row["text"], row["today"]))

        alone = _topic_hits(test, lambda row: fit.read_with(None, row, rule_of(row)))
        by_seed = []
        for seed in SEEDS:
            model = fit.fit(train, readings, seed=seed)
            by_seed.append(_topic_hits(test, lambda row, m=model: fit.read_with(m, row, rule_of(row))))
        for lang in sorted(alone):
            n = alone[lang][1]
            hits = [s[lang][0] for s in by_seed]
            spread = f"{min(hits)}-{max(hits)}" if min(hits) != max(hits) else f"{hits[0]}"
            mean = f"{100 * statistics.mean(hits) / n:.1f}% mean"
            print(f"| {author} | {lang} | {n} | {used} | {pct(*alone[lang])} | {spread}/{n} ({mean}) |")


def set_path(value: str) -> Path:
    named = ROOT / "datasets" / f"assist_{value}.jsonl"
    return named if named.is_file() else Path(value)


def load_set(path: Path) -> list[dict[str, Any]]:
    """The labelled messages of ``path``, or one line on stderr and exit code 2."""
    needed = ("text", "intent", "today")
    try:
        rows = load(path)
        for number, row in enumerate(rows, 1):
            if "lang" not in row and isinstance(row.get("text"), str):
                row["lang"] = "zh" if detect_language(row["text"]) == "zh" else "en"  # the reader's own guess
            labelled = row.get("intent") == "quick_task" or ("topic" in row and "deadline" in row)
            missing = [k for k in needed if k not in row] + ([] if labelled else ["topic and deadline"])
            if missing:
                raise ValueError(f"message {number} has no {', '.join(missing)}")
            date.fromisoformat(row["today"])
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        print(f"bench_extraction: {path}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="dev", type=set_path, help="a set's name (datasets/assist_SET.jsonl) or path")
    parser.add_argument("--rules-only", action="store_true", help="read topics by the rules alone (no topic model)")
    parser.add_argument("--leave-out", action="store_true", help="leave-one-author-out figures for the topic model")
    parser.add_argument("--exclude", action="append", default=[], help="with --leave-out: a set in no fold")
    parser.add_argument("--libraries", action="store_true", help="compare with dateparser, jionlp and jieba")
    parser.add_argument("--misses", action="store_true", help="list every message read wrong")
    args = parser.parse_args()
    if args.leave_out:
        leave_one_author_out(frozenset(args.exclude))
        return
    model = None if args.rules_only else spans.shipped()
    if model is None and not args.rules_only:
        print(
            "bench_extraction: the topic model is unusable (the warning above); --rules-only reads without it",
            file=sys.stderr,
        )
        raise SystemExit(2)
    name = args.set.name
    rows = load_set(args.set)
    workflow_rows = [r for r in rows if r["intent"] != "quick_task"]
    quick_rows = [r for r in rows if r["intent"] == "quick_task"]
    print(f"## {name}: {len(workflow_rows)} workflow messages, {len(quick_rows)} quick tasks")
    if model is None:
        print("Topics: the rules alone")
    else:
        meta = model.meta
        print(
            f"Topics: rules + topic model ({spans.SHIPPED_MODEL.name}: {meta.get('trained_on')} messages, "
            f"data {meta.get('data')})"
        )
    scored = score_reading(workflow_rows, args.misses, args.rules_only)
    print("\n| language | messages | topic exact | deadline exact | deadline, messages with one |")
    print("|---|---:|---:|---:|---:|")
    for lang, c in sorted(scored["by_lang"].items()):
        cells = [str(c["n"]), pct(c["topic"], c["n"]), pct(c["deadline"], c["n"]), pct(c["with_ok"], c["with"])]
        print(f"| {lang} | " + " | ".join(cells) + " |")
    quick_scores, quick_misses = score_quick(quick_rows, args.misses)
    print("\n| language | quick tasks | right tool and answer |")
    print("|---|---:|---:|")
    for lang, (hits, total) in sorted(quick_scores.items()):
        print(f"| {lang} | {total} | {pct(hits, total)} |")
    print(f"\nReading time: median {scored['median_ms']:.3f} ms a message.")
    if args.libraries:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            print("\nLibraries on the same messages:")
            print("\n".join(library_deadlines(workflow_rows)))
            print("\n".join(jieba_topics(workflow_rows)))
    if args.misses:
        print("\nMisses:")
        print("\n".join(scored["misses"] + quick_misses) or "  none")


if __name__ == "__main__":
    main()
