"""The assistant as a built-in plugin: ``assist``, ``classify_intent``, ``list_action_cards``,
``complete_action_card`` and ``resume_workflow``.

It is found through the ``plugyard`` entry-point group, uses the same hooks as any plugin and can be
disabled in plugins.toml. An assist request's journey is told in docs/architecture.md; in short:
classify (``intents.classify``), read the request (``reading``: topic, goal, deadline, level; the
caller's arguments win), then a quick task is answered by a tool when one can (``quick``), else a
workflow runs with the request, and the cards it ends with (``cards``) are stored without repeats
(``store``). The answer is the structured result (``results``) and a Markdown block (``markdown``).
A question to the client's model may stop the call (``InputRequired``): see docs/architecture.md,
"Input required".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, Field

from plugyard.assistant import answering
from plugyard.assistant.cards import EnforcedCards, enforce_cards
from plugyard.assistant.markdown import render
from plugyard.assistant.reading import Reading, read
from plugyard.assistant.results import (
    AssistResult,
    Card,
    CardPage,
    IntentVerdict,
    Request,
    StepCall,
    StepTaken,
    Vote,
)
from plugyard.assistant.store import WorkflowStore
from plugyard.core import intents, llm
from plugyard.core.builtins import RUN_WORKFLOW
from plugyard.core.calls import ToolContext
from plugyard.core.content import ToolResult
from plugyard.core.errors import InputRequired, ToolFailed
from plugyard.core.hookspecs import hookimpl
from plugyard.core.workflows import (
    INPUT_REQUIRED,
    RegisteredWorkflow,
    RunResult,
    WorkflowRequest,
    execute,
    record_input_required,
)

if TYPE_CHECKING:
    from plugyard.core.host import PluginHost

log = logging.getLogger("plugyard.assistant")

LevelArg = Literal["beginner", "intermediate", "advanced"]


class AssistantSettings(BaseModel):
    quick_task_threshold: float = Field(intents.DEFAULT_THRESHOLD, ge=0.0, le=1.0)
    """Below this combined confidence a message is treated as quick_task."""
    workflows: dict[str, str] = Field(default_factory=dict)
    """Intent -> workflow name, overriding the workflows' own declarations."""
    max_steps: int | None = Field(None, ge=1, le=1000)
    step_timeout: float | None = Field(None, gt=0)


def _as_result(out: AssistResult) -> ToolResult:
    return ToolResult(content=[render(out)], structured=out)


def _cards(stored: list[dict[str, Any]]) -> list[Card]:
    return [Card(**card) for card in stored]


class AssistantPlugin:
    """Classifies, reads, answers or runs workflows, enforces and stores action cards.

    ``today`` (a callable) is the day relative dates count from: tests pass a fixed one."""

    def __init__(self, *, today: Callable[[], date] | None = None) -> None:
        self.host: PluginHost | None = None
        self.store: WorkflowStore | None = None
        self.settings = AssistantSettings()
        self.name: str | None = None
        """The name the host loaded this plugin under (known once it started)."""
        self.today = today or date.today

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
                    "[plugins.%s.workflows] maps %r to workflow %r, which no plugin registered (known: %s)",
                    self.name,
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

    # -- classification and reading ----------------------------------------------------------

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
        topic: Annotated[
            str | None,
            Field(
                max_length=200,
                description="The subject, as a short noun phrase without dates or cue words "
                "(e.g. 'physics', 'TCP congestion control', '递归'). Read from the message when omitted.",
            ),
        ] = None,
        goal: Annotated[
            str | None,
            Field(max_length=300, description="What the user wants done (e.g. 'pass the physics exam')."),
        ] = None,
        deadline: Annotated[
            date | None,
            Field(description="The day it must be done by, YYYY-MM-DD. Read from the message when omitted."),
        ] = None,
        level: Annotated[
            LevelArg | None, Field(description="The user's level: beginner, intermediate or advanced.")
        ] = None,
    ) -> Annotated[ToolResult, AssistResult]:
        """The study assistant: reads the request (its topic, goal, deadline and the learner's level,
        English or Chinese), then answers a quick task with the tool that can (a calculation, a unit
        conversion, a traceback, a note lookup), or runs the workflow that fits (an exam or project
        plan with a schedule, a learning path, an error diagnosis) and returns its plan, the steps
        taken and action cards (stored without repeats; see list_action_cards), with a Markdown
        summary. Pass topic, goal, deadline or level when you know them: given ones win."""
        host, store = self._ready()
        await ctx.report_progress(0, None, "classifying the request")
        verdict = await self._classify(message)
        given = {"topic": topic, "goal": goal, "deadline": deadline, "level": level}
        reading = read(message, verdict.intent, today=self.today(), **given)  # type: ignore[arg-type]
        request = Request(
            topic=reading.topic,
            goal=reading.goal,
            deadline=reading.deadline.isoformat() if reading.deadline else None,
            level=reading.level,
            language=reading.language,
            given=[name for name, value in given.items() if value],
        )
        registered = None if verdict.intent == "quick_task" else self.workflow_for(verdict.intent)
        if registered is None:
            return _as_result(await self._quick(message, verdict, request, ctx))
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
            request=self._workflow_request(reading),
        )
        return _as_result(await self._conclude(registered, result, verdict, request, message, ctx))

    def _workflow_request(self, reading: Reading) -> WorkflowRequest:
        return WorkflowRequest(
            topic=reading.topic,
            goal=reading.goal,
            deadline=reading.deadline,
            level=reading.level,
            language=reading.language,
            today=self.today(),
        )

    async def resume_workflow(
        self,
        run_id: Annotated[str, Field(min_length=1, max_length=64, description="The run_id assist returned.")],
        ctx: ToolContext,
    ) -> Annotated[ToolResult, AssistResult]:
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
        saved = WorkflowRequest.model_validate((row["state"] or {}).get("request") or {})
        request = Request(
            topic=saved.topic,
            goal=saved.goal,
            deadline=saved.deadline.isoformat() if saved.deadline else None,
            level=saved.level,
            language=saved.language,
            given=[],
        )
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
        return _as_result(await self._conclude(registered, result, verdict, request, row["message"], ctx, resume=row))

    async def list_action_cards(
        self,
        ctx: ToolContext,
        status: Annotated[
            Literal["open", "done"] | None, Field(description="Only cards with this status (default: all).")
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="At most this many cards.")] = 20,
        offset: Annotated[int, Field(ge=0, description="Skip this many (the next page: offset + limit).")] = 0,
    ) -> CardPage:
        """Your action cards, newest (stored or refreshed) first, a page at a time, with how many
        there are in all (only the caller's own cards)."""
        _, store = self._ready()
        page, total = await store.list_cards(ctx.user_id, status, limit=limit, offset=offset)
        return CardPage(cards=_cards(page), total=total, limit=limit, offset=offset)

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

    def _known_tool(self, name: str) -> bool:
        host, _ = self._ready()
        return name in host.tools

    async def _conclude(
        self,
        registered: RegisteredWorkflow,
        result: RunResult,
        verdict: IntentVerdict,
        request: Request,
        message: str,
        ctx: ToolContext,
        *,
        resume: dict[str, Any] | None = None,
    ) -> AssistResult:
        _, store = self._ready()
        workflow = registered.workflow
        summary = workflow.summary(result.state)
        try:
            enforced = await enforce_cards(
                result.state.cards,
                run_id=result.run_id,
                message=message,
                workflow=workflow.name,
                state_summary=summary,
                fallback=lambda: workflow.fallback_card(result.state),
                known_tools=self._known_tool,
            )
        except InputRequired as exc:
            # The client's model was asked for the cards (2026-07-28): the retry runs the workflow
            # again, so this round's run is not the complete one.
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
        stored = await self._store_cards(ctx.user_id, enforced, result.run_id)
        planned_by = "model" if summary.get("planned_by") == "model" else "template"
        used_model = planned_by == "model" or enforced.origin == "model"
        return AssistResult(
            intent=verdict,
            request=request,
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
            answer=None,
            suggested_tool=None,
            suggestions=[],
            cards=_cards(stored),
            cards_origin=enforced.origin,
            planned_by=planned_by,
            model=llm.backend() if used_model else None,
            model_note=self._model_note(summary, enforced),
        )

    @staticmethod
    def _model_note(summary: dict[str, Any], enforced: EnforcedCards) -> str | None:
        if not summary.get("model_failed"):
            return None
        backend = llm.backend() or "the model"
        return f"{backend} was asked for the plan but its answer did not validate: the templates were used"

    async def _store_cards(self, user_id: str, enforced: EnforcedCards, run_id: str | None) -> list[dict[str, Any]]:
        _, store = self._ready()
        return await store.add_cards(
            user_id,
            [c.model_dump(exclude={"source_run_id"}) for c in enforced.cards],
            workflow_run_id=run_id,
            origin=enforced.origin,
        )

    # -- quick tasks -------------------------------------------------------------------------

    async def _quick(self, message: str, verdict: IntentVerdict, request: Request, ctx: ToolContext) -> AssistResult:
        host, _ = self._ready()
        answer = await answering.answer(host, message, ctx)
        suggestions = [] if answer is not None and answer.success else answering.suggest(host, message, ctx.plugin_name)
        stored: list[dict[str, Any]] = []
        origin: Literal["workflow", "model", "fallback", "none"] = "none"
        if answer is None or not answer.success:
            produced = [
                {
                    "title": f"使用 {s.name}" if request.language == "zh" else f"Use {s.name}",
                    "description": f"{s.description}\nRequest: {message[:500]}",
                    "kind": "tool",
                    "estimated_minutes": 5,
                    "priority": "low",
                    "suggested_tool": s.name,
                }
                for s in suggestions[:1]
            ]
            enforced = await enforce_cards(
                produced,
                run_id=None,
                message=message,
                workflow=None,
                state_summary={"intent": verdict.intent, "topic": request.topic},
                known_tools=self._known_tool,
            )
            stored, origin = await self._store_cards(ctx.user_id, enforced, None), enforced.origin
        return AssistResult(
            intent=verdict,
            request=request,
            collaboration=False,
            workflow=None,
            run_id=None,
            status=None,
            steps=[],
            result={},
            answer=answer,
            suggested_tool=suggestions[0] if suggestions else None,
            suggestions=suggestions,
            cards=_cards(stored),
            cards_origin=origin,
            planned_by="tool" if answer is not None and answer.success else "none",
            model=llm.backend() if origin == "model" else None,
            model_note=None,
        )
