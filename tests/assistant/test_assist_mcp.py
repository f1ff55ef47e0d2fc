"""assist, classify_intent and the action-card tools over a real MCP client session (in-memory,
both protocol versions): six intents, in English and in Chinese, with every tool call the workflow's
steps made recorded in tool_call under the run's id."""

from __future__ import annotations

import pytest
from mcp import Client

from plugyard.mcp_server.server import PlugyardServer
from tests.conftest import query

pytestmark = pytest.mark.anyio

MODES = ["auto", "legacy"]

# intent, message, the workflow, the tools its steps call (at least), the tool suggested for quick tasks
CASES = [
    (
        "exam_preparation",
        "Help me prepare for my calculus final next Friday",
        "TaskDecomposition",
        {"calculate", "search_notes"},
    ),
    ("exam_preparation", "帮我准备数学期末考试", "TaskDecomposition", {"calculate", "search_notes"}),
    (
        "task_decomposition",
        "Break down my thesis into manageable tasks by 2030-03-01",
        "TaskDecomposition",
        {"calculate"},
    ),
    ("task_decomposition", "帮我把毕业论文拆分成几个小任务", "TaskDecomposition", {"calculate"}),
    (
        "error_diagnosis",
        "I get IndexError: list index out of range in my loop",
        "ErrorDiagnosis",
        {"parse_traceback", "search_notes"},
    ),
    ("error_diagnosis", "我的代码报错 IndexError: list index out of range", "ErrorDiagnosis", {"parse_traceback"}),
    (
        "deep_learning",
        "Explain in depth how recursion really works under the hood",
        "ProgressiveExploration",
        {"search_notes"},
    ),
    ("deep_learning", "我想深入理解递归的原理", "ProgressiveExploration", {"search_notes"}),
    ("skill_building", "I want to get better at public speaking", "ProgressiveExploration", {"search_notes"}),
    ("skill_building", "我想提高自己的演讲能力", "ProgressiveExploration", {"search_notes"}),
    ("quick_task", "Convert 5 miles to kilometers", None, set()),
    ("quick_task", "把5英里换算成公里", None, set()),
]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.parametrize(
    ("intent", "message", "workflow", "tools"),
    CASES,
    ids=[f"{c[0]}-{'zh' if i % 2 else 'en'}" for i, c in enumerate(CASES)],
)
async def test_assist_end_to_end(assistant_host, db_url, mode, intent, message, workflow, tools):
    progress: list[tuple[float, str | None]] = []

    async def on_progress(p: float, total: float | None, text: str | None) -> None:
        progress.append((p, text))

    async with assistant_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        reply = await client.call_tool("assist", {"message": message}, progress_callback=on_progress)
    assert not reply.is_error, reply.content
    out = reply.structured_content
    assert out["intent"]["intent"] == intent and out["intent"]["confidence"] >= 0.45
    assert out["intent"]["language"] == ("zh" if any("\u4e00" <= ch <= "\u9fff" for ch in message) else "en")
    if workflow is None:
        # A quick task a tool can answer is answered, through the pipeline (recorded), with no card to pile up.
        assert out["collaboration"] is False and out["workflow"] is None and out["steps"] == []
        answer = out["answer"]
        assert answer["tool"] == "convert_units" and answer["success"] and answer["text"] == "5 mi = 8.04672 km"
        assert out["cards"] == [] and out["planned_by"] == "tool" and out["suggestions"] == []
        assert "8.04672 km" in reply.content[0].text
        recorded = await query(
            db_url, "SELECT call_id, tool_name, intent FROM tool_call WHERE tool_name = 'convert_units'"
        )
        assert recorded == [{"call_id": answer["call_id"], "tool_name": "convert_units", "intent": "quick_task"}]
        return
    assert out["cards"] and all(c["title"] and c["status"] == "open" for c in out["cards"])
    assert out["collaboration"] is True and out["workflow"] == workflow and out["status"] == "succeeded"
    assert out["cards_origin"] == "workflow"
    run_id = out["run_id"]
    step_calls = {c["call_id"]: c["tool"] for s in out["steps"] for c in s["tools"] if c["call_id"]}
    assert tools <= set(step_calls.values())
    recorded = await query(
        db_url, "SELECT call_id, tool_name, intent FROM tool_call WHERE workflow_run_id = :r", r=run_id
    )
    assert {r["call_id"]: r["tool_name"] for r in recorded} == step_calls
    assert {r["intent"] for r in recorded} == {intent}
    [run] = await query(
        db_url, "SELECT workflow, status, step_count, user_id FROM workflow_run WHERE run_id = :r", r=run_id
    )
    assert run == {
        "workflow": workflow,
        "status": "succeeded",
        "step_count": len(out["steps"]),
        "user_id": host.config.default_user,
    }
    cards = await query(db_url, "SELECT card_id FROM action_card WHERE workflow_run_id = :r", r=run_id)
    assert {c["card_id"] for c in cards} == {c["card_id"] for c in out["cards"]}
    # progress: classification, then one event per step, each naming it
    texts = [t for _, t in progress]
    assert texts[0] == "classifying the request"
    assert [t.split(": ", 1)[1] for t in texts if t and t.startswith(workflow)] == [s["name"] for s in out["steps"]]


async def test_error_diagnosis_reports_the_parsed_error_and_fix_steps(assistant_host):
    trace = (
        'Traceback (most recent call last):\n  File "app.py", line 3, in <module>\n'
        "    xs[5]\nIndexError: list index out of range"
    )
    async with assistant_host() as host, Client(PlugyardServer(host)) as client:
        out = (await client.call_tool("assist", {"message": trace})).structured_content
    assert out["result"]["exception_type"] == "IndexError" and out["result"]["location"] == "app.py:3"
    assert out["result"]["fix_steps"] and out["cards"][0]["title"] == "Fix IndexError at app.py:3"
    assert [n["path"] for n in out["result"]["notes"]] == ["indexerror.md"]


async def test_a_deadline_gives_a_schedule_up_to_it(assistant_host):
    async with assistant_host() as host, Client(PlugyardServer(host)) as client:
        out = (
            await client.call_tool("assist", {"message": "Break down my thesis into tasks by 2030-03-01"})
        ).structured_content
    schedule = out["result"]["schedule"]
    assert len(schedule) == len(out["result"]["subtasks"]) and all(s["date"] <= "2030-03-01" for s in schedule)
    assert out["result"]["total_hours"] == round(sum(s["minutes"] for s in out["result"]["subtasks"]) / 60, 2)
    assert [s["name"] for s in out["steps"]][-1] == "schedule"


async def test_workflow_selection_is_configurable(assistant_host):
    async with assistant_host(workflows={"error_diagnosis": "ProgressiveExploration"}) as host:
        async with Client(PlugyardServer(host)) as client:
            out = (await client.call_tool("assist", {"message": "I get KeyError: 'name'"})).structured_content
    assert out["intent"]["intent"] == "error_diagnosis" and out["workflow"] == "ProgressiveExploration"


async def test_below_the_threshold_a_message_is_a_quick_task(assistant_host):
    async with assistant_host(quick_task_threshold=0.99) as host, Client(PlugyardServer(host)) as client:
        out = (
            await client.call_tool("classify_intent", {"message": "Explain in depth how recursion works"})
        ).structured_content
    assert out["intent"] == "quick_task" and out["below_threshold"] is True
    assert out["votes"][0]["intent"] == "deep_learning"


@pytest.mark.parametrize("mode", MODES)
async def test_classify_intent_alone(assistant_host, db_url, mode):
    async with assistant_host() as host, Client(PlugyardServer(host), mode=mode) as client:
        out = (await client.call_tool("classify_intent", {"message": "我想深入理解递归的原理"})).structured_content
    assert out["intent"] == "deep_learning" and out["language"] == "zh"
    assert out["votes"] == [
        {"classifier": "offline", "plugin": "intents", "intent": "deep_learning", "confidence": 0.95, "weight": 1.0}
    ]
    assert await query(db_url, "SELECT workflow FROM workflow_run") == []


async def test_cards_over_mcp_list_and_complete(assistant_host):
    async with assistant_host() as host, Client(PlugyardServer(host)) as client:
        out = (
            await client.call_tool("assist", {"message": "I want to get better at public speaking"})
        ).structured_content
        listed = await client.call_tool("list_action_cards", {"status": "open"})
        card_id = out["cards"][0]["card_id"]
        done = await client.call_tool("complete_action_card", {"card_id": card_id})
        missing = await client.call_tool("complete_action_card", {"card_id": "nope"})
    page = listed.structured_content
    assert {c["card_id"] for c in page["cards"]} == {c["card_id"] for c in out["cards"]}
    assert page["total"] == len(out["cards"]) and page["limit"] == 20 and page["offset"] == 0
    assert done.structured_content["status"] == "done"
    assert missing.is_error and "you have no action card 'nope'" in missing.content[0].text


# The client's model through sampling, on both protocol versions: tests/assistant/test_sampling.py.
