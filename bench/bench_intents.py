"""Intent classification on the held-out split of datasets/intents.jsonl.

Retrains the shipped model on the train split (as `plugyard intents fit` does) unless --no-fit,
then prints the markdown section for bench/RESULTS.md: accuracy, macro-F1 overall and per
language, the confusion matrix, the coverage-accuracy curve, and time per classification.

    python bench/bench_intents.py [--no-fit]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from plugyard.core.intent_model import NgramIntentModel, macro_f1, read_jsonl
from plugyard.plugins import intents as plugin

REPO = Path(__file__).parent.parent
DATA = REPO / "datasets" / "intents.jsonl"


def main() -> None:
    rows = read_jsonl(DATA)
    if "--no-fit" not in sys.argv:
        started = time.perf_counter()
        model, _ = plugin.fit(rows)
        fit_s = time.perf_counter() - started
        model.save(plugin.SHIPPED_MODEL)
    else:
        fit_s = float("nan")
    model = NgramIntentModel.load(plugin.SHIPPED_MODEL)
    classifier = plugin.OfflineClassifier(model)
    test = [r for r in rows if r["split"] == "test"]
    labels = model.labels
    gold = [r["intent"] for r in test]
    results = [classifier.classify(r["text"]) for r in test]
    cascade = [r.intent if r.source != "offline:unsure" else "quick_task" for r in results]
    alone = [model.predict(r["text"]) for r in test]

    def acc(pred: list[str], idx: list[int]) -> float:
        return sum(pred[i] == gold[i] for i in idx) / len(idx)

    def f1(pred: list[str], idx: list[int]) -> float:
        return macro_f1([gold[i] for i in idx], [pred[i] for i in idx], labels)

    every = list(range(len(test)))
    by_lang = {lang: [i for i in every if test[i]["lang"] == lang] for lang in ("en", "zh")}
    alone_pred = [p.intent for p in alone]
    out = []
    n_zh = sum(r["lang"] == "zh" for r in rows)
    out.append(
        f"Data: {len(rows)} labelled messages ({n_zh} Chinese, {n_zh / len(rows):.0%}), "
        f"{len(rows) - len(test)} train / {len(test)} held out (every 4th message of each intent and language). "
        f"Model: {len(model.weights)} n-gram features, threshold {model.thresholds.threshold}, "
        f"margin {model.thresholds.margin} (tuned on 5-fold cross-validation of the train split); fit {fit_s:.1f} s."
    )
    out.append("")
    out.append("| held-out split | accuracy | macro-F1 | macro-F1 en | macro-F1 zh | zh-en gap (points) |")
    out.append("|---|---|---|---|---|---|")
    for name, pred in (
        ("cascade (rules, then model, unsure -> quick_task)", cascade),
        ("n-gram model alone", alone_pred),
    ):
        en, zh = f1(pred, by_lang["en"]), f1(pred, by_lang["zh"])
        out.append(
            f"| {name} | {acc(pred, every):.3f} | {f1(pred, every):.3f} | {en:.3f} | {zh:.3f} "
            f"| {abs(zh - en) * 100:.1f} |"
        )
    rules = sum(r.source == "offline:rules" for r in results)
    unsure = sum(r.source == "offline:unsure" for r in results)
    out.append("")
    out.append(f"Rules decided {rules}/{len(test)} held-out messages alone; the model was unsure of {unsure}.")
    out.append("")
    out.append("Confusion matrix of the cascade (rows: true intent, columns: predicted):")
    out.append("")
    short = {label: label.split("_")[0][:6] for label in labels}
    out.append("| true \\ predicted | " + " | ".join(short[lb] for lb in labels) + " |")
    out.append("|---|" + "---|" * len(labels))
    for t in labels:
        counts = [sum(1 for g, p in zip(gold, cascade, strict=True) if g == t and p == q) for q in labels]
        out.append(f"| {t} | " + " | ".join(str(c) for c in counts) + " |")
    out.append("")
    out.append("Coverage-accuracy of the model alone (answer only when its top probability is at least t):")
    out.append("")
    out.append("| t | coverage | accuracy on the covered |")
    out.append("|---|---|---|")
    for t in (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
        covered = [i for i, p in enumerate(alone) if p.probability >= t]
        accuracy = sum(alone[i].intent == gold[i] for i in covered) / len(covered) if covered else float("nan")
        out.append(f"| {t:.1f} | {len(covered) / len(test):.2f} | {accuracy:.3f} |")
    texts = [r["text"] for r in rows] * 5
    timings = []
    for text in texts:
        started = time.perf_counter()
        classifier.classify(text)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    out.append("")
    out.append(
        f"Time per classification (cascade, no language model, {len(timings)} calls, one core): "
        f"median {statistics.median(timings):.3f} ms, p95 {timings[int(len(timings) * 0.95)]:.3f} ms, "
        f"max {timings[-1]:.3f} ms."
    )
    print("\n".join(out))


if __name__ == "__main__":
    main()
