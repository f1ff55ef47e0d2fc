"""The assistant: ``assist``, ``classify_intent``, ``list_action_cards``, ``complete_action_card``
and ``resume_workflow``, as a built-in plugin.

It needs host internals (the registered classifiers and workflows, the store), so it lives in its own
package rather than in plugyard/plugins,
yet it is found through the ``plugyard`` entry-point group and uses the same hooks as any plugin
(and can be disabled in plugins.toml like any plugin). An assist request's journey:

1. every intent classifier answers; ``intents.classify`` combines them (confidence-weighted) and,
   below ``quick_task_threshold``, asks the fallback classifiers, then settles on quick_task;
2. an intent with a workflow (plugins.toml ``[plugins.assistant.workflows]``, else the first
   workflow declaring the intent) runs it through the engine, its steps' tool calls recorded with
   the run id; quick_task runs none and suggests the best matching tool;
3. ``cards.enforce_cards`` guarantees at least one valid card; cards are stored for the caller.

The language model (``core/llm``: Anthropic with an API key, else the MCP client's model through
sampling) is asked by the model classifier, by workflow steps and for cards; a question the
client's model answers with a retry of the call raises ``InputRequired``, let through
(see docs/architecture.md, "Input required").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field

from plugyard.assistant.store import WorkflowStore
from plugyard.core import cards as card_rules
from plugyard.core import intents, llm
from plugyard.core.builtins import RUN_WORKFLOW
from plugyard.core.calls import ToolContext
from plugyard.core.errors import InputRequired, ToolFailed
from plugyard.core.hookspecs import hookimpl
from plugyard.core.workflows import INPUT_REQUIRED, RegisteredWorkflow, RunResult, execute, record_input_required

if TYPE_CHECKING:
    from plugyard.core.host import PluginHost

log = logging.getLogger("plugyard.assistant")

ASKED = "A learner asked a study assistant:"
"""Who asked whom, opening the model's prompt for action cards."""


class AssistantSettings(BaseModel):
    quick_task_threshold: float = Field(intents.DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    """Below this combined confidence a message is treated as quick_task."""
    workflows: dict[str, str] = Field(default_factory=dict)
    """Intent -> workflow name, overriding the workflows' own declarations."""
    max_steps: int | None = Field(None, ge=1, le=1000)
    step_timeout: float | None = Field(None, gt=0)


# -- what the tools return (their structured output) -------------------------------------------


class Vote(BaseModel):
    classifier: str
    plugin: str
    intent: str
    confidence: float
    weight: float


class IntentVerdict(BaseModel):
    intent: str
    confidence: float
    language: Literal["en", "zh"]
    below_threshold: bool = Field(description="True when no intent was confident enough: treated as quick_task.")
    scores: dict[str, float]
    votes: list[Vote]


class StepCall(BaseModel):
    capability: str
    tool: str | None
    success: bool
    call_id: str | None = None
    error: str | None = None


class StepTaken(BaseModel):
    name: str
    duration_ms: float | None = None
    tools: list[StepCall]
    error: str | None = None


class Card(BaseModel):
    card_id: str
    title: str
    description: str
    kind: str
    estimated_minutes: int
    priority: str
    due_date: str | None
    suggested_tool: str | None
    status: str
    origin: str
    workflow_run_id: str | None
    created_at: str
    completed_at: str | None


class SuggestedTool(BaseModel):
    name: str
    description: str
    reason: str


class AssistResult(BaseModel):
    intent: IntentVerdict
    collaboration: bool = Field(description="True when a workflow ran for this request.")
    workflow: str | None
    run_id: str | None
    status: str | None = Field(description="succeeded, failed or step_limit; None without a workflow.")
    steps: list[StepTaken]
    result: dict[str, Any] = Field(description="What the workflow found (its final state, summarised).")
    suggested_tool: SuggestedTool | None
    cards: list[Card]
    cards_origin: Literal["workflow", "model", "fallback"]
    model: str | None = Field(description="The language model used: anthropic, sampling, or None.")


# -- quick tasks: the best matching tool ----------------------------------------------------------

_TOOL_HINTS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"(convert|換算|换算|\bto (km|miles?|celsius|fahrenheit|kelvin|grams?|minutes?|m/s)\b|等于多少)", re.I
        ),
        "convert_units",
    ),
    (
        re.compile(
            r"(\d\s*[-+*/^%]\s*\d|calculate|compute|factorial|sqrt|power|log\b|percent|%|计算|阶乘|次方|根号|对数|百分之|乘以|多少)",
            re.I,
        ),
        "calculate",
    ),
    (re.compile(r"(open|read)\b.{0,12}\bnotes?\b|打开.{0,12}笔记", re.I), "read_note"),
    (re.compile(r"\blist\b.{0,6}\bnotes\b|列出.{0,4}笔记", re.I), "list_notes"),
    (re.compile(r"(notes?\b|笔记)", re.I), "search_notes"),
    (re.compile(r"(traceback|error|exception|报错|错误)", re.I), "parse_traceback"),
]


def suggest_tool(message: str, host: PluginHost, *, own: str | None = None) -> SuggestedTool | None:
    """The registered tool that best fits a quick request: hints first, then shared words (never a
    tool of plugin ``own``, the assistant itself)."""
    for pattern, name in _TOOL_HINTS:
        tool = host.tools.get(name)
        if tool is not None and pattern.search(message):
            return SuggestedTool(name=name, description=tool.description.split("\n")[0], reason="matches the request")
    words = {w for w in re.findall(r"[a-z]{4,}", message.lower())}
    best: tuple[int, str] | None = None
    for tool in host.tools:
        if tool.plugin == own:
            continue
        text = f"{tool.name} {tool.description}".lower()
        score = sum(1 for w in words if w in text)
        if score and (best is None or score > best[0]):
            best = (score, tool.name)
    if best is None:
        return None
    tool = host.tools.get(best[1])
    assert tool is not None
    return SuggestedTool(name=tool.name, description=tool.description.split("\n")[0], reason="shares words with it")


# -- the plugin ----------------------------------------------------------------------------------


class AssistantPlugin:
    """Classifies, runs workflows, enforces and stores action cards."""

    def __init__(self) -> None:
        self.host: PluginHost | None = None
        self.store: WorkflowStore | None = None
        self.settings = AssistantSettings()
        self.name: str | None = None
        """The name the host loaded this plugin under (known once it started)."""

    @hookimpl
    def plugin_settings(self) -> type[AssistantSettings]:
        return AssistantSettings

    @hookimpl
    def register_tools(self, register: Callable[..., None]) -> None:
        # run_workflow: the host's run_<workflow> prompts point the client's model at assist.
        register(self.assist, name="assist", timeout=300, open_world=False, capabilities=[RUN_WORKFLOW])
        register(self.classify_intent, name="classify_intent", read_only=True, idempotent=True)
        register(self.list_action_cards, name="list_action_cards", read_only=True)
        register(self.complete_action_card, name="complete_action_card", idempotent=True)
        register(self.resume_workflow, name="resume_workflow", timeout=300)

    @hookimpl
    def startup(self, host: PluginHost) -> object:
        return self._start(host)

    async def _start(self, host: PluginHost) -> None:
        self.host = host
        self.name = host.name_of(self)
        self.settings = host.settings_for(self.name) or AssistantSettings()
        names = {w.name for w in host.workflows}
        for intent, workflow in self.settings.workflows.items():
            if workflow not in names:
                log.warning(
                    "[plugins.assistant.workflows] maps %r to workflow %r, which no plugin registered (known: %s)",
                    intent,
                    workflow,
                    ", ".join(sorted(names)) or "none",
                )
        self.store = await WorkflowStore.open(host.config.database_url)

    @hookimpl
    def shutdown(self, host: PluginHost) -> object:
        return self._stop()

    async def _stop(self) -> None:
        if self.store is not None:
            await self.store.close()
            self.store = None

    def _ready(self) -> tuple[PluginHost, WorkflowStore]:
        if self.host is None or self.store is None:
            raise RuntimeError("the assistant is not started (its startup hook has not run)")
        return self.host, self.store

    # -- classification --------------------------------------------------------------------

    async def _classify(self, message: str) -> IntentVerdict:
        host, _ = self._ready()
        verdict = await intents.classify(host.classifiers, message, threshold=self.settings.quick_task_threshold)
        return IntentVerdict(
            intent=verdict.intent,
            confidence=verdict.confidence,
            language="zh" if intents.detect_language(message) == "zh" else "en",
            below_threshold=verdict.below_threshold,
            scores=verdict.scores,
            votes=[Vote(**v) for v in verdict.votes],
        )

    def workflow_for(self, intent: str) -> RegisteredWorkflow | None:
        host, _ = self._ready()
        wanted = self.settings.workflows.get(intent)
        if wanted is not None:
            chosen = next((w for w in host.workflows if w.name == wanted), None)
            if chosen is not None:
                return chosen
        return next((w for w in host.workflows if intent in w.intents), None)

    # -- tools -----------------------------------------------------------------------------

    async def classify_intent(
        self, message: Annotated[str, Field(min_length=1, max_length=20_000, description="The user's request.")]
    ) -> IntentVerdict:
        """Classify a request (English or Chinese) into one of the assistant's intents:
        exam_preparation, task_decomposition, error_diagnosis, deep_learning (understanding a concept
        in depth), skill_building or quick_task, with the confidence and each classifier's vote."""
        return await self._classify(message)

    async def assist(
        self,
        message: Annotated[
            str, Field(min_length=1, max_length=20_000, description="What the user asks, in English or Chinese.")
        ],
        ctx: ToolContext,
    ) -> AssistResult:
        """The collaboration assistant: classifies the request, runs the workflow that handles its
        intent (task decomposition, progressive exploration or error diagnosis) with the tools it
        needs, and returns the steps taken and action cards (stored; see list_action_cards).
        Quick tasks run no workflow: the best matching tool is suggested instead."""
        host, store = self._ready()
        await ctx.report_progress(0, None, "classifying the request")
        verdict = await self._classify(message)
        registered = None if verdict.intent == "quick_task" else self.workflow_for(verdict.intent)
        if registered is None:
            return await self._quick(message, verdict, ctx)
        await ctx.report_progress(0, None, f"running {registered.name}")
        result = await execute(
            registered.workflow,
            host=host,
            user_id=ctx.user_id,
            session_id=ctx.session_id,
            message=message,
            intent=verdict.intent,
            plugin=registered.plugin,
            store=store,
            progress=ctx.report_progress,
            max_steps=self.settings.max_steps,
            step_timeout=self.settings.step_timeout,
        )
        return await self._conclude(registered, result, verdict, message, ctx)

    async def resume_workflow(
        self,
        run_id: Annotated[str, Field(min_length=1, max_length=64, description="The run_id assist returned.")],
        ctx: ToolContext,
    ) -> AssistResult:
        """Resume an interrupted workflow run of yours from its last checkpoint."""
        host, store = self._ready()
        row = await store.get_run(run_id)
        if row is None or row["user_id"] != ctx.user_id:
            raise ToolFailed(f"no workflow run {run_id!r} for this user")
        if row["status"] == INPUT_REQUIRED:
            raise ToolFailed(
                f"workflow run {run_id!r} stopped to ask the client's model; the client's retry ran the workflow "
                "again as a new run, so there is nothing to resume"
            )
        if row["status"] not in ("running", "interrupted"):
            raise ToolFailed(f"workflow run {run_id!r} already ended ({row['status']}); nothing to resume")
        registered = next((w for w in host.workflows if w.name == row["workflow"]), None)
        if registered is None:
            raise ToolFailed(f"workflow {row['workflow']!r} is not registered any more; enable its plugin")
        verdict = await self._classify(row["message"])
        result = await execute(
            registered.workflow,
            host=host,
            user_id=ctx.user_id,
            session_id=ctx.session_id,
            message=row["message"],
            intent=row["intent"],
            plugin=registered.plugin,
            store=store,
            progress=ctx.report_progress,
            resume=row,
            max_steps=self.settings.max_steps,
            step_timeout=self.settings.step_timeout,
        )
        return await self._conclude(registered, result, verdict, row["message"], ctx, resume=row)

    async def list_action_cards(
        self,
        ctx: ToolContext,
        status: Annotated[
            Literal["open", "done"] | None, Field(description="Only cards with this status (default: all).")
        ] = None,
    ) -> list[Card]:
        """Your action cards, newest first (only the caller's own cards)."""
        _, store = self._ready()
        return [Card(**c) for c in await store.list_cards(ctx.user_id, status)]

    async def complete_action_card(
        self,
        card_id: Annotated[str, Field(min_length=1, max_length=64, description="The card_id of one of your cards.")],
        ctx: ToolContext,
    ) -> Card:
        """Mark one of your action cards done."""
        _, store = self._ready()
        card = await store.complete_card(ctx.user_id, card_id)
        if card is None:
            raise ToolFailed(f"you have no action card {card_id!r}; list_action_cards shows yours")
        return Card(**card)

    # -- endings ---------------------------------------------------------------------------

    async def _conclude(
        self,
        registered: RegisteredWorkflow,
        result: RunResult,
        verdict: IntentVerdict,
        message: str,
        ctx: ToolContext,
        *,
        resume: dict[str, Any] | None = None,
    ) -> AssistResult:
        host, store = self._ready()
        workflow = registered.workflow
        summary = workflow.summary(result.state)
        try:
            enforced = await card_rules.enforce_cards(
                result.state.cards,
                run_id=result.run_id,
                message=message,
                workflow=workflow.name,
                state_summary=summary,
                fallback=lambda: workflow.fallback_card(result.state),
                known_tools=lambda name: name in host.tools,
                asked=ASKED,
            )
        except InputRequired as exc:
            # The client's model was asked for the cards: this round's run is not the complete one
            # (see docs/architecture.md, "Input required").
            await record_input_required(
                store,
                result.run_id,
                resume=resume,
                steps=result.steps,
                state=result.state.model_dump(mode="json"),
                next_step=None,
                duration_ms=result.duration_ms,
                error=exc,
            )
            raise
        stored = await store.add_cards(
            ctx.user_id,
            [c.model_dump(exclude={"source_run_id"}) for c in enforced.cards],
            workflow_run_id=result.run_id,
            origin=enforced.origin,
        )
        return AssistResult(
            intent=verdict,
            collaboration=True,
            workflow=workflow.name,
            run_id=result.run_id,
            status=result.status,
            steps=[
                StepTaken(
                    name=s["name"],
                    duration_ms=s.get("duration_ms"),
                    tools=[StepCall(**{k: c.get(k) for k in StepCall.model_fields}) for c in s.get("tools", [])],
                    error=s.get("error"),
                )
                for s in result.steps
            ],
            result={**summary, **({"error": result.error_message} if result.error_message else {})},
            suggested_tool=None,
            cards=[Card(**c) for c in stored],
            cards_origin=enforced.origin,
            model=llm.backend(),
        )

    async def _quick(self, message: str, verdict: IntentVerdict, ctx: ToolContext) -> AssistResult:
        host, store = self._ready()
        suggestion = suggest_tool(message, host, own=self.name)
        produced = []
        if suggestion is not None:
            produced.append(
                {
                    "title": f"Use {suggestion.name}",
                    "description": f"{suggestion.description}\nRequest: {message[:500]}",
                    "kind": "tool",
                    "estimated_minutes": 1,
                    "priority": "low",
                    "suggested_tool": suggestion.name,
                }
            )
        enforced = await card_rules.enforce_cards(
            produced,
            run_id=None,
            message=message,
            workflow=None,
            state_summary={"intent": verdict.intent},
            known_tools=lambda name: name in host.tools,
            asked=ASKED,
        )
        stored = await store.add_cards(
            ctx.user_id,
            [c.model_dump(exclude={"source_run_id"}) for c in enforced.cards],
            workflow_run_id=None,
            origin=enforced.origin,
        )
        return AssistResult(
            intent=verdict,
            collaboration=False,
            workflow=None,
            run_id=None,
            status=None,
            steps=[],
            result={},
            suggested_tool=suggestion,
            cards=[Card(**c) for c in stored],
            cards_origin=enforced.origin,
            model=llm.backend(),
        )
