"""Quick tasks, run: the first tool that answers from the message (through the pipeline, recorded
with intent quick_task), else the tools worth suggesting. What each capability reads and how its
answer is worded is in ``quick``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pydantic_core

from plugyard.assistant import quick
from plugyard.assistant.results import QuickAnswer, SuggestedTool
from plugyard.core.calls import ToolContext
from plugyard.core.errors import InputRequired, UnknownTool
from plugyard.core.intents import detect_language

if TYPE_CHECKING:
    from plugyard.core.host import PluginHost

SUGGESTION_CONFIDENCE = 0.5
"""A tool is suggested for a quick task only when it fits at least this well (``quick.suggestion_score``)."""


async def answer(host: PluginHost, message: str, ctx: ToolContext) -> QuickAnswer | None:
    """The first answer a tool gives from the message (an answerer reads its arguments, the host
    picks the tool offering the capability), else the last tool's error, else None."""
    failed: QuickAnswer | None = None
    for answerer in quick.ANSWERERS:
        arguments = answerer.read(message)
        if arguments is None:
            continue
        try:
            tool = host.choose_tool(answerer.capability, user_id=ctx.user_id, intent="quick_task")
        except UnknownTool:
            continue
        if tool.plugin == ctx.plugin_name:
            continue
        outcome = await host.pipeline.call(
            tool.name, arguments, user_id=ctx.user_id, session_id=ctx.session_id, intent="quick_task"
        )
        if outcome.error is not None and isinstance(outcome.error.__cause__, InputRequired):
            raise outcome.error.__cause__
        language = "zh" if detect_language(message) == "zh" else "en"
        if outcome.success:
            result = pydantic_core.to_jsonable_python(outcome.result)
            text = answerer.render(result, language)
            return QuickAnswer(
                capability=answerer.capability,
                tool=tool.name,
                arguments=arguments,
                success=True,
                text=text,
                result=result,
                call_id=outcome.call.call_id,
            )
        failed = QuickAnswer(
            capability=answerer.capability,
            tool=tool.name,
            arguments=arguments,
            success=False,
            text=f"{tool.name}: {outcome.error_message}",
            call_id=outcome.call.call_id,
        )
    return failed


def suggest(host: PluginHost, message: str, own_plugin: str) -> list[SuggestedTool]:
    """Tools that declare a capability and fit the request with confidence, best first (at most 3)."""
    scored = []
    for tool in host.tools:
        if tool.plugin == own_plugin or not tool.capabilities:
            continue
        score = quick.suggestion_score(message, tool)
        if score >= SUGGESTION_CONFIDENCE:
            scored.append((score, tool))
    scored.sort(key=lambda pair: -pair[0])
    return [
        SuggestedTool(
            name=tool.name,
            description=tool.description.split("\n")[0],
            reason="its capability matches the request" if score >= 0.8 else "shares the request's words",
            confidence=score,
        )
        for score, tool in scored[:3]
    ]
