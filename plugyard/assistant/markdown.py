"""The Markdown block ``assist`` returns beside its structured result: what a client can show as is,
in the learner's language."""

from __future__ import annotations

from typing import Any

from plugyard.assistant.results import AssistResult, Card

_LABELS = {
    "en": {
        "plan": "Plan", "path": "Learning path", "fix": "Fixing", "answer": "Answer", "goal": "Goal",
        "deadline": "Deadline", "none": "none", "total": "Total", "schedule": "Schedule", "notes": "From your notes",
        "cards": "Next steps", "causes": "Likely causes", "steps": "Fix steps", "suggest": "Tools that can help",
        "by": "Planned by", "model": "the language model", "template": "templates", "tool": "the tool",
        "kept": "already on your list, refreshed", "due": "due", "check": "Checkpoint", "min": "min",
        "level": "Level", "failed": "Workflow stopped", "quick": "Quick task",
    },
    "zh": {
        "plan": "计划", "path": "学习路径", "fix": "排查", "answer": "答案", "goal": "目标", "deadline": "截止日期",
        "none": "无", "total": "合计", "schedule": "日程", "notes": "你的相关笔记", "cards": "下一步",
        "causes": "可能的原因", "steps": "修复步骤", "suggest": "可以用的工具", "by": "生成方式", "model": "语言模型",
        "template": "模板", "tool": "工具", "kept": "已在你的清单上，已更新", "due": "截止", "check": "检验问题",
        "min": "分钟", "level": "级别", "failed": "工作流中断", "quick": "快速任务",
    },
}  # fmt: skip


def _card_line(card: Card, words: dict[str, str]) -> str:
    extra = [f"{card.estimated_minutes} {words['min']}"]
    if card.due_date:
        extra.append(f"{words['due']} {card.due_date}")
    if card.suggested_tool:
        extra.append(f"`{card.suggested_tool}`")
    if card.refreshed:
        extra.append(words["kept"])
    return f"- [ ] **{card.title}** ({', '.join(extra)})"


def _hours(minutes: int, words: dict[str, str]) -> str:
    return f"{minutes} {words['min']}" if minutes < 90 else f"{minutes / 60:.1f} h"


def _body(out: AssistResult, words: dict[str, str]) -> list[str]:
    found: dict[str, Any] = out.result
    lines: list[str] = []
    if found.get("subtasks"):
        for i, task in enumerate(found["subtasks"], 1):
            lines.append(f"{i}. {task['title']} ({_hours(int(task['minutes']), words)})")
        if found.get("total_hours") is not None:
            lines.append(f"\n{words['total']}: {found['total_hours']} h")
    if found.get("schedule"):
        lines += ["", f"**{words['schedule']}**", ""]
        lines += [f"- {item['date']}: {item['task']}" for item in found["schedule"]]
    if found.get("levels"):
        for level in found["levels"]:
            lines.append(f"{level['level']}. **{level['title']}**: {level['goal']}")
            lines.append(f"   - {words['check']}: {level['checkpoint']}")
    if found.get("fix_steps"):
        if found.get("summary"):
            lines += [f"`{found['summary']}`", ""]
        lines += [f"**{words['causes']}**", ""] + [f"- {c}" for c in found.get("likely_causes", [])]
        lines += ["", f"**{words['steps']}**", ""] + [f"{i}. {s}" for i, s in enumerate(found["fix_steps"], 1)]
    if found.get("notes"):
        lines += ["", f"**{words['notes']}**", ""] + [f"- `{n['path']}`: {n['title']}" for n in found["notes"]]
    return lines


def render(out: AssistResult) -> str:
    """The whole result as Markdown."""
    words = _LABELS[out.request.language]
    lines: list[str] = []
    if out.answer is not None:
        lines += [f"**{words['answer']}**: {out.answer.text}" if out.answer.success else out.answer.text]
        lines.append(f"\n_`{out.answer.tool}` ({out.answer.capability})_")
    elif not out.collaboration:
        lines.append(f"## {words['quick']}: {out.request.topic}")
    else:
        heading = {"ProgressiveExploration": "path", "ErrorDiagnosis": "fix"}.get(out.workflow or "", "plan")
        lines.append(f"## {words[heading]}: {out.request.topic}")
        facts = [f"{words['goal']}: {out.request.goal}"]
        facts.append(f"{words['deadline']}: {out.request.deadline or words['none']}")
        if out.request.level:
            facts.append(f"{words['level']}: {out.request.level}")
        lines += ["", " · ".join(facts), ""]
        if out.status not in (None, "succeeded"):
            lines += [f"> {words['failed']}: {out.status} {out.result.get('error', '')}".rstrip(), ""]
        lines += _body(out, words)
    if out.suggestions:
        lines += ["", f"**{words['suggest']}**", ""]
        lines += [f"- `{s.name}`: {s.description}" for s in out.suggestions]
    if out.cards:
        lines += ["", f"**{words['cards']}**", ""] + [_card_line(c, words) for c in out.cards]
    if out.collaboration:
        by = words.get(out.planned_by, out.planned_by)
        note = f" ({out.model_note})" if out.model_note else ""
        lines += ["", f"_{words['by']}: {by}{note}_"]
    return "\n".join(lines).strip() + "\n"
