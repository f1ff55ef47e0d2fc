"""The offline bilingual intent classifier (English and Chinese), as a cascade:

1. high-precision rules (regular expressions in both languages) decide alone when exactly one
   intent's rules fire;
2. otherwise a character/word n-gram model (``plugyard.NgramIntentModel``, shipped beside this file
   as ``intent_model.json``) gives every intent a probability; the top one is accepted when it clears
   the tuned threshold and beats the second by the tuned margin;
3. the unsure rest is reported with a low confidence, so the host asks its fallback classifier
   (the language model, when one is available) or treats the message as quick_task.

``plugyard intents fit FILE.jsonl`` retrains the model and re-tunes the thresholds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator

from plugyard import IntentResult, NgramIntentModel, data_dir, hookimpl

SHIPPED_MODEL = Path(__file__).with_name("intent_model.json")
USER_MODEL_NAME = "intent_model.json"
RULE_CONFIDENCE = 0.95
UNSURE_DISCOUNT = 0.4
"""An unsure model answer is reported at this fraction of its probability: below any sensible
quick_task threshold, so the host turns to its fallback classifier or to quick_task."""

_I = re.IGNORECASE
RULES: dict[str, list[re.Pattern[str]]] = {
    "error_diagnosis": [
        re.compile(r"Traceback \(most recent call last\)"),
        re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b"),
        re.compile(r"\b(segmentation fault|stack ?trace|exit(s|ed)? with code|undefined reference)\b", _I),
        re.compile(r"(报错|段错误|异常|错误信息|抛出.{0,6}异常|退出码)"),
        re.compile(r"\b(bugs?|debug(ging)?|crash(es|ed)?|fails? with|error|fatal:)", _I),
        re.compile(r"(bug|调试|崩溃|出错|卡死|错误)", _I),
    ],
    "exam_preparation": [
        re.compile(
            r"\b(prepare|prepar(ing|ation)|prep|revis(e|ing|ion)|cram|study(ing)? for|ready for|ace)\b.{0,40}"
            r"\b(exams?|finals?|midterms?|tests?|quiz|gre|sat|toefl|ielts|certification)\b",
            _I,
        ),
        re.compile(r"\b(exams?|finals?|midterms?)\b.{0,30}\b(tomorrow|next (week|month)|in \w+ (days|weeks))\b", _I),
        re.compile(
            r"(备考|期末考|期中考|考研|高考|四级|六级|雅思|托福|复习.{0,12}考|考试.{0,10}复习|考前|准备.{0,12}考)"
        ),
        re.compile(r"\b(exams?|midterms?|finals|quiz(zes)?)\b", _I),
        re.compile(r"(考试|测验|小测|(明天|明早|后天|下周.?|周[一二三四五六日末]|月底)考)"),
    ],
    "task_decomposition": [
        re.compile(
            r"\b(break (it |this |them )?(down|up|into)|split (up )?(this|the|it|my)|decompose|subtasks?)\b", _I
        ),
        re.compile(r"\b(milestones?|task list|checklist|roadmap|project plan)\b", _I),
        re.compile(r"(拆分|分解|拆成|拆开|子任务|任务清单|里程碑|排.{0,2}进度|分工|分给|分配)"),
        re.compile(r"\b(step[- ]by[- ]step plan|plan (the|my|how)|schedule (the|my)|organi[sz]e (my|a|the))\b", _I),
        re.compile(r"((?<!动态)规划|每周应该做什么|时间表|哪些步骤)"),
    ],
    "deep_learning": [
        re.compile(
            r"\b(in depth|under the hood|first principles|intuition|truly understand|really (get|understand))\b", _I
        ),
        re.compile(r"\b(conceptually|go deep|thorough(ly)? expla)", _I),
        re.compile(r"(深入|彻底搞懂|本质上|直观|原理是什么|背后的(思想|道理|原理)|底层|讲透)"),
        re.compile(r"\b(explain|why (does|is|do)|how does .{0,40} work|what is the (real )?meaning)\b", _I),
        re.compile(r"(为什么|原理|理解|到底是什么|什么意思|机制)"),
    ],
    "skill_building": [
        re.compile(
            r"\b(get(ting)? better at|improve my|level up|practi[cs]e routine|from scratch|become (fluent|a better))\b",
            _I,
        ),
        re.compile(r"(提高|提升|练习|养成.{0,4}习惯|从零开始|零基础|锻炼|训练方法)"),
        re.compile(
            r"\b(learn(ing)? to|as a (complete )?beginner|become a better|get good at|practi[cs]e|drills?)\b", _I
        ),
        re.compile(r"(学会|想学|练)"),
    ],
    "quick_task": [
        re.compile(r"^\s*(what(?:'s| is)\s+)?[\d.\s]+\s*(%|percent)\s+of\s+[\d.]+\s*\??\s*$", _I),
        re.compile(r"^\s*(convert|calculate|compute|round)\b", _I),
        re.compile(r"\b(search|find|open|look up|list) (my )?notes?\b", _I),
        re.compile(r"^\s*(hi|hello|hey|thanks|thank you)[!. ]*$", _I),
        re.compile(r"(换算|等于多少|是多少[克米秒分钟度]|我的笔记|的笔记|^\s*(你好|谢谢)[！!。]*\s*$)"),
        re.compile(
            r"\d.{0,20}\b(in|into|to)\b.{0,12}\b(km|miles?|kilometers?|meters?|celsius|fahrenheit|kelvin|grams?|"
            r"pounds?|minutes?|seconds?|hours?|days?)\b",
            _I,
        ),
        re.compile(r"^\s*(translate|define|spell|give me a synonym)\b", _I),
        re.compile(r"(翻译|近义词|缩写|首都|保留.{0,4}小数|\d.{0,10}(多少|几))"),
    ],
}


# Decisive rules win over the others: a pasted traceback is an error whatever it mentions, and a
# note lookup is a quick task whatever the note is about.
DECISIVE: list[tuple[str, re.Pattern[str]]] = [
    ("error_diagnosis", re.compile(r"Traceback \(most recent call last\)")),
    ("quick_task", re.compile(r"\b(search|find|open|look up|list)\b.{0,12}\bnotes?\b", _I)),
    ("quick_task", re.compile(r"(查|找|搜索|打开|列出).{0,12}笔记")),
]


def rule_intent(message: str) -> str | None:
    """The intent the rules decide alone, or None (no rule fired, or rules of several intents did)."""
    for intent, pattern in DECISIVE:
        if pattern.search(message):
            return intent
    fired = {intent for intent, patterns in RULES.items() if any(p.search(message) for p in patterns)}
    return fired.pop() if len(fired) == 1 else None


class IntentSettings(BaseModel):
    model: str | None = None
    """A model trained with ``plugyard intents fit`` (default: <data dir>/intent_model.json if it
    exists, else the model shipped with plugyard)."""

    @field_validator("model")
    @classmethod
    def _relative_to_config(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = Path(value).expanduser()
        base = (info.context or {}).get("base_dir")
        return str(path if path.is_absolute() or base is None else Path(base) / path)


def model_path(settings: IntentSettings | None = None) -> Path:
    if settings is not None and settings.model:
        return Path(settings.model)
    trained = data_dir() / USER_MODEL_NAME
    return trained if trained.is_file() else SHIPPED_MODEL


class OfflineClassifier:
    """Rules, then the n-gram model; no network, a fraction of a millisecond a message."""

    name = "offline"

    def __init__(self, model: NgramIntentModel) -> None:
        self.model = model

    def classify(self, message: str) -> IntentResult:
        rule = rule_intent(message)
        if rule is not None:
            return IntentResult(intent=rule, confidence=RULE_CONFIDENCE, source="offline:rules")
        prediction = self.model.predict(message)
        scores = {k: round(v, 4) for k, v in prediction.probabilities.items()}
        if prediction.accepted:
            return IntentResult(
                intent=prediction.intent, confidence=prediction.probability, source="offline:model", scores=scores
            )
        return IntentResult(
            intent=prediction.intent,
            confidence=prediction.probability * UNSURE_DISCOUNT,
            source="offline:unsure",
            scores={k: v * UNSURE_DISCOUNT for k, v in scores.items()},
        )


_state: dict[str, Any] = {}


@hookimpl
def plugin_settings() -> type[IntentSettings]:
    return IntentSettings


@hookimpl
def startup(host: Any) -> None:
    _state["settings"] = host.settings_for("intents")


@hookimpl
def register_intent_classifiers(register: Callable[..., None]) -> None:
    register(LazyOfflineClassifier(), name="offline")


class LazyOfflineClassifier:
    """Loads the model on first use (after settings are known), then delegates."""

    name = "offline"

    def __init__(self) -> None:
        self._inner: OfflineClassifier | None = None

    def classify(self, message: str) -> IntentResult:
        if self._inner is None:
            self._inner = OfflineClassifier(NgramIntentModel.load(model_path(_state.get("settings"))))
        return self._inner.classify(message)


# -- training (``plugyard intents fit``) --------------------------------------------------------


def fit(rows: Sequence[dict[str, Any]], *, folds: int = 5) -> tuple[NgramIntentModel, dict[str, Any]]:
    """Train on ``rows`` (``split`` other than "test"), tune the thresholds of the whole cascade on
    cross-validated predictions, and evaluate on the "test" rows when there are any."""
    train = [r for r in rows if r.get("split", "train") != "test"]
    test = [r for r in rows if r.get("split") == "test"]
    texts, gold = [r["text"] for r in train], [r["intent"] for r in train]
    labels = sorted(set(gold))
    predictions = NgramIntentModel.cross_validated(texts, gold, folds=folds)
    thresholds = NgramIntentModel.tune(predictions, gold, labels, rules=[rule_intent(t) for t in texts])
    model = NgramIntentModel.fit(texts, gold)
    model.thresholds = thresholds
    report: dict[str, Any] = {
        "train": len(train),
        "test": len(test),
        "threshold": thresholds.threshold,
        "margin": thresholds.margin,
        "features": len(model.weights),
    }
    if test:
        classifier = OfflineClassifier(model)
        decided = [classifier.classify(r["text"]) for r in test]
        answers = [d.intent if d.source != "offline:unsure" else "quick_task" for d in decided]
        report["accuracy"] = sum(a == r["intent"] for a, r in zip(answers, test, strict=True)) / len(test)
        report["macro_f1"] = NgramIntentModel.macro_f1([r["intent"] for r in test], answers, labels)
        for lang in ("en", "zh"):
            pairs = [(a, r["intent"]) for a, r in zip(answers, test, strict=True) if r.get("lang") == lang]
            if pairs:
                report[f"macro_f1_{lang}"] = NgramIntentModel.macro_f1(
                    [g for _, g in pairs], [a for a, _ in pairs], labels
                )
    model.meta = {"trained_on": len(train), **{k: v for k, v in report.items() if k != "features"}}
    return model, report
