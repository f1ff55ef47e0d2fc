"""The study assistant's three collaboration workflows, as first-party plugins.

- TaskDecomposition (exam_preparation, task_decomposition): goal -> ordered subtasks with estimates,
  their total (calculate), notes that help (search_notes), and a day-by-day schedule up to the
  deadline when the message gives one.
- ProgressiveExploration (deep_learning, skill_building): topic -> what the user's notes already
  hold (search_notes) -> a path of levels, each with a checkpoint question.
- ErrorDiagnosis (error_diagnosis): error text or traceback -> parsed error (diagnose_error),
  likely causes, fix steps, and related notes.

Each works without a language model (templates in English and Chinese) and uses one when the host
has one (``run.model_available``), keeping the deterministic result when the model's answer does
not validate.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from plugyard import (
    END,
    Run,
    Workflow,
    WorkflowState,
    branch,
    detect_language,
    hookimpl,
    step,
)

# -- shared helpers -----------------------------------------------------------------------------

_STOP = {
    "help",
    "me",
    "my",
    "the",
    "a",
    "an",
    "to",
    "for",
    "and",
    "of",
    "in",
    "on",
    "how",
    "what",
    "why",
    "do",
    "i",
    "want",
    "need",
    "can",
    "you",
    "with",
    "into",
    "is",
    "it",
    "this",
    "that",
    "get",
    "make",
    "give",
    "please",
    "prepare",
    "preparing",
    "exam",
    "final",
    "finals",
    "test",
    "plan",
    "break",
    "down",
    "understand",
    "really",
    "explain",
    "learn",
    "better",
    "improve",
    "next",
    "week",
    "month",
    "days",
    "steps",
    "step",
    "tasks",
    "task",
    "deep",
    "depth",
    "truly",
    "study",
    "about",
    "from",
    "should",
    "does",
    "work",
    "works",
    "at",
    "by",
}
_ZH_FILLER = re.compile(
    r"(帮我|请|我想|我要|我的|怎么|如何|怎样|一下|深入|理解|彻底|搞懂|准备|复习|考试|期末|期中|计划|拆分|分解|"
    r"提高|提升|学习|练习|能力|的|了|吗|呢|？|\?|，|。|！)"
)


def is_chinese(text: str) -> bool:
    return detect_language(text) == "zh"


def topic_of(message: str) -> str:
    """A short topic phrase: the message without requests and filler words."""
    if is_chinese(message):
        topic = _ZH_FILLER.sub(" ", message)
        parts = [p for p in re.split(r"\s+", topic) if p]
        return max(parts, key=len)[:20] if parts else message[:20]
    words = [w for w in re.findall(r"[A-Za-z][A-Za-z0-9+#.-]*", message) if w.lower() not in _STOP]
    return " ".join(words[:4]) or message[:40]


def note_query(topic: str) -> str:
    """search_notes wants every word to match: the most telling single word of the topic."""
    if is_chinese(topic):
        return topic[:4]
    words = sorted(topic.split(), key=len, reverse=True)
    return words[0].lower() if words else topic


async def find_notes(run: Run, topic: str) -> list[dict[str, Any]]:
    query = note_query(topic)
    if not query.strip() or not run.has_capability("search_notes"):
        return []
    found = await run.call("search_notes", {"query": query, "limit": 5}, required=False)
    return [{"path": n["path"], "title": n["title"], "snippet": n["snippet"]} for n in found or []]


_WEEKDAYS = {
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
    "一": 0,
    "二": 1,
    "三": 2,
    "四": 3,
    "五": 4,
    "六": 5,
    "日": 6,
    "天": 6,
    "末": 5,
}
_MONTHS = {
    m: i
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ],
        1,
    )
}
_ZH_NUM = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    if text in _ZH_NUM:
        return _ZH_NUM[text]
    if text in {"one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"}:
        return ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"].index(text) + 1
    return None


def parse_deadline(message: str, today: date) -> date | None:
    """A deadline stated in the message (English or Chinese), or None: the first of the readers below
    that finds one, most explicit first."""
    text = message.lower()
    for read in _DEADLINE_READERS:
        found = read(text, today)
        if found is not None:
            return found
    return None


def _this_or_next_year(today: date, month: int, day: int) -> date:
    d = date(today.year, month, day)
    return d if d >= today else date(today.year + 1, d.month, d.day)


def _iso_date(text: str, today: date) -> date | None:
    m = re.search(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    return date(int(m[1]), int(m[2]), int(m[3])) if m else None


def _month_day(text: str, today: date) -> date | None:
    if m := re.search(r"\b(" + "|".join(_MONTHS) + r")\s+(\d{1,2})(st|nd|rd|th)?\b", text):
        return _this_or_next_year(today, _MONTHS[m[1]], int(m[2]))
    if m := re.search(r"(\d{1,2})月(\d{1,2})[日号]", text):
        return _this_or_next_year(today, int(m[1]), int(m[2]))
    return None


def _tomorrow(text: str, today: date) -> date | None:
    return today + timedelta(days=1) if re.search(r"\b(tomorrow)\b|明天|明早", text) else None


def _in_so_many(text: str, today: date) -> date | None:
    """In N days, weeks or months (一两二... in Chinese)."""
    if m := re.search(r"\bin (\w+) (day|week|month)s?\b", text):
        n = _number(m[1])
        if n:
            return today + timedelta(days=n * {"day": 1, "week": 7, "month": 30}[m[2]])
    if m := re.search(r"(\d+|[一两二三四五六七八九十])(天|周|个?星期|个月)", text):
        n = _number(m[1])
        if n:
            return today + timedelta(days=n * (1 if m[2] == "天" else 30 if m[2].endswith("月") else 7))
    return None


def _weekday(text: str, today: date) -> date | None:
    if m := re.search(r"\b(next )?(monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", text):
        ahead = (_WEEKDAYS[m[2]] - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead + (7 if m[1] and ahead < 7 - today.weekday() else 0))
    if m := re.search(r"(下周|下星期|周|星期)([一二三四五六日天末])", text):
        ahead = (_WEEKDAYS[m[2]] - today.weekday()) % 7 or 7
        if m[1] in ("下周", "下星期"):
            ahead = 7 - today.weekday() + _WEEKDAYS[m[2]]
        return today + timedelta(days=ahead)
    return None


def _next_week_or_month_end(text: str, today: date) -> date | None:
    if re.search(r"next week|下周", text):
        return today + timedelta(days=7)
    if re.search(r"end of (the )?month|月底", text):
        return date(today.year + (today.month == 12), today.month % 12 + 1, 1) - timedelta(days=1)
    return None


_DEADLINE_READERS: tuple[Callable[[str, date], date | None], ...] = (
    _iso_date,
    _month_day,
    _tomorrow,
    _in_so_many,
    _weekday,
    _next_week_or_month_end,
)


# -- TaskDecomposition --------------------------------------------------------------------------


class Subtask(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    minutes: int = Field(ge=5, le=24 * 60)


class _ModelPlan(BaseModel):
    subtasks: list[Subtask] = Field(min_length=2, max_length=10)


class DecompositionState(WorkflowState):
    goal: str = ""
    chinese: bool = False
    deadline: date | None = None
    subtasks: list[dict[str, Any]] = Field(default_factory=list)
    planned_by: str = ""
    notes: list[dict[str, Any]] = Field(default_factory=list)
    total_hours: float | None = None
    schedule: list[dict[str, Any]] = Field(default_factory=list)


_EXAM_EN = [
    ("Collect the syllabus, past papers and your notes for {t}", 30),
    ("Summarise each topic of {t} on one page", 120),
    ("Work through practice problems on the weakest topics", 150),
    ("Take a timed mock exam", 120),
    ("Review every mistake and re-do those problems", 60),
]
_EXAM_ZH = [
    ("整理{t}的考试大纲、往年真题和笔记", 30),
    ("把{t}每个知识点总结成一页提纲", 120),
    ("针对薄弱知识点做练习题", 150),
    ("限时完成一套模拟题", 120),
    ("复盘错题并重做", 60),
]
_TASK_EN = [
    ("Define what 'done' means for {t}", 20),
    ("Gather what you need for {t}: materials, tools, references", 60),
    ("Build a first rough version of {t}", 180),
    ("Review it and fix the biggest gaps", 90),
    ("Finish, polish and deliver {t}", 60),
]
_TASK_ZH = [
    ("明确{t}的完成标准", 20),
    ("收集{t}需要的资料和工具", 60),
    ("完成{t}的第一版初稿", 180),
    ("检查并补上最大的缺口", 90),
    ("收尾、润色并交付{t}", 60),
]


class TaskDecomposition(Workflow):
    name = "TaskDecomposition"
    intents = ("exam_preparation", "task_decomposition")
    description = "Goal -> ordered subtasks with estimates, helpful notes, and a schedule up to the deadline."
    State = DecompositionState

    @step(start=True, next="plan")
    async def understand(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        return {
            "goal": topic_of(state.message),
            "chinese": is_chinese(state.message),
            "deadline": parse_deadline(state.message, date.today()),
        }

    @step(next="gather_notes")
    async def plan(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        if run.model_available:
            answer = await run.ask(
                f"Break this goal into 3-8 ordered subtasks with realistic minutes each, in the language of the "
                f"request.\nRequest: {state.message}",
                _ModelPlan,
            )
            if answer is not None:
                return {"subtasks": [s.model_dump() for s in answer.subtasks], "planned_by": "model"}
        exam = state.intent == "exam_preparation"
        template = (_EXAM_ZH if exam else _TASK_ZH) if state.chinese else (_EXAM_EN if exam else _TASK_EN)
        return {
            "subtasks": [{"title": t.format(t=state.goal), "minutes": m} for t, m in template],
            "planned_by": "template",
        }

    @step(next="estimate")
    async def gather_notes(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        return {"notes": await find_notes(run, state.goal)}

    @step(next=branch(lambda s: "schedule" if s.deadline else END, "schedule", END))
    async def estimate(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        minutes = " + ".join(str(s["minutes"]) for s in state.subtasks) or "0"
        result = await run.call("calculate", {"expression": f"({minutes}) / 60"}, required=False)
        hours = float(result["result"]) if result else sum(s["minutes"] for s in state.subtasks) / 60
        return {"total_hours": round(hours, 2)}

    @step
    async def schedule(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        assert state.deadline is not None
        today = date.today()
        days = max(1, (state.deadline - today).days)
        plan: list[dict[str, Any]] = []
        for i, task in enumerate(state.subtasks):
            # Spread the subtasks evenly over the days left, keeping their order.
            day = today + timedelta(days=min(days - 1, i * days // max(1, len(state.subtasks))))
            plan.append({"date": day.isoformat(), "task": task["title"], "minutes": task["minutes"]})
        return {"schedule": plan}

    async def finalize(self, state: DecompositionState, status: str, run: Run) -> Mapping[str, Any] | None:
        if status != "succeeded" or not state.subtasks:
            return None
        due = {item["task"]: item["date"] for item in state.schedule}
        cards = [
            {
                "title": task["title"][:200],
                "description": (
                    f"第 {i} 步（共 {len(state.subtasks)} 步），目标：{state.goal}"
                    if state.chinese
                    else f"Step {i} of {len(state.subtasks)} towards: {state.goal}"
                ),
                "kind": "study" if state.intent == "exam_preparation" else "task",
                "estimated_minutes": task["minutes"],
                "priority": "high" if i == 1 else "medium",
                "due_date": due.get(task["title"]),
                "suggested_tool": "search_notes" if state.notes else None,
            }
            for i, task in enumerate(state.subtasks[:3], 1)
        ]
        return {"cards": cards}

    def fallback_card(self, state: DecompositionState) -> Mapping[str, Any] | None:
        goal = state.goal or state.message[:80]
        return {"title": f"Start: {goal}"[:200], "description": f"Spend 25 minutes on the first step of: {goal}"}


# -- ProgressiveExploration ---------------------------------------------------------------------


class Level(BaseModel):
    level: int = Field(ge=1, le=10)
    title: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, max_length=500)
    checkpoint: str = Field(min_length=1, max_length=500)


class _ModelPath(BaseModel):
    levels: list[Level] = Field(min_length=2, max_length=6)


class ExplorationState(WorkflowState):
    topic: str = ""
    chinese: bool = False
    notes: list[dict[str, Any]] = Field(default_factory=list)
    levels: list[dict[str, Any]] = Field(default_factory=list)
    built_by: str = ""


_CONCEPT_EN = [
    (
        "What {t} is",
        "State {t} in one sentence and give one everyday example.",
        "How would you explain {t} to a friend in two sentences?",
    ),
    (
        "How {t} works",
        "Trace the mechanism behind {t} step by step.",
        "What happens at each step of {t}, and why in that order?",
    ),
    (
        "Why it holds",
        "Connect {t} to the ideas it rests on.",
        "What would break if one assumption behind {t} were false?",
    ),
    ("Using it", "Apply {t} to a problem you have not seen.", "Solve a new problem with {t} and justify each step."),
]
_CONCEPT_ZH = [
    ("{t}是什么", "用一句话说清{t}，并举一个生活中的例子。", "你能用两句话向朋友解释{t}吗？"),
    ("{t}如何运作", "一步一步梳理{t}背后的机制。", "{t}的每一步发生了什么，为什么是这个顺序？"),
    ("为什么成立", "把{t}和它依赖的基础概念联系起来。", "如果{t}背后的某个前提不成立，会怎样？"),
    ("应用", "把{t}用到一个没见过的问题上。", "用{t}解决一道新题，并说明每一步的理由。"),
]
_SKILL_EN = [
    (
        "Basics of {t}",
        "Learn the fundamentals of {t} with short daily sessions.",
        "Can you do the basic moves of {t} without looking anything up?",
    ),
    (
        "Deliberate practice",
        "Practise the hardest part of {t} for 20 minutes a day.",
        "Which part of {t} is still slow or error-prone, and what drill fixes it?",
    ),
    ("A small project", "Use {t} in a small real project.", "What did the project teach you that drills did not?"),
    (
        "Review and stretch",
        "Review progress weekly and raise the difficulty.",
        "What is your next measurable target for {t}?",
    ),
]
_SKILL_ZH = [
    ("{t}入门", "每天短时间练习，掌握{t}的基础。", "不看资料，你能完成{t}的基本操作吗？"),
    ("刻意练习", "每天花20分钟练{t}中最难的部分。", "{t}里哪一部分还慢或容易错？用什么练习解决？"),
    ("小项目", "在一个真实的小项目里使用{t}。", "这个项目教会了你哪些练习没教会的东西？"),
    ("复盘与提升", "每周复盘进度并提高难度。", "{t}的下一个可衡量的目标是什么？"),
]


class ProgressiveExploration(Workflow):
    name = "ProgressiveExploration"
    intents = ("deep_learning", "skill_building")
    description = "Topic -> what your notes hold -> a path of levels, each with a checkpoint question."
    State = ExplorationState

    @step(start=True, next="recall_notes")
    async def identify(self, state: ExplorationState, run: Run) -> dict[str, Any]:
        return {"topic": topic_of(state.message), "chinese": is_chinese(state.message)}

    @step(next="build_path")
    async def recall_notes(self, state: ExplorationState, run: Run) -> dict[str, Any]:
        return {"notes": await find_notes(run, state.topic)}

    @step
    async def build_path(self, state: ExplorationState, run: Run) -> dict[str, Any]:
        if run.model_available:
            answer = await run.ask(
                "Design a progressive learning path of 3-5 levels for this request, each level with a goal and a "
                f"checkpoint question, in the language of the request.\nRequest: {state.message}\n"
                f"Notes the learner already has: {[n['title'] for n in state.notes]}",
                _ModelPath,
            )
            if answer is not None:
                return {"levels": [lv.model_dump() for lv in answer.levels], "built_by": "model"}
        skill = state.intent == "skill_building"
        template = (_SKILL_ZH if skill else _CONCEPT_ZH) if state.chinese else (_SKILL_EN if skill else _CONCEPT_EN)
        levels: list[dict[str, Any]] = [
            {
                "level": i,
                "title": t.format(t=state.topic),
                "goal": g.format(t=state.topic),
                "checkpoint": c.format(t=state.topic),
            }
            for i, (t, g, c) in enumerate(template, 1)
        ]
        if state.notes:
            first = state.notes[0]
            levels[0]["goal"] += f" (start from your note {first['path']})"
        return {"levels": levels, "built_by": "template"}

    async def finalize(self, state: ExplorationState, status: str, run: Run) -> Mapping[str, Any] | None:
        if status != "succeeded" or not state.levels:
            return None
        first, second = state.levels[0], state.levels[1] if len(state.levels) > 1 else None
        cards = [
            {
                "title": f"Level 1: {first['title']}"[:200] if not state.chinese else f"第一级：{first['title']}"[:200],
                "description": f"{first['goal']}\nCheckpoint: {first['checkpoint']}"
                if not state.chinese
                else f"{first['goal']}\n检验问题：{first['checkpoint']}",
                "kind": "practice" if state.intent == "skill_building" else "explore",
                "estimated_minutes": 30,
                "priority": "high",
                "suggested_tool": "read_note" if state.notes else None,
            }
        ]
        if second is not None:
            cards.append(
                {
                    "title": (f"Level 2: {second['title']}" if not state.chinese else f"第二级：{second['title']}")[
                        :200
                    ],
                    "description": second["goal"],
                    "kind": "study",
                    "estimated_minutes": 45,
                    "priority": "medium",
                }
            )
        return {"cards": cards}

    def fallback_card(self, state: ExplorationState) -> Mapping[str, Any] | None:
        topic = state.topic or state.message[:80]
        return {
            "title": f"Explore: {topic}"[:200],
            "description": f"Write down what you know about {topic}, then one question.",
            "kind": "explore",
        }


# -- ErrorDiagnosis -----------------------------------------------------------------------------


class _ModelFix(BaseModel):
    likely_causes: list[str] = Field(min_length=1, max_length=6)
    fix_steps: list[str] = Field(min_length=1, max_length=8)


class DiagnosisState(WorkflowState):
    chinese: bool = False
    parsed: bool = False
    exception_type: str | None = None
    error_message: str | None = None
    summary: str = ""
    location: str | None = None
    likely_causes: list[str] = Field(default_factory=list)
    fix_steps: list[str] = Field(default_factory=list)
    notes: list[dict[str, Any]] = Field(default_factory=list)
    refined_by: str = ""


_SYMPTOMS: list[tuple[re.Pattern[str], list[str], list[str]]] = [
    (
        re.compile(r"(never ends|hangs|infinite|卡死|一直不停|死循环)", re.I),
        ["A loop condition that never becomes false", "A blocking call waiting forever"],
        ["Print the loop variable each iteration", "Check the condition is updated inside the loop", "Add a timeout"],
    ),
    (
        re.compile(r"(segmentation fault|段错误|null ?pointer|空指针)", re.I),
        ["Dereferencing a null or freed pointer", "Writing past the end of an array"],
        ["Run under a debugger (gdb) or sanitizer", "Check every pointer before use"],
    ),
    (
        re.compile(r"(404|not found|找不到|不存在)", re.I),
        ["A wrong path, name or URL", "The resource was never created or is elsewhere"],
        ["Print the exact path or URL used", "List what exists at that location"],
    ),
    (
        re.compile(r"(permission|权限)", re.I),
        ["The process lacks rights to that file or directory"],
        ["Use a virtual environment or user install instead of system-wide", "Check file ownership and mode"],
    ),
    (
        re.compile(r"(memory|显存|内存|exit(s|ed)? .*137|退出码\s*137)", re.I),
        ["The program needs more memory than available (killed by the OS or the GPU)"],
        ["Process data in smaller batches", "Free references you no longer need", "Measure peak memory"],
    ),
]
_GENERIC_CAUSES = ["An assumption about the input or state does not hold where the error appears"]
_GENERIC_FIX = [
    "Reproduce the error with the smallest input you can",
    "Print the values involved just before the failing line",
    "Compare them with what the code expects, then fix the first difference",
]


class ErrorDiagnosis(Workflow):
    name = "ErrorDiagnosis"
    intents = ("error_diagnosis",)
    description = "Error text or traceback -> parsed error, likely causes, fix steps, related notes."
    State = DiagnosisState

    @step(start=True, next=branch(lambda s: "explain" if s.parsed else "symptoms", "explain", "symptoms"))
    async def parse(self, state: DiagnosisState, run: Run) -> dict[str, Any]:
        result = await run.call("diagnose_error", {"text": state.message}, required=False)
        if not result:
            return {"chinese": is_chinese(state.message), "parsed": False}
        user = result.get("user_frame")
        return {
            "chinese": is_chinese(state.message),
            "parsed": True,
            "exception_type": result["exception_type"],
            "error_message": result["message"],
            "summary": result["summary"],
            "location": f"{user['file']}:{user['line']}" if user else None,
            "likely_causes": list(result["likely_causes"]) or list(_GENERIC_CAUSES),
            "fix_steps": list(result["suggestions"]) or list(_GENERIC_FIX),
        }

    @step(next="related_notes")
    async def symptoms(self, state: DiagnosisState, run: Run) -> dict[str, Any]:
        for pattern, causes, fixes in _SYMPTOMS:
            if pattern.search(state.message):
                return {"summary": state.message[:200], "likely_causes": causes, "fix_steps": fixes}
        return {"summary": state.message[:200], "likely_causes": list(_GENERIC_CAUSES), "fix_steps": list(_GENERIC_FIX)}

    @step(next="related_notes")
    async def explain(self, state: DiagnosisState, run: Run) -> dict[str, Any] | None:
        if not run.model_available:
            return None
        answer = await run.ask(
            "A learner hit this error. Give the likely causes and concrete fix steps, in the learner's language.\n"
            f"Message: {state.message}\nParsed: {state.summary}\nKnown causes: {state.likely_causes}",
            _ModelFix,
        )
        if answer is None:
            return None
        return {"likely_causes": answer.likely_causes, "fix_steps": answer.fix_steps, "refined_by": "model"}

    @step
    async def related_notes(self, state: DiagnosisState, run: Run) -> dict[str, Any]:
        subject = state.exception_type or topic_of(state.message)
        return {"notes": await find_notes(run, subject)}

    async def finalize(self, state: DiagnosisState, status: str, run: Run) -> Mapping[str, Any] | None:
        if status != "succeeded" or not state.fix_steps:
            return None
        what = state.exception_type or ("这个错误" if state.chinese else "the error")
        where = f" at {state.location}" if state.location else ""
        cards = [
            {
                "title": (f"修复 {what}{where}" if state.chinese else f"Fix {what}{where}")[:200],
                "description": "\n".join(f"{i}. {s}" for i, s in enumerate(state.fix_steps, 1)),
                "kind": "fix",
                "estimated_minutes": 20,
                "priority": "high",
                "suggested_tool": "parse_traceback" if not state.parsed else None,
            },
            {
                "title": "写一个能复现错误的小测试" if state.chinese else "Write a test that reproduces the error",
                "description": "A failing test first, then the fix, so the error cannot come back unnoticed."
                if not state.chinese
                else "先写一个会失败的测试，再修复，这样错误不会悄悄回来。",
                "kind": "practice",
                "estimated_minutes": 15,
                "priority": "medium",
            },
        ]
        return {"cards": cards}

    def fallback_card(self, state: DiagnosisState) -> Mapping[str, Any] | None:
        return {"title": "Reproduce the error", "description": "\n".join(_GENERIC_FIX), "kind": "fix"}


@hookimpl
def register_workflows(register: Callable[..., None]) -> None:
    register(TaskDecomposition)
    register(ProgressiveExploration)
    register(ErrorDiagnosis)
