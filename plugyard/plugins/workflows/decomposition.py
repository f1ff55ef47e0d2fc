"""TaskDecomposition (exam_preparation, task_decomposition): goal -> ordered subtasks with estimates,
their total (calculate), notes that help (search_notes), and a day-by-day schedule up to the deadline."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from plugyard import END, Run, Workflow, WorkflowState, branch, step

from .text import find_notes, is_chinese, parse_deadline, topic_of


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
