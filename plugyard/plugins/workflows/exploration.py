"""ProgressiveExploration (deep_learning, skill_building): topic -> what the user's notes already hold
(search_notes) -> a path of levels, each with a goal, a checkpoint question and a fitting estimate.

A concept's levels go from what it is to using it; a skill's from the basics to a project, with daily
practice. A beginner starts at the first level with more time; an advanced learner skips it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from plugyard import Run, Workflow, WorkflowState, step

from .text import find_notes, is_chinese, request_lines, subject


class Level(BaseModel):
    level: int = Field(ge=1, le=10)
    title: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, max_length=500)
    checkpoint: str = Field(min_length=1, max_length=500)
    minutes: int = Field(default=45, ge=5, le=24 * 60)


class _ModelPath(BaseModel):
    levels: list[Level] = Field(min_length=2, max_length=6)


class ExplorationState(WorkflowState):
    topic: str = ""
    chinese: bool = False
    notes: list[dict[str, Any]] = Field(default_factory=list)
    levels: list[dict[str, Any]] = Field(default_factory=list)
    planned_by: str = ""
    model_failed: bool = False


# (title, goal, checkpoint, minutes); {t} is the topic.
_CONCEPT_EN = [
    (
        "Core idea of {t}",
        "State {t} in one sentence and give one everyday example.",
        "How would you explain {t} to a friend in two sentences?",
        30,
    ),
    (
        "Mechanics of {t}",
        "Trace the mechanism behind {t} step by step, on paper.",
        "What happens at each step of {t}, and why in that order?",
        45,
    ),
    (
        "Foundations of {t}",
        "Connect {t} to the ideas it rests on.",
        "What would break if one assumption behind {t} were false?",
        45,
    ),
    (
        "Applying {t}",
        "Apply {t} to a problem you have not seen.",
        "Solve a new problem with {t} and justify each step.",
        60,
    ),
]
_CONCEPT_ZH = [
    ("{t}是什么", "用一句话说清{t}，并举一个生活中的例子。", "你能用两句话向朋友解释{t}吗？", 30),
    ("{t}如何运作", "在纸上一步一步梳理{t}背后的机制。", "{t}的每一步发生了什么，为什么是这个顺序？", 45),
    ("{t}为什么成立", "把{t}和它依赖的基础概念联系起来。", "如果{t}背后的某个前提不成立，会怎样？", 45),
    ("运用{t}", "把{t}用到一个没见过的问题上。", "用{t}解决一道新题，并说明每一步的理由。", 60),
]
_SKILL_EN = [
    (
        "{t}: the basics",
        "Learn the fundamentals of {t} in short daily sessions for a week.",
        "Can you do the basic moves of {t} without looking anything up?",
        20,
    ),
    (
        "{t}: deliberate practice",
        "Practise the hardest part of {t} for 20 minutes a day, two weeks.",
        "Which part of {t} is still slow or error-prone, and what drill fixes it?",
        20,
    ),
    (
        "{t}: a real piece of work",
        "Use {t} in one small real project.",
        "What did the project teach you that drills did not?",
        90,
    ),
    (
        "{t}: review and stretch",
        "Review progress weekly and raise the difficulty.",
        "What is your next measurable target for {t}?",
        30,
    ),
]
_SKILL_ZH = [
    ("{t}入门", "用一周时间，每天短时间练习，掌握{t}的基础。", "不看资料，你能完成{t}的基本动作吗？", 20),
    ("{t}刻意练习", "连续两周，每天花 20 分钟练{t}中最难的部分。", "{t}里哪一部分还慢或容易错？用什么练习解决？", 20),
    ("{t}实战", "在一个真实的小项目里运用{t}。", "这次实战教会了你哪些练习没教会的东西？", 90),
    ("{t}复盘与提升", "每周复盘进度并提高难度。", "{t}的下一个可衡量的目标是什么？", 30),
]  # fmt: skip


def template_levels(topic: str, *, skill: bool, chinese: bool, level: str | None) -> list[dict[str, Any]]:
    template = (_SKILL_ZH if skill else _CONCEPT_ZH) if chinese else (_SKILL_EN if skill else _CONCEPT_EN)
    if level == "advanced":
        template = template[1:]
    stretch = 1.5 if level == "beginner" else 1.0
    return [
        {
            "level": i,
            "title": title.format(t=topic),
            "goal": goal.format(t=topic),
            "checkpoint": check.format(t=topic),
            "minutes": int(minutes * stretch),
        }
        for i, (title, goal, check, minutes) in enumerate(template, 1)
    ]


class ProgressiveExploration(Workflow):
    name = "ProgressiveExploration"
    intents = ("deep_learning", "skill_building")
    description = "Topic -> what your notes hold -> a path of levels, each with a checkpoint question."
    State = ExplorationState

    @step(start=True, next="recall_notes")
    async def identify(self, state: ExplorationState, run: Run) -> dict[str, Any]:
        return {"topic": subject(state), "chinese": is_chinese(state)}

    @step(next="build_path")
    async def recall_notes(self, state: ExplorationState, run: Run) -> dict[str, Any]:
        return {"notes": await find_notes(run, state.topic)}

    @step
    async def build_path(self, state: ExplorationState, run: Run) -> dict[str, Any]:
        skill = state.intent == "skill_building"
        levels = template_levels(state.topic, skill=skill, chinese=state.chinese, level=state.request.level)
        if state.notes:
            first = state.notes[0]
            note = (
                f"（从你的笔记 {first['path']} 开始）" if state.chinese else f" (start from your note {first['path']})"
            )
            levels[0]["goal"] += note
        if not run.model_available:
            return {"levels": levels, "planned_by": "template"}
        answer = await run.ask(
            "Design a progressive learning path of 3-5 levels for this request, each level with a goal, a "
            "checkpoint question and the minutes it takes.\n"
            f"{request_lines(state, 'skill' if skill else 'concept')}\n"
            f"Notes the learner already has: {[n['title'] for n in state.notes]}",
            _ModelPath,
        )
        if answer is None:
            return {"levels": levels, "planned_by": "template", "model_failed": True}
        return {"levels": [lv.model_dump() for lv in answer.levels], "planned_by": "model"}

    async def finalize(self, state: ExplorationState, status: str, run: Run) -> Mapping[str, Any] | None:
        if status != "succeeded" or not state.levels:
            return None
        zh = state.chinese
        labels = ["第一级", "第二级"] if zh else ["Level 1", "Level 2"]
        note_tool = run.tool_for("read_note") if state.notes else None
        cards = []
        for i, level in enumerate(state.levels[:2]):
            check = f"检验问题：{level['checkpoint']}" if zh else f"Checkpoint: {level['checkpoint']}"
            cards.append(
                {
                    "title": (f"{labels[i]}：{level['title']}" if zh else f"{labels[i]}: {level['title']}")[:200],
                    "description": f"{level['goal']}\n{check}",
                    "kind": ("practice" if state.intent == "skill_building" else "explore") if i == 0 else "study",
                    "estimated_minutes": int(level.get("minutes") or 45),
                    "priority": "high" if i == 0 else "medium",
                    "suggested_tool": note_tool if i == 0 else None,
                }
            )
        return {"cards": cards}

    def fallback_card(self, state: ExplorationState) -> Mapping[str, Any] | None:
        topic = subject(state)
        if state.chinese:
            return {
                "title": f"探索：{topic}"[:200],
                "description": f"写下你对{topic}已知的内容，再提一个问题。",
                "kind": "explore",
            }
        return {
            "title": f"Explore: {topic}"[:200],
            "description": f"Write down what you know about {topic}, then one question.",
            "kind": "explore",
        }
