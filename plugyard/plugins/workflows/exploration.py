"""ProgressiveExploration (deep_learning, skill_building): topic -> what the user's notes already hold
(search_notes) -> a path of levels, each with a checkpoint question."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from plugyard import Run, Workflow, WorkflowState, step

from .text import find_notes, is_chinese, topic_of


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
