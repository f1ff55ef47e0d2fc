"""Train the topic model (``spans``) on labelled messages and write it:

    python -m plugyard.assistant.reading.fit              # the labelled sets in datasets/ -> topic_model.json
    python -m plugyard.assistant.reading.fit SET.jsonl ... --out model.json

Quick tasks (no topic) are left out, and a message met twice (the same text and day) counts once. The model's
``meta["data"]`` is ``spans.fingerprint`` of the messages it was trained on, in the order read.

**The rules' reading as a feature.** The rules were revised on most labelled sets, so on them they are right
almost always; a model trained on those readings would learn to trust the rules as they are never trusted on a
new author's messages. So the rules' reading is a feature only where it was recorded before the rules saw the
set (``datasets/assist_rule_readings.jsonl``: each blind set as the rules read it when it was first scored);
elsewhere the model learns from the spans alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from plugyard.core.intents import detect_language

from . import Language, read_topic, rule_topic, spans, topic_candidates

DATASETS = Path(__file__).resolve().parents[3] / "datasets"
READINGS = "assist_rule_readings.jsonl"
EPOCHS = 12
SEED = 7

Readings = dict[tuple[str, str], str]
"""The rules' topic of a message (text, today) as first read, before the rules were revised on its set."""


NOT_TRAINED: dict[str, str] = {
    "assist_blind7.jsonl": "held out: never studied, scored once per revision (datasets/README.md)",
}
"""Labelled sets in datasets/ that the shipped model is not trained on, and why."""

_HEAD_ONLY = (
    "its author labels a topic named with a modifier by its head only, against the conventions and every other set"
    " (which keep the subject as written); trained on, such labels taught the model that reading"
)
LABELS_NOT_TRAINED: dict[str, dict[str, str]] = {
    "assist_blind5.jsonl": {
        "想搞懂区块链的共识机制，PoW和PoS到底差在哪，别只给我结论": _HEAD_ONLY,
        "操作系统的虚拟内存到底是怎么实现的？页表、TLB这些词我都听过但串不起来": _HEAD_ONLY,
        "黑格尔的辩证法到底在说啥？正题反题合题这种讲法是不是太简化了": _HEAD_ONLY,
        "my philosophy prof keeps bringing up Kant and the categorical imperative and I nod along but I don't really"
        " get it. what is it at its core?": _HEAD_ONLY,
        "Teach me how the attention mechanism in transformers works at a level where I could implement it myself in"
        " numpy": _HEAD_ONLY,
    },
}
"""Messages of a trained set whose label the model is not trained on, and why."""


def default_sets() -> list[Path]:
    return sorted(p for p in DATASETS.glob("assist_*.jsonl") if p.name != READINGS and p.name not in NOT_TRAINED)


def load_readings(path: Path, sets: Iterable[str] | None = None) -> Readings:
    """The recorded readings at ``path`` (of the sets named, default all); none when there is no file."""
    if not path.is_file():
        return {}
    wanted = set(sets) if sets is not None else None
    out: Readings = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if wanted is None or row["set"] in wanted:
                out[(row["text"], row["today"])] = row["topic_read"]
    return out


def readings_for(paths: Iterable[Path]) -> Readings:
    """The recorded readings of the sets at ``paths`` (only those: a set not trained on has none in the model)."""
    return load_readings(DATASETS / READINGS, [p.stem.removeprefix("assist_") for p in paths])


def load_rows(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """The workflow messages of the JSONL files at ``paths``, each (text, today) once."""
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                key = (row["text"], row["today"])
                if row["intent"] == "quick_task" or key in seen:
                    continue
                date.fromisoformat(row["today"])
                if not isinstance(row["topic"], str):
                    raise TypeError("its topic is no string")
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a labelled message ({exc})") from None
            seen.add(key)
            if row["text"] not in LABELS_NOT_TRAINED.get(path.name, {}):
                rows.append(row)
    return rows


def _language(row: dict[str, Any]) -> Language:
    return "zh" if detect_language(row["text"]) == "zh" else "en"


def _without_rules(found: list[spans.Candidate]) -> list[spans.Candidate]:
    return [
        spans.Candidate(c.text, tuple(f for f in c.features if "rule:" not in f))
        for c in found
        if "rule:only" not in c.features
    ]


def examples(rows: Sequence[dict[str, Any]], readings: Readings) -> list[tuple[list[spans.Candidate], str]]:
    out = []
    for row in rows:
        today, language = date.fromisoformat(row["today"]), _language(row)
        recorded = readings.get((row["text"], row["today"]))
        rule = recorded if recorded is not None else rule_topic(row["text"], row["intent"], today=today,
                                                                language=language)[0]  # fmt: skip
        found = topic_candidates(row["text"], row["intent"], today=today, language=language, rule=rule)
        out.append((found if recorded is not None else _without_rules(found), row["topic"]))
    return out


def fit(
    rows: Sequence[dict[str, Any]], readings: Readings, *, epochs: int = EPOCHS, seed: int = SEED
) -> spans.TopicModel:
    weights = spans.train(examples(rows, readings), epochs=epochs, seed=seed)
    used = [[text, today, topic] for (text, today), topic in sorted(readings.items())]
    meta = {
        "trained_on": len(rows),
        "data": spans.fingerprint(rows),
        "readings": len(readings),
        "readings_data": hashlib.sha256(json.dumps(used, ensure_ascii=False).encode("utf-8")).hexdigest()[:16],
        "epochs": epochs,
        "seed": seed,
    }
    return spans.TopicModel(weights, meta)


def read_with(model: spans.TopicModel | None, row: dict[str, Any], rule: str | None = None) -> str:
    """The topic of a labelled message by the rules and ``model`` (None: the rules alone); ``rule``: the
    rules' reading to use instead of today's rules (a recorded one)."""
    today, language = date.fromisoformat(row["today"]), _language(row)
    if rule is None:
        return read_topic(row["text"], row["intent"], today=today, language=language, model=model)[0]
    if model is None:
        return rule
    found = topic_candidates(row["text"], row["intent"], today=today, language=language, rule=rule)
    return model.pick(found) or rule


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sets", nargs="*", type=Path, help="labelled JSONL files (default: datasets/assist_*.jsonl)")
    parser.add_argument("--out", type=Path, default=spans.SHIPPED_MODEL, help="where to write the model")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    paths = args.sets or default_sets()
    try:
        rows = load_rows(paths)
        readings = readings_for(paths)
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("error: no labelled workflow messages in " + ", ".join(map(str, paths)), file=sys.stderr)
        return 2
    model = fit(rows, readings, epochs=args.epochs)
    model.meta["sets"] = [p.name for p in paths]
    args.out.write_text(model.to_json() + "\n", encoding="utf-8")
    print(f"{args.out}: {len(model.weights)} weights, trained on {len(rows)} messages ({model.meta['data']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
