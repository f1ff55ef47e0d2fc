"""The offline bilingual intent classifier (English and Chinese), as a cascade:

1. a few high-precision rules (regular expressions in both languages) decide alone when exactly one
   intent's rules fire: only cues that were nearly always right on every labelled message, including
   ones written after the rules (``bench/bench_intents.py`` measures each rule's precision); broad
   cues (why/为什么, learn/练, plan/规划, bug) are not rules but entries of the lexicon below;
2. otherwise a character/word n-gram model (``plugyard.NgramIntentModel``, shipped beside this file
   as ``intent_model.json``) gives every intent a probability. Its features include ``LEXICON``:
   named bilingual cues (exam words, planning words, error words...) the model weighs against the
   rest, learning from English and Chinese messages at once. The top intent is accepted when it
   clears the tuned threshold and beats the second by the tuned margin;
3. the unsure rest is reported with a low confidence, so the host asks its fallback classifier
   (the language model, when one is available) or treats the message as quick_task.

``plugyard intents fit FILE.jsonl`` (``cli.py``, added through ``register_commands``) retrains the model
and re-tunes the thresholds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator

from plugyard import IntentResult, data_dir, hookimpl

from . import model as ngram
from .model import NgramIntentModel

SHIPPED_MODEL = Path(__file__).with_name("intent_model.json")
USER_MODEL_NAME = "intent_model.json"
RULE_CONFIDENCE = 0.95
UNSURE_DISCOUNT = 0.4
"""An unsure model answer is reported at this fraction of its probability: below any sensible
quick_task threshold, so the host turns to its fallback classifier or to quick_task."""
HELD_OUT_SPLITS = ("test",)
"""Rows of these splits are never trained on by ``fit``: they are scored. Every other row (``train``,
``dev``, no split) is training data."""

_I = re.IGNORECASE
RULES: dict[str, list[re.Pattern[str]]] = {
    "error_diagnosis": [
        re.compile(r"Traceback \(most recent call last\)"),
        re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b"),
        re.compile(r"\b(segmentation fault|stack ?trace|exit(s|ed)? with code|undefined reference)\b", _I),
        re.compile(r"(报错|段错误|错误信息|抛出.{0,6}异常|退出码)"),
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
    ],
    "task_decomposition": [
        re.compile(r"\b(milestones?|task list|checklist|roadmap|project plan|subtasks?)\b", _I),
        re.compile(r"(拆分|拆成|子任务|任务清单|里程碑)"),
    ],
    "deep_learning": [
        re.compile(
            r"\b(in depth|under the hood|first principles|intuition|truly understand|really (get|understand))\b", _I
        ),
        re.compile(r"\b(conceptually|go deep|thorough(ly)? expla)", _I),
        re.compile(r"(深入|彻底搞懂|本质上|直观|原理是什么|背后的(思想|道理|原理)|底层|讲透)"),
    ],
    "skill_building": [
        re.compile(
            r"\b(get(ting)? better at|improve my|level up|practi[cs]e routine|from scratch|become (fluent|a better))\b",
            _I,
        ),
        re.compile(r"(养成.{0,4}习惯|从零开始|零基础)"),
    ],
    "quick_task": [
        re.compile(r"^\s*(what(?:'s| is)\s+)?[\d.\s]+\s*(%|percent)\s+of\s+[\d.]+\s*\??\s*$", _I),
        re.compile(r"^\s*(convert|calculate|compute|round)\b.*\d", _I),
        re.compile(r"^\s*(hi|hello|hey|thanks|thank you)[!. ]*$", _I),
        re.compile(r"(换算|等于多少|是多少[克米秒分钟度]|^\s*(你好|谢谢)[！!。]*\s*$)"),
        re.compile(
            r"\d.{0,20}\b(in|into|to)\b.{0,12}\b(km|miles?|kilometers?|meters?|celsius|fahrenheit|kelvin|grams?|"
            r"pounds?|minutes?|seconds?|hours?|days?)\b",
            _I,
        ),
        re.compile(r"^\s*(translate|define|spell|give me a synonym)\b", _I),
        re.compile(r"(近义词|反义词|保留.{0,4}小数)"),
    ],
}


# Decisive rules win over the others: a pasted traceback is an error whatever it mentions, and a
# note lookup is a quick task whatever the note is about.
DECISIVE: list[tuple[str, re.Pattern[str]]] = [
    ("error_diagnosis", re.compile(r"Traceback \(most recent call last\)")),
    ("quick_task", re.compile(r"\b(search|find|open|look up|list)\b.{0,12}\bnotes?\b", _I)),
    ("quick_task", re.compile(r"(查|找|搜索|打开|列出).{0,12}笔记")),
]

# Bilingual cues for the n-gram model (one feature each, ``x:<name>``, matched case-insensitively).
# General vocabulary of the six intents rather than phrases of particular messages, though a second
# round of entries was added after reading the errors on a batch of training messages (datasets/README.md).
# Each cue may be wrong alone (a unit *test* is not an exam), which is why the model weighs them. The
# patterns avoid an unbounded run before a literal, so a long paste cannot make them backtrack.
# A model carries the lexicon it was trained with: editing this takes effect at the next fit.
LEXICON: dict[str, str] = {
    "exam": (
        r"\b(exams?|finals?|midterms?|quiz(zes)?|tests?|certifications?|past papers?|mock (tests?|exams?|papers?)"
        r"|gre|sat|lsat|gmat|toefl|ielts|usmle|cfa|pmp|a-levels?|gcse|olympiad|resit(ting)?|retak(e|ing)"
        r"|revis(e|ing|ion)|cram(ming)?|flashcards?)\b"
        r"|\b(viva|orals?|entrance|pass (the|my|it)|passing|score|grades?|study(ing)? for|syllabus)\b"
        r"|(?<![参思])考(?!虑)|测验|小测|复习|真题|模拟卷|模拟题|认证|刷题|四级|六级|雅思|托福|挂科|期末|期中|笔试|口试|答辩"
        r"|卷子|试卷|考点|押题|划重点|及格|分数|通过率"
    ),
    "when": (
        r"\b(tomorrow|tonight|today|next (week|month|year|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
        r"|in \w+ (days|weeks|months)|(on|by|before) (monday|tuesday|wednesday|thursday|friday|saturday|sunday"
        r"|the \d+\w*|end of)|due|deadline)\b"
        r"|明天|明早|今晚|后天|下周|下个月|月底|周[一二三四五六日末]|截止|还剩|还有.{0,4}(天|周|个月)|之前"
    ),
    "plan": (
        r"\b(plan(ning)?|steps?|break(ing)? (it |this |them )?(down|up|into)|split|chunks?|tasks?|subtasks?|to-?dos?"
        r"|milestones?|schedul(e|ing)|timeline|phases?|stages?|order|sequence|prioriti[sz]e|organi[sz](e|ing)"
        r"|checklist|roadmap|sprints?|tickets?|each week|divide|first|then|next (steps?|actions?)|in what order"
        r"|day[- ]by[- ]day|week[- ]by[- ]week|who (handles|does|takes)|action plan|rollout|tackle|get (it|this) done"
        r"|workload|lay (it )?out|map out|outline)\b"
        r"|计划|步骤|拆|分解|任务|里程碑|安排|排期|日程|阶段|顺序|先后|待办|清单|优先级|分工|分配|规划|迭代|分成|切成|划分"
        r"|一步步|先.{0,8}(再|后|然后)|第一步|下一步|谁负责|分批|分段|分步|排个|排一下|理一理|理一下|落实|推进|进度|期限"
    ),
    "project": (
        r"\b(projects?|thesis|dissertation|report|essay|app|website|migration|launch|event|proposal|presentation"
        r"|mvp|capstone|feature)\b"
        r"|项目|论文|报告|网站|上线|活动|作业|毕设|课设|小程序|需求"
    ),
    "error": (
        r"\b(errors?|exceptions?|crash(es|ed|ing)?|fail(s|ed|ing)?|bugs?|broken|doesn'?t work|won'?t|not working"
        r"|wrong|hangs?|stuck|frozen|exits?|denied|refused|not found|timeout|times out|warning|fatal|panic|segfault"
        r"|core dumped|infinite(ly)?|returns? (none|null)|doesn'?t|isn'?t|can'?t|never|skips?|missing|invalid"
        r"|unexpected|instead of|supposed to|should (be|have)|slow|freez(e|es|ing)|blank|nothing|stopped|no longer"
        r"|any ?more|after (the |an |i )?(update|upgrade|merge|install|deploy)\w*|\d{3} (error|not found|forbidden))\b"
        r"|报错|错误|出错|异常|崩溃|闪退|卡死|卡住|挂了|失败|不对|没反应|超时|死循环|找不到|提示|对不上|不亮|不行|不工作|用不了"
        r"|打不开|连不上|不显示|失效|无效|黑屏|白屏|蓝屏|乱码|丢失|死机|不动|不出来|没效果|怎么回事.{0,4}$"
    ),
    "code": (
        r"[a-z_]\.[a-z_]+\(|\w\(\)|\w_\w|[{}\[\]<>=]"
        r"|\b(npm|pip|git|cargo|docker|sql|python|java|node|css|ssh|api|regex|compile|build|deploy\w*|import"
        r"|function|loop|script|code|program|terminal|server|query)\b"
        r"|代码|程序|脚本|编译|部署|接口|函数|循环"
    ),
    "why": (
        r"\b(why|how (does|do|did|are|is|can)|what (actually|really)|actually|really|intuiti\w*|understand\w*"
        r"|grasp|get it|mental model|behind|under the hood|concepts?|conceptually|theory|principles?|reason(ing)?"
        r"|mechanism|idea|meaning|deep(er|ly)?|in depth|walk me through|explain\w*|logic|what happens|for real"
        r"|difference between|what'?s the point|how come|dig into|makes? sense|wrap my head|clicks?|at the \w+ level)\b"
        r"|为什么|为啥|原理|本质|直观|直觉|理解|搞懂|弄懂|吃透|明白|弄清|机制|底层|背后|概念|到底|究竟|怎么回事|思想|逻辑"
        r"|意义|含义|讲透|是个啥|咋回事|道理|理论|核心|思路|展开|讲深|深一点|区别|为何|怎么做到|如何做到|是怎么|是如何"
    ),
    "improve": (
        r"\b(get(ting)? (better|good|fast|faster|stronger|comfortable|consistent)|better at|improv\w*|practi[cs]\w*"
        r"|learn(ing)?( to)?|level up|routine|habits?|drills?|exercises?|progress(ion)?|beginner|from scratch"
        r"|fluent\w*|skills?|train(ing)?|confident|become|better|faster|good at|work on|get past|climb|master\w*"
        r"|stop (doing|saying|being)|consistent\w*|every day|daily|weekly|as an adult)\b"
        r"|提高|提升|练|训练|学会|想学|入门|零基础|习惯|进步|熟练|能力|水平|路线|循序渐进|培养|成长"
        r"|(学|弹|写|说|画|唱|打|做|讲)(好|熟|溜)|下功夫|突破|提速|更快|更好|改掉|克服|坚持|长进|上手|精通|进阶|变强|像样"
    ),
    "lookup": (
        r"\b(convert|calculate|compute|how (many|much)|what('s| is) \d|translate|how do you say|word for"
        r"|synonyms?|antonyms?|define|definition|meaning of|stand for|abbreviation|capital of|who (wrote|invented)"
        r"|what year|spell|round|square root|average|joke|who is|who'?s|where is|when (is|was|did)|how (tall|far|old)"
        r"|reword|rephrase|rewrite|shorten|random|remind me|what time|current|times)\b"
        r"|换算|等于|多少|几|翻译|翻成|译成|怎么说|缩写|近义词|反义词|首都|作者|哪一年|笑话|平方根|平均|是谁|在哪|哪里|多高|多大"
        r"|多远|多重|是不是|怎么拼|拼写|改写|润色|改得|改成|随便|随机|现在"
    ),
    "units": (
        r"\d\s*(%|km|kg|cm|mm|ft|in|lbs?|miles?|meters?|grams?|pounds?|ounces?|cups?|hours?|minutes?|seconds?"
        r"|usd|eur|mb|kb|gb)\b|\d\s*[-+*/^x×]\s*\d"
        r"|华氏|摄氏|公里|英里|英寸|厘米|毫升|克|磅|卡路里|美元|欧元|\d.{0,3}(次方|乘|除|加|减)"
    ),
    "notes": r"\bnotes?\b|笔记|记一下|备忘",
    "greeting": (
        r"^\s*(hi|hello|hey|yo|sup|bye|cheers|thanks|thank you|ok thanks|good (morning|night|evening)|how are you)\b"
        r"|^\s*(你好|谢谢|在吗|早上好|晚安|哈喽|嗨|拜拜)"
    ),
}


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
        message = ngram.clip(message)  # a long paste is read as its head and tail: bounded time
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


class IntentsPlugin:
    """The plugin (entry point ``intents``): one instance per host, so two hosts side by side during
    a live reload each classify with their own settings."""

    def __init__(self) -> None:
        self.settings: IntentSettings | None = None
        self.classifier = LazyOfflineClassifier(lambda: self.settings)

    @hookimpl
    def plugin_settings(self) -> type[IntentSettings]:
        return IntentSettings

    @hookimpl
    def startup(self, host: Any) -> None:
        self.settings = host.settings_for(host.name_of(self))

    @hookimpl
    def register_intent_classifiers(self, register: Callable[..., None]) -> None:
        register(self.classifier, name="offline")

    @hookimpl
    def register_commands(self, cli: Any) -> None:
        from .cli import add_commands

        add_commands(cli)


class LazyOfflineClassifier:
    """Loads the model on first use (after settings are known), then delegates."""

    name = "offline"

    def __init__(self, settings: Callable[[], IntentSettings | None] = lambda: None) -> None:
        self._settings = settings
        self._inner: OfflineClassifier | None = None

    def classify(self, message: str) -> IntentResult:
        if self._inner is None:
            self._inner = OfflineClassifier(NgramIntentModel.load(model_path(self._settings())))
        return self._inner.classify(message)


# -- training (``plugyard intents fit``) --------------------------------------------------------


def _macro_f1_by_language(
    rows: Sequence[dict[str, Any]], answers: Sequence[str], labels: Sequence[str], prefix: str
) -> dict[str, float]:
    gold = [r["intent"] for r in rows]
    out = {prefix: ngram.macro_f1(gold, answers, labels)}
    for lang in ("en", "zh"):
        pairs = [(a, r["intent"]) for a, r in zip(answers, rows, strict=True) if r.get("lang") == lang]
        if pairs:
            out[f"{prefix}_{lang}"] = ngram.macro_f1([g for _, g in pairs], [a for a, _ in pairs], labels)
    return out


def fingerprint(rows: Sequence[dict[str, Any]]) -> str:
    """A digest of labelled messages (text and intent, in order): a model's ``meta["data"]`` names
    what it was trained on."""
    pairs = [[r["text"], r["intent"]] for r in rows]
    return hashlib.sha256(json.dumps(pairs, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]


def fit(
    rows: Sequence[dict[str, Any]],
    *,
    folds: int = 5,
    held_out: Collection[str] = HELD_OUT_SPLITS,
    progress: Callable[[str, int, int], None] | None = None,
    **fit_options: Any,
) -> tuple[NgramIntentModel, dict[str, Any]]:
    """Train on ``rows`` whose split is not in ``held_out`` (by default every split but "test":
    train and dev alike) with the plugin's ``LEXICON``, tune the thresholds of the whole cascade on
    cross-validated predictions, and score the held-out rows when there are any.

    The report's ``cv_*`` figures are the cascade's macro-F1 on those cross-validated predictions
    (each message predicted by a model that never saw it; the thresholds were tuned on the same
    predictions, so they flatter a little).

    ``progress(stage, done, total)`` is called after every training epoch (``folds + 1`` models of
    ``epochs`` each: the cross-validation folds, then the final model), for a progress display."""
    train = [r for r in rows if r.get("split", "train") not in held_out]
    test = [r for r in rows if r.get("split") in held_out]
    texts, gold = [r["text"] for r in train], [r["intent"] for r in train]
    labels = sorted(set(gold))
    options = {"lexicon": LEXICON, **fit_options}
    rules = [rule_intent(t) for t in texts]
    epochs = int(options.get("epochs", 60))
    total, stage, done = (folds + 1) * epochs, [""], [0]

    def epoch() -> None:
        done[0] += 1
        if progress is not None:
            progress(stage[0], done[0], total)

    def fold(n: int) -> None:
        stage[0] = f"cross-validation fold {n} of {folds}"

    predictions = ngram.cross_validated(texts, gold, folds=folds, on_fold=fold, on_epoch=epoch, **options)
    thresholds = ngram.tune(predictions, gold, labels, rules=rules)
    stage[0] = "the final model"
    model = NgramIntentModel.fit(texts, gold, on_epoch=epoch, **options)
    model.thresholds = thresholds
    cv_answers = [ngram.decide(p, thresholds, r) for p, r in zip(predictions, rules, strict=True)]
    report: dict[str, Any] = {
        "train": len(train),
        "test": len(test),
        "threshold": thresholds.threshold,
        "margin": thresholds.margin,
        "features": len(model.weights),
        **_macro_f1_by_language(train, cv_answers, labels, "cv_macro_f1"),
    }
    if test:
        classifier = OfflineClassifier(model)
        decided = [classifier.classify(r["text"]) for r in test]
        answers = [d.intent if d.source != "offline:unsure" else "quick_task" for d in decided]
        report["accuracy"] = sum(a == r["intent"] for a, r in zip(answers, test, strict=True)) / len(test)
        report.update(_macro_f1_by_language(test, answers, labels, "macro_f1"))
    model.meta = {
        "trained_on": len(train),
        "data": fingerprint(train),
        **{k: v for k, v in report.items() if k != "features"},
    }
    return model, report
