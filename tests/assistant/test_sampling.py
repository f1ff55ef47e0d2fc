"""The assistant reaching the MCP client's model through sampling, on both protocol versions.

- 2025-11-25 (``mode="legacy"``): each question is a ``sampling/createMessage`` request mid-call.
- 2026-07-28 (the SDK client's default): each unanswered question ends the call with
  ``InputRequiredResult``; the client answers with its sampling callback and retries; ``assist`` runs
  again from the top, asks the same questions in the same order and finds the answers. Every round
  is a recorded ``assist`` call (those that stopped to ask: error_type InputRequired); a workflow run
  a round interrupted is left ``input_required`` and the last round makes one complete run; tool
  calls the interrupted round's steps made stay recorded under the interrupted run's id.

Plus the engine on its own (a stand-in sampler) and a real ``plugyard serve`` over stdio.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import CreateMessageResult, TextContent
from pydantic import Field

from plugyard import InputRequired, Run, Workflow, WorkflowState, ask_model_text, hookimpl, step
from plugyard.assistant.store import WorkflowStore
from plugyard.core import llm
from plugyard.core.workflows import execute
from plugyard.mcp_server.server import PlugyardServer
from tests.conftest import query, rows, subprocess_env, write_config
from tests.core.test_workflows import Tools as EngineTools

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]

TRACE = (
    'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
    "    xs[5]\nIndexError: list index out of range"
)
FIX = {"likely_causes": ["xs has fewer than six items"], "fix_steps": ["Print len(xs)", "Index below len(xs)"]}
PLAN = {"subtasks": [{"title": "Read chapter 1", "minutes": 40}, {"title": "Do exercises 1-10", "minutes": 60}]}
CARDS = {"cards": [{"title": "Write down one question", "description": "Then ask it again.", "kind": "explore"}]}
VERDICT = {"intent": "skill_building", "confidence": 1.0}


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(autouse=True)
def _no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    # With a key the Anthropic API would answer before the client's model is considered.
    monkeypatch.delenv(llm.API_KEY_ENV, raising=False)


class ClientModel:
    """The client's sampling callback: answers by what the prompt asks, and remembers the prompts."""

    def __init__(self, answer_everything: str | None = None) -> None:
        self.asked: list[str] = []
        self.answer_everything = answer_everything

    def answer(self, prompt: str) -> str:
        if self.answer_everything is not None:
            return self.answer_everything
        if "Classify a learner's message" in prompt:
            return json.dumps(VERDICT)
        if "subtasks" in prompt:
            return json.dumps(PLAN)
        if "likely causes" in prompt:
            return f"Here you go:\n```json\n{json.dumps(FIX)}\n```"
        if "action cards" in prompt:
            return json.dumps(CARDS)
        return "I cannot help"

    async def __call__(self, context: Any, params: Any) -> CreateMessageResult:
        prompt = params.messages[0].content.text
        self.asked.append(prompt)
        return CreateMessageResult(
            role="assistant", content=TextContent(type="text", text=self.answer(prompt)), model="client-model"
        )


async def assist_calls(db_url: str) -> list[tuple[bool, str | None]]:
    found = await query(db_url, "SELECT success, error_type FROM tool_call WHERE tool_name = 'assist' ORDER BY id")
    return [(bool(r["success"]), r["error_type"]) for r in found]


async def runs(db_url: str) -> list[dict[str, Any]]:
    return await query(db_url, "SELECT run_id, status, step_count, next_step, error_type FROM workflow_run ORDER BY id")


def rounds(mode: str, questions: int) -> list[tuple[bool, str | None]]:
    """The assist calls recorded: one on a handshake session; one per question, then the answer, on 2026-07-28."""
    asked = [] if mode == "legacy" else [(False, "InputRequired")] * questions
    return [*asked, (True, None)]


async def test_the_clients_model_plans_the_workflow(assistant_host, db_url, mode):
    model = ClientModel()
    async with (
        assistant_host() as host,
        Client(PlugyardServer(host), mode=mode, sampling_callback=model) as client,
    ):
        reply = await client.call_tool("assist", {"message": "Help me prepare for my calculus final next Friday"})
        # Workflow runs are written at once (tool calls go through the recorder: read those after the session).
        found = await runs(db_url)
        refused = await client.call_tool("resume_workflow", {"run_id": found[0]["run_id"]})
    assert not reply.is_error, reply.content
    out = reply.structured_content
    assert out["model"] == "sampling" and out["status"] == "succeeded"
    assert out["result"]["planned_by"] == "model"
    assert [s["title"] for s in out["result"]["subtasks"]] == ["Read chapter 1", "Do exercises 1-10"]
    assert out["cards"][0]["title"] == "Read chapter 1" and out["cards_origin"] == "workflow"
    # One question, asked once: the retry found its answer instead of asking again.
    assert len(model.asked) == 1 and "JSON schema" in model.asked[0]
    assert await assist_calls(db_url) == rounds(mode, 1)
    if mode == "auto":
        # The first round stopped in `plan`: its run keeps the checkpoint it reached, for reading only.
        assert [(r["status"], r["step_count"], r["next_step"], r["error_type"]) for r in found] == [
            ("input_required", 2, "plan", "InputRequired"),
            ("succeeded", len(out["steps"]), None, None),
        ]
        assert refused.is_error and "stopped to ask the client's model" in refused.content[0].text
    else:
        assert [r["status"] for r in found] == ["succeeded"]
        assert refused.is_error and "already ended (succeeded)" in refused.content[0].text
    assert found[-1]["run_id"] == out["run_id"]
    cards = await query(db_url, "SELECT DISTINCT workflow_run_id FROM action_card")
    assert cards == [{"workflow_run_id": out["run_id"]}]


async def test_tool_calls_of_the_interrupted_round_stay_recorded(assistant_host, db_url, mode):
    model = ClientModel()
    async with (
        assistant_host() as host,
        Client(PlugyardServer(host), mode=mode, sampling_callback=model) as client,
    ):
        out = (await client.call_tool("assist", {"message": TRACE})).structured_content
    assert out["workflow"] == "ErrorDiagnosis" and out["status"] == "succeeded"
    assert out["result"]["planned_by"] == "model" and out["result"]["fix_steps"] == FIX["fix_steps"]
    assert out["cards"][0]["description"] == "1. Print len(xs)\n2. Index below len(xs)"
    assert len(model.asked) == 1 and "likely causes" in model.asked[0]
    assert await assist_calls(db_url) == rounds(mode, 1)
    found = await runs(db_url)
    final = found[-1]["run_id"]
    assert final == out["run_id"]
    steps = await query(db_url, "SELECT tool_name, workflow_run_id FROM tool_call WHERE workflow_run_id IS NOT NULL")
    by_run = [(r["workflow_run_id"], r["tool_name"]) for r in steps]
    assert sorted(t for r, t in by_run if r == final) == ["parse_traceback", "search_notes"]
    if mode == "auto":
        first = found[0]["run_id"]
        assert [(r["status"], r["step_count"], r["next_step"]) for r in found] == [
            ("input_required", 2, "explain"),
            ("succeeded", 3, None),
        ]
        # `parse` called its tool before `explain` asked: a real call, recorded under the first run.
        assert [t for r, t in by_run if r == first] == ["parse_traceback"]
        assert len(by_run) == 3
    else:
        assert [r["status"] for r in found] == ["succeeded"] and len(by_run) == 2


async def test_the_clients_model_classifies_and_writes_the_cards(assistant_host, db_url, mode):
    """Above every offline confidence (threshold 0.99) the model classifier is asked; a quick task
    without a matching tool gets its cards from the model: two questions, in that order."""
    model = ClientModel()
    async with (
        assistant_host(quick_task_threshold=0.99) as host,
        Client(PlugyardServer(host), mode=mode, sampling_callback=model) as client,
    ):
        out = (await client.call_tool("assist", {"message": "hmm"})).structured_content
    assert {"classifier": "model", "plugin": "intents_llm", "intent": "skill_building", "confidence": 1.0} in [
        {k: v for k, v in vote.items() if k != "weight"} for vote in out["intent"]["votes"]
    ]
    assert out["intent"]["intent"] == "quick_task" and out["suggested_tool"] is None
    assert out["cards_origin"] == "model"
    assert [(c["title"], c["kind"], c["origin"]) for c in out["cards"]] == [
        ("Write down one question", "explore", "model")
    ]
    assert ["Classify a learner's message" in model.asked[0], "action cards" in model.asked[1]] == [True, True]
    assert len(model.asked) == 2
    assert await assist_calls(db_url) == rounds(mode, 2)
    assert await runs(db_url) == []


@pytest.mark.parametrize("message", ["帮我准备数学期末考试", "hmm"])
async def test_a_malformed_sampled_answer_still_ends_with_valid_cards(assistant_host, db_url, mode, message):
    model = ClientModel(answer_everything="{not json")
    async with (
        assistant_host(quick_task_threshold=0.99 if message == "hmm" else 0.45) as host,
        Client(PlugyardServer(host), mode=mode, sampling_callback=model) as client,
    ):
        out = (await client.call_tool("assist", {"message": message})).structured_content
    # The client's model was asked, but nothing it said is in the result: the result says so.
    assert out["model"] is None
    assert out["cards"] and all(c["title"] and c["description"] and c["status"] == "open" for c in out["cards"])
    if message == "hmm":
        # The classifier's answer and the cards' did not validate: no model vote, the generic card.
        assert [v["classifier"] for v in out["intent"]["votes"]] == ["offline"]
        assert out["cards_origin"] == "fallback" and out["cards"][0]["title"] == "Next step: hmm"
        assert len(model.asked) == 2
    else:
        assert out["status"] == "succeeded" and out["result"]["planned_by"] == "template"
        assert out["planned_by"] == "template" and out["result"]["model_failed"] is True
        assert out["model_note"] == (
            "sampling was asked for the plan but its answer did not validate: the templates were used"
        )
        assert out["cards_origin"] == "workflow" and len(model.asked) == 1
    assert await assist_calls(db_url) == rounds(mode, len(model.asked))


async def test_a_client_without_sampling_gets_the_deterministic_path(assistant_host, db_url, mode):
    async with assistant_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        planned = (
            await client.call_tool("assist", {"message": "Help me prepare for my calculus final next Friday"})
        ).structured_content
    async with assistant_host(quick_task_threshold=0.99) as host, Client(PlugyardServer(host), mode=mode) as client:
        quick = (await client.call_tool("assist", {"message": "hmm"})).structured_content
    assert planned["model"] is None and planned["result"]["planned_by"] == "template"
    assert planned["status"] == "succeeded" and planned["cards_origin"] == "workflow"
    assert quick["model"] is None and [v["classifier"] for v in quick["intent"]["votes"]] == ["offline"]
    assert quick["cards_origin"] == "fallback"
    assert await assist_calls(db_url) == [(True, None), (True, None)]
    assert [r["status"] for r in await runs(db_url)] == ["succeeded"]


async def test_classify_intent_asks_the_clients_model_too(assistant_host, db_url, mode):
    model = ClientModel()
    async with (
        assistant_host(quick_task_threshold=0.99) as host,
        Client(PlugyardServer(host), mode=mode, sampling_callback=model) as client,
    ):
        out = (await client.call_tool("classify_intent", {"message": "hmm"})).structured_content
    assert [v["classifier"] for v in out["votes"]] == ["offline", "model"]
    assert out["votes"][1]["intent"] == "skill_building" and len(model.asked) == 1
    calls = await query(db_url, "SELECT error_type FROM tool_call WHERE tool_name = 'classify_intent' ORDER BY id")
    assert [c["error_type"] for c in calls] == ([None] if mode == "legacy" else ["InputRequired", None])


# -- the engine alone: a stand-in for the 2026-07-28 channel -------------------------------------


class Pending:
    """A ``core.llm.Sampler`` that answers only the prompts it was given answers for, and raises
    ``InputRequired`` for any other (as the MCP channel does on 2026-07-28 before the client's retry)."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}
        self.asked: list[str] = []

    def can_sample(self) -> bool:
        return True

    async def sample(self, prompt: str, *, system: str | None, max_tokens: int, temperature: float | None) -> str:
        self.asked.append(prompt)
        if prompt not in self.answers:
            raise InputRequired(f"waiting for an answer to {prompt!r}")
        return self.answers[prompt]


class Trail(WorkflowState):
    n: int = 0
    said: list[str] = Field(default_factory=list)
    finalized: str | None = None


async def muse(topic: str) -> str:
    """Asks the host's model through the public face, as a plugin tool would."""
    return await ask_model_text(f"muse on {topic}") or "silence"


class Tools(EngineTools):
    """The engine tests' adding tool, and one that asks the model."""

    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        super().register_tools(register)
        register(muse, capabilities=["musing"])


class AsksTheModel(Workflow):
    """Calls a tool, asks the model itself, then calls a tool that asks the model."""

    name = "AsksTheModel"
    State = Trail

    @step(start=True, next="ask")
    async def add(self, state: Trail, run: Run) -> dict[str, Any]:
        return {"n": await run.call("adding", {"a": 2, "b": 3})}

    @step(next="nested")
    async def ask(self, state: Trail, run: Run) -> dict[str, Any]:
        return {"said": [*state.said, await run.complete(f"what follows {state.n}?") or "none"]}

    @step
    async def nested(self, state: Trail, run: Run) -> dict[str, Any]:
        # required=False would swallow a failed call; a question for the client's model still stops the run.
        return {"said": [*state.said, await run.call("musing", {"topic": "six"}, required=False) or "none"]}

    async def finalize(self, state: Trail, status: str, run: Run) -> dict[str, Any]:
        return {"finalized": status}


async def test_a_question_stops_the_run_and_the_retry_is_one_complete_run(running_host, db_url):
    store = await WorkflowStore.open(db_url)
    sampler = Pending()
    try:
        async with running_host(extra={"tools": Tools()}) as host:

            async def once() -> Any:
                with llm.use_sampler(sampler):
                    return await execute(AsksTheModel(), host=host, user_id="ada", message="go", store=store)

            for answer in [("what follows 5?", "six"), ("muse on six", "a small poem")]:
                with pytest.raises(InputRequired):
                    await once()
                sampler.answers.update([answer])
            result = await once()
        assert result.status == "succeeded" and result.state.said == ["six", "a small poem"]
        assert result.state.finalized == "succeeded"
        assert sampler.asked == [
            "what follows 5?",
            "what follows 5?",
            "muse on six",
            "what follows 5?",
            "muse on six",
        ]
        found = await query(db_url, "SELECT run_id, status, step_count, next_step FROM workflow_run ORDER BY id")
        assert [(r["status"], r["step_count"], r["next_step"]) for r in found] == [
            ("input_required", 2, "ask"),
            ("input_required", 3, "nested"),
            ("succeeded", 3, None),
        ]
        first = await store.get_run(found[0]["run_id"])
        assert first is not None and first["state"]["n"] == 5 and first["state"]["finalized"] is None
        assert first["steps"][1]["name"] == "ask" and first["steps"][1]["error"].startswith("InputRequired")
        calls = await query(db_url, "SELECT tool_name, success, error_type, workflow_run_id FROM tool_call ORDER BY id")
        ids = [r["run_id"] for r in found]
        assert [
            (c["tool_name"], bool(c["success"]), c["error_type"], ids.index(c["workflow_run_id"])) for c in calls
        ] == [
            ("adder", True, None, 0),
            ("adder", True, None, 1),
            ("muse", False, "InputRequired", 1),
            ("adder", True, None, 2),
            ("muse", True, None, 2),
        ]
    finally:
        await store.close()


async def test_a_resumed_run_that_stops_to_ask_is_put_back_as_it_was(running_host, db_url):
    store = await WorkflowStore.open(db_url)
    sampler = Pending()
    try:
        await store.start_run(
            run_id="run-1",
            user_id="ada",
            session_id=None,
            workflow="AsksTheModel",
            plugin_name="tests",
            intent=None,
            message="go",
            next_step="add",
            state={"message": "go"},
        )
        # Interrupted before its first step; the round below runs `add` (a checkpoint) before `ask` asks.
        await store.finish_run(
            "run-1", status="interrupted", steps=[], state={"message": "go"}, duration_ms=7.0, next_step="add"
        )
        before = await store.get_run("run-1")
        assert before is not None
        async with running_host(extra={"tools": Tools()}) as host:

            async def resume() -> Any:
                row = await store.get_run("run-1")
                with llm.use_sampler(sampler):
                    return await execute(
                        AsksTheModel(), host=host, user_id="ada", message="go", store=store, resume=row
                    )

            with pytest.raises(InputRequired):
                await resume()
            kept = await store.get_run("run-1")
            assert kept is not None
            assert {k: kept[k] for k in ("status", "steps", "state", "next_step", "step_count", "duration_ms")} == {
                k: before[k] for k in ("status", "steps", "state", "next_step", "step_count", "duration_ms")
            }
            sampler.answers.update({"what follows 5?": "six", "muse on six": "verse"})
            result = await resume()
        assert result.status == "succeeded" and result.state.said == ["six", "verse"]
        assert [s["name"] for s in result.steps] == ["add", "ask", "nested"]
        [row] = await query(db_url, "SELECT status, step_count FROM workflow_run")
        assert row == {"status": "succeeded", "step_count": 3}
    finally:
        await store.close()


# -- a real server over stdio --------------------------------------------------------------------


@pytest.mark.e2e
async def test_assist_samples_the_client_over_stdio(tmp_path: Path, db_path: Path, notes_dir: Path, mode: str):
    config = write_config(
        tmp_path / "plugins.toml", db_path, modules=[], extra=f'\n[plugins.notes]\nroot = "{notes_dir}"\n'
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "plugyard", "--config", str(config), "serve"],
        env=subprocess_env(tmp_path),
        cwd=str(tmp_path),
    )
    model = ClientModel()
    async with Client(params, mode=mode, sampling_callback=model) as client:
        out = (await client.call_tool("assist", {"message": TRACE})).structured_content
    assert out["model"] == "sampling" and out["result"]["planned_by"] == "model"
    assert out["result"]["fix_steps"] == FIX["fix_steps"] and len(model.asked) == 1
    recorded = [(r["tool_name"], r["success"], r["error_type"]) for r in rows(db_path) if r["tool_name"] == "assist"]
    asked = [("assist", 0, "InputRequired")] if mode == "auto" else []
    assert recorded == [*asked, ("assist", 1, None)]
