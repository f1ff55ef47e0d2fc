"""TaskDecomposition (exam_preparation, task_decomposition): goal -> ordered subtasks with estimates
that fit the kind of request (``plans``), their total (calculate), notes that help (search_notes),
and a schedule up to the deadline when there is one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, Field

from plugyard import END, Run, Workflow, WorkflowState, branch, step

from .plans import hours_text, template_plan
from .text import find_notes, is_chinese, request_lines, subject, today_of

SESSION_MINUTES = 120
"""A card is one sitting: a bigger subtask's card is its first session."""


class Subtask(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    minutes: int = Field(ge=5, le=100_000)


class _ModelPlan(BaseModel):
    subtasks: list[Subtask] = Field(min_length=2, max_length=10)


class DecompositionState(WorkflowState):
    goal: str = ""
    topic: str = ""
    kind: str = ""
    chinese: bool = False
    deadline: date | None = None
    subtasks: list[dict[str, Any]] = Field(default_factory=list)
    planned_by: str = ""
    model_failed: bool = False
    """A model was asked for the plan and its answer did not validate: the template was used."""
    notes: list[dict[str, Any]] = Field(default_factory=list)
    total_hours: float | None = None
    schedule: list[dict[str, Any]] = Field(default_factory=list)


class TaskDecomposition(Workflow):
    name = "TaskDecomposition"
    intents = ("exam_preparation", "task_decomposition")
    description = "Goal -> ordered subtasks with estimates, helpful notes, and a schedule up to the deadline."
    State = DecompositionState

    @step(start=True, next="plan")
    async def understand(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        topic = subject(state)
        return {
            "topic": topic,
            "goal": state.request.goal or topic,
            "chinese": is_chinese(state),
            "deadline": state.request.deadline,
        }

    @step(next="gather_notes")
    async def plan(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        kind, subtasks = template_plan(
            state.intent,
            state.topic,
            "zh" if state.chinese else "en",
            today=today_of(state),
            deadline=state.deadline,
            level=state.request.level,
        )
        if run.model_available:
            answer = await run.ask(
                "Break this goal into 3-8 ordered subtasks, each with the realistic minutes it takes for this kind "
                f"of work (a thesis takes hundreds of hours, a party an afternoon).\n{request_lines(state, kind)}",
                _ModelPlan,
            )
            if answer is not None:
                return {"kind": kind, "subtasks": [s.model_dump() for s in answer.subtasks], "planned_by": "model"}
            return {"kind": kind, "subtasks": subtasks, "planned_by": "template", "model_failed": True}
        return {"kind": kind, "subtasks": subtasks, "planned_by": "template"}

    @step(next="estimate")
    async def gather_notes(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        return {"notes": await find_notes(run, state.topic)}

    @step(next=branch(lambda s: "schedule" if s.deadline else END, "schedule", END))
    async def estimate(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        minutes = " + ".join(str(s["minutes"]) for s in state.subtasks) or "0"
        result = await run.call("calculate", {"expression": f"({minutes}) / 60"}, required=False)
        hours = float(result["result"]) if result else sum(s["minutes"] for s in state.subtasks) / 60
        return {"total_hours": round(hours, 2)}

    @step
    async def schedule(self, state: DecompositionState, run: Run) -> dict[str, Any]:
        assert state.deadline is not None
        today = today_of(state)
        days = max(1, (state.deadline - today).days)
        total = sum(s["minutes"] for s in state.subtasks) or 1
        plan: list[dict[str, Any]] = []
        done = 0
        for task in state.subtasks:
            # Each subtask starts on the day its share of the work before it says, order kept.
            start = today + timedelta(days=min(days - 1, done * days // total))
            done += task["minutes"]
            finish = today + timedelta(days=max(0, min(days - 1, -(-done * days // total) - 1)))
            plan.append(
                {
                    "date": start.isoformat(),
                    "until": max(start, finish).isoformat(),
                    "task": task["title"],
                    "minutes": task["minutes"],
                }
            )
        return {"schedule": plan}

    async def finalize(self, state: DecompositionState, status: str, run: Run) -> Mapping[str, Any] | None:
        if status != "succeeded" or not state.subtasks:
            return None
        due = {item["task"]: item["until"] for item in state.schedule}
        language = "zh" if state.chinese else "en"
        notes_tool = run.tool_for("search_notes") if state.notes else None
        count = len(state.subtasks)
        cards = []
        for i, task in enumerate(state.subtasks[:3], 1):
            size = hours_text(task["minutes"], language)
            cards.append(
                {
                    "title": task["title"][:200],
                    "description": (
                        f"第 {i} 步（共 {count} 步，{size}），目标：{state.goal}"
                        if state.chinese
                        else f"Step {i} of {count} ({size}) towards: {state.goal}"
                    ),
                    "kind": "study" if state.intent == "exam_preparation" else "task",
                    "estimated_minutes": min(task["minutes"], SESSION_MINUTES),
                    "priority": "high" if i == 1 else "medium",
                    "due_date": due.get(task["title"]),
                    "suggested_tool": notes_tool,
                }
            )
        return {"cards": cards}

    def fallback_card(self, state: DecompositionState) -> Mapping[str, Any] | None:
        goal = state.goal or subject(state)
        if state.chinese:
            return {"title": f"开始：{goal}"[:200], "description": f"花 25 分钟完成第一步：{goal}"}
        return {"title": f"Start: {goal}"[:200], "description": f"Spend 25 minutes on the first step of: {goal}"}
