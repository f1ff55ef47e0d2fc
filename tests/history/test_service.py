"""ToolHistoryService against a real database holding known calls: every figure is worked out by hand."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.history.errors import UnknownCall
from plugyard.history.service import ToolHistoryService, queries
from tests.conftest import query

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)
LONG_AGO = NOW - timedelta(days=40)


@pytest.fixture
async def service(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    yield ToolHistoryService(engine, clock=lambda: NOW)
    await engine.dispose()


@pytest.fixture
async def known(service):
    """ada: search today 10/20/30 ms ok and 40 ms Timeout, yesterday 100 ms ok, 40 days ago 5 ms Boom.
    bob: search today 50 and 60 ms Boom; calc today 1 ms ok."""
    ids: dict[str, str] = {}

    async def rec(key, user, tool, ok, ms, at=NOW, error=None):
        ids[key] = await service.record_tool_execution(
            user, tool, ok, ms, error_type=error, error_message=f"{error}!" if error else None, created_at=at
        )

    await rec("a1", "ada", "search", True, 10)
    await rec("a2", "ada", "search", True, 20)
    await rec("a3", "ada", "search", True, 30)
    await rec("a4", "ada", "search", False, 40, error="Timeout")
    await rec("a5", "ada", "search", True, 100, at=YESTERDAY)
    await rec("a6", "ada", "search", False, 5, at=LONG_AGO, error="Boom")
    await rec("b1", "bob", "search", False, 50, error="Boom")
    await rec("b2", "bob", "search", False, 60, error="Boom")
    await rec("b3", "bob", "calc", True, 1)
    return ids


async def test_success_rate_for_everyone_and_for_one_user(service, known):
    assert await service.get_tool_success_rate("search", days=30) == pytest.approx(4 / 7)
    assert await service.get_tool_success_rate("search", days=1) == pytest.approx(3 / 6)
    assert await service.get_tool_success_rate("search", days=90) == pytest.approx(4 / 8)
    assert await service.get_tool_success_rate("search", days=30, user_id="ada") == pytest.approx(4 / 5)
    assert await service.get_tool_success_rate("search", days=90, user_id="ada") == pytest.approx(4 / 6)
    assert await service.get_tool_success_rate("search", days=30, user_id="bob") == 0.0
    assert await service.get_tool_success_rate("nothing", days=30) is None


async def test_statistics_for_everyone_come_from_the_rollup_histogram(service, known, monkeypatch):
    monkeypatch.setattr(queries, "EXACT_UP_TO", 6)  # the window holds 8 calls: more than the raw rows are read for
    search, calc = await service.get_tool_statistics(days=30)
    assert (search.tool_name, search.calls, search.successes, search.failures) == ("search", 7, 4, 3)
    assert search.avg_ms == pytest.approx(310 / 7)
    assert search.max_ms == 100
    # Buckets ..13|20|30|50|80|130..: p50 is rank 4 of 7, the 2nd of two in (30, 50] -> 30 + 20 * 1/2;
    # p95 is rank 7, alone in (80, 130] capped by the maximum 100 -> 100.
    assert (search.p50_ms, search.p95_ms, search.percentiles) == (40.0, 100.0, "histogram")
    assert search.top_errors == [("Boom", 2), ("Timeout", 1)]
    assert (calc.calls, calc.success_rate, calc.p50_ms) == (1, 1.0, 1.0)
    [only] = await service.get_tool_statistics("search", days=90)
    assert only.calls == 8 and only.top_errors == [("Boom", 3), ("Timeout", 1)]


async def test_a_small_windows_percentiles_for_everyone_are_exact(service, known):
    # 8 calls in the window (at most EXACT_UP_TO): p50 and p95 from the rows, the counts from the rollups.
    search, calc = await service.get_tool_statistics(days=30)
    assert (search.calls, search.successes, search.avg_ms, search.max_ms) == (7, 4, pytest.approx(310 / 7), 100.0)
    # 10 20 30 40 50 60 100: p50 is rank 4 -> 40; p95 is rank 7 -> 100.
    assert (search.p50_ms, search.p95_ms, search.percentiles) == (40.0, 100.0, "exact")
    assert search.top_errors == [("Boom", 2), ("Timeout", 1)]
    assert (calc.p50_ms, calc.percentiles) == (1.0, "exact")


async def test_sub_millisecond_percentiles_are_not_a_bucket_bound(service):
    # The histogram's first bucket is (0, 1] ms: estimated, 0.05 ms calls read as about 0.1-1 ms.
    for ms in (0.05, 0.05, 0.06, 60.0):
        await service.record_tool_execution("ada", "shout", True, ms, created_at=NOW)
    [shout] = await service.get_tool_statistics(days=30)
    assert (shout.p50_ms, shout.p95_ms, shout.percentiles) == (0.05, 60.0, "exact")


async def test_statistics_of_a_window_whose_rows_were_cleaned_up_stay_the_histograms(service, known):
    import sqlalchemy as sa

    async with service.engine.begin() as connection:
        await connection.execute(sa.text("DELETE FROM tool_call WHERE tool_name = 'search' AND execution_time_ms = 60"))
    search, calc = await service.get_tool_statistics(days=30)
    assert (search.calls, search.percentiles) == (7, "histogram")  # the rollup counts a call with no row now
    assert calc.percentiles == "exact"


async def test_statistics_for_one_user_are_exact_and_only_theirs(service, known):
    [search] = await service.get_tool_statistics(days=30, user_id="ada")
    assert (search.calls, search.successes, search.avg_ms, search.max_ms) == (5, 4, 40.0, 100.0)
    assert (search.p50_ms, search.p95_ms, search.percentiles) == (30.0, 100.0, "exact")
    assert search.top_errors == [("Timeout", 1)]
    bob = await service.get_tool_statistics(days=30, user_id="bob")
    assert [(s.tool_name, s.calls, s.top_errors) for s in bob] == [("search", 2, [("Boom", 2)]), ("calc", 1, [])]


async def test_preferred_tools_rank_by_the_discounted_success_estimate(service, known):
    [calc, search] = await service.get_user_preferred_tools("bob")
    assert (calc.tool_name, calc.score) == ("calc", pytest.approx(2 / 3))  # (1 + 1) / (2 + 1)
    assert (search.tool_name, search.score) == ("search", pytest.approx(1 / 4))  # (1 + 0) / (2 + 2)
    [ada] = await service.get_user_preferred_tools("ada")
    ds = 3 + 2 ** (-1 / 14)  # three successes now, one a day ago (half-life 14 days)
    df = 1 + 2 ** (-40 / 14)
    assert ada.score == pytest.approx((1 + ds) / (2 + ds + df))
    assert (ada.calls, ada.successes, ada.avg_ms) == (6, 4, pytest.approx(205 / 6))
    assert ada.last_called_at == NOW
    assert await service.get_user_preferred_tools("ada", intent="exam_preparation") == []
    assert [p.tool_name for p in await service.get_user_preferred_tools("bob", limit=1)] == ["calc"]


async def test_recent_failures_are_newest_first_and_per_user(service, known):
    ada = await service.get_recent_failed_tools("ada")
    assert [(f.call_id, f.error_type, f.error_message) for f in ada] == [
        (known["a4"], "Timeout", "Timeout!"),
        (known["a6"], "Boom", "Boom!"),
    ]
    assert ada[1].created_at == LONG_AGO
    assert [f.call_id for f in await service.get_recent_failed_tools("ada", days=30)] == [known["a4"]]
    assert [f.call_id for f in await service.get_recent_failed_tools("bob", limit=5)] == [known["b2"], known["b1"]]
    assert len(await service.get_recent_failed_tools(limit=10)) == 4


async def test_satisfaction_is_feedback_on_the_call_and_a_new_rating_replaces_the_old(service, known, db_url):
    first = await service.update_user_satisfaction(known["a1"], 4, user_id="ada", comment="good")
    assert (first.score, first.previous, first.tool_name) == (4, None, "search")
    again = await service.update_user_satisfaction(known["a1"], 2, user_id="ada")
    assert again.previous == 4
    [stats] = await query(db_url, "SELECT * FROM user_tool_stats WHERE user_id = 'ada'")
    assert (stats["satisfaction_sum"], stats["satisfaction_count"]) == (2, 1)
    [feedback] = await query(db_url, "SELECT * FROM call_feedback")
    assert (feedback["score"], feedback["comment"]) == (2, None)
    [call] = await query(db_url, f"SELECT satisfaction FROM tool_call WHERE call_id = '{known['a1']}'")
    assert call["satisfaction"] is None  # the call's row is append-only
    [ada] = await service.get_user_preferred_tools("ada")
    assert ada.satisfaction == 2.0


async def test_only_the_callers_calls_can_be_rated(service, known):
    with pytest.raises(UnknownCall, match="of user 'bob'"):
        await service.update_user_satisfaction(known["a1"], 5, user_id="bob")
    with pytest.raises(UnknownCall):
        await service.update_user_satisfaction("no-such-call", 5)
    with pytest.raises(ValueError, match="1 to 5"):
        await service.update_user_satisfaction(known["a1"], 6)


def _evidence(call_id: str) -> dict[str, object]:
    return {
        "call_id": call_id,
        "decision_id": f"d-{call_id}",
        "policy_version": "test",
        "propensity": 0.5,
        "user_id": "ada",
        "intent": None,
        "chosen": "search",
        "candidates": ["search", "lookup"],
        "decided_at": datetime(2026, 10, 1, tzinfo=UTC),
    }


async def test_cleanup_archives_deletes_and_import_restores(service, known, db_url, tmp_path):
    await service.update_user_satisfaction(known["a6"], 1, user_id="ada", comment="useless")
    assert await service.record_decisions([_evidence(known["a6"]), _evidence(known["a1"])]) == 2
    archive = tmp_path / "old.jsonl"
    assert (await service.cleanup_old_records(30, dry_run=True)).deleted == 1
    result = await service.cleanup_old_records(30, archive=archive)
    assert (result.deleted, result.archived) == (1, 1)
    assert result.cutoff == datetime(2026, 10, 31, tzinfo=UTC)
    [line] = archive.read_text().splitlines()
    stored = json.loads(line)
    assert stored["call_id"] == known["a6"] and stored["feedback"]["comment"] == "useless"
    assert await service.get_tool_success_rate("search", days=90, user_id="ada") == pytest.approx(4 / 5)
    assert await query(db_url, "SELECT * FROM call_feedback") == []
    # The decision behind the deleted call goes with it; the kept call keeps its own.
    assert [r["call_id"] for r in await query(db_url, "SELECT call_id FROM decision_evidence")] == [known["a1"]]
    [stats] = await query(db_url, "SELECT * FROM user_tool_stats WHERE user_id = 'ada'")
    assert (stats["calls"], stats["satisfaction_count"]) == (5, 0)
    [after] = await service.get_tool_statistics("search", days=90)
    assert (after.calls, after.top_errors) == (7, [("Boom", 2), ("Timeout", 1)])

    assert await service.import_records(archive) == (1, 1)
    assert await service.import_records(archive) == (1, 0)  # already there: nothing counted twice
    [stats] = await query(db_url, "SELECT * FROM user_tool_stats WHERE user_id = 'ada'")
    assert (stats["calls"], stats["satisfaction_sum"], stats["satisfaction_count"]) == (6, 1, 1)
    [search] = await service.get_tool_statistics("search", days=90)
    assert search.calls == 8


async def test_export_writes_every_call_with_its_feedback(service, known, tmp_path):
    await service.update_user_satisfaction(known["b3"], 5, user_id="bob")
    out = tmp_path / "bob.jsonl"
    with out.open("w") as fh:
        assert await service.export(fh, user_id="bob", chunk_size=2) == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["call_id"] for r in lines] == [known["b1"], known["b2"], known["b3"]]
    assert lines[2]["feedback"]["score"] == 5 and lines[0]["feedback"] is None


async def test_stored_counts_carry_the_discounted_weights(service, known):
    counts = {(c.user_id, c.tool_name): c for c in await service.stored_counts()}
    bob = counts[("bob", "search")]
    assert bob.intent is None and bob.w_success == 0.0
    from plugyard.learning.counts import decay_weight

    assert bob.w_failure == pytest.approx(2 * decay_weight(NOW))
    assert math.isclose(bob.w_ms, 110 * decay_weight(NOW))
