"""ErrorDiagnosis (error_diagnosis): error text or traceback -> parsed error (diagnose_error), likely
causes, fix steps, and related notes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from plugyard import Run, Workflow, WorkflowState, branch, step

from .text import find_notes, is_chinese, request_lines, subject


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
    planned_by: str = ""
    """template (the parsed error's advice or the symptom rules) or model (the model refined it)."""
    model_failed: bool = False


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
            return {"chinese": is_chinese(state), "parsed": False, "planned_by": "template"}
        user = result.get("user_frame")
        return {
            "planned_by": "template",
            "chinese": is_chinese(state),
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
                return {
                    "summary": state.message[:200],
                    "likely_causes": causes,
                    "fix_steps": fixes,
                    "planned_by": "template",
                }
        return {
            "summary": state.message[:200],
            "likely_causes": list(_GENERIC_CAUSES),
            "fix_steps": list(_GENERIC_FIX),
            "planned_by": "template",
        }

    @step(next="related_notes")
    async def explain(self, state: DiagnosisState, run: Run) -> dict[str, Any] | None:
        if not run.model_available:
            return None
        answer = await run.ask(
            "A learner hit this error. Give the likely causes and concrete fix steps, in the learner's language.\n"
            f"{request_lines(state, 'error')}\nParsed: {state.summary}\nKnown causes: {state.likely_causes}",
            _ModelFix,
        )
        if answer is None:
            return {"model_failed": True}
        return {"likely_causes": answer.likely_causes, "fix_steps": answer.fix_steps, "planned_by": "model"}

    @step
    async def related_notes(self, state: DiagnosisState, run: Run) -> dict[str, Any]:
        return {"notes": await find_notes(run, state.exception_type or subject(state))}

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
                "suggested_tool": run.tool_for("diagnose_error") if not state.parsed else None,
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
