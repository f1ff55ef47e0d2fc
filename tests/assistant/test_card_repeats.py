"""Cards without repeats: the same request twice keeps one open card per user, kind and normalised
title, refreshed (its due date); cards are listed newest first, a page at a time, with the total;
migration 0006 keys the cards already stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from plugyard.assistant.cards import normalise_title
from plugyard.assistant.store import WorkflowStore
from plugyard.history import migrate
from plugyard.history.db import create_engine
from tests.conftest import query

pytestmark = pytest.mark.anyio


async def assist(host: Any, message: str, user: str = "ada", **arguments: Any) -> Any:
    outcome = await host.call_tool("assist", {"message": message, **arguments}, user_id=user)
    assert outcome.success, outcome.error_message
    return outcome.result.structured


def card(title: str, **fields: Any) -> dict[str, Any]:
    return {"title": title, "description": "d", "kind": "study", "estimated_minutes": 30, "priority": "medium",
            "due_date": None, "suggested_tool": None, **fields}  # fmt: skip


def test_titles_that_differ_only_in_case_width_punctuation_and_spacing_are_one_card():
    assert normalise_title("Use  Calculate!") == normalise_title("use calculate") == "use calculate"
    assert normalise_title("第一级：递归是什么") == normalise_title("第一级 递归是什么")
    assert normalise_title("Ｌｅｖｅｌ 1") == "level 1"


async def test_the_same_request_twice_keeps_one_open_card_and_refreshes_it(assistant_host, db_url):
    async with assistant_host() as host:
        first = await assist(host, "Help me prepare for my calculus final on December 20")
        again = await assist(host, "help me prepare for my calculus final on December 22!")
        other = await assist(host, "Help me prepare for my calculus final on December 20", user="bob")
    assert [c.card_id for c in again.cards] == [c.card_id for c in first.cards]
    assert all(c.refreshed for c in again.cards) and not any(c.refreshed for c in first.cards)
    # the due dates moved with the new deadline, and nothing was added
    assert [c.due_date for c in again.cards] != [c.due_date for c in first.cards]
    rows = await query(db_url, "SELECT user_id, status FROM action_card")
    assert sorted(r["user_id"] for r in rows) == ["ada"] * len(first.cards) + ["bob"] * len(other.cards)
    assert {c.card_id for c in other.cards}.isdisjoint({c.card_id for c in first.cards})


async def test_a_done_card_is_not_refreshed_a_new_one_is_opened(assistant_host):
    async with assistant_host() as host:
        first = await assist(host, "I want to get better at public speaking")
        done = await host.call_tool("complete_action_card", {"card_id": first.cards[0].card_id}, user_id="ada")
        assert done.success
        again = await assist(host, "I want to get better at public speaking")
    assert again.cards[0].card_id != first.cards[0].card_id and not again.cards[0].refreshed
    assert again.cards[1].card_id == first.cards[1].card_id and again.cards[1].refreshed


async def test_cards_are_listed_newest_first_a_page_at_a_time(assistant_host):
    async with assistant_host() as host:
        for topic in ("recursion", "entropy", "closures"):
            await assist(host, f"explain {topic} deeply")
        await assist(host, "explain recursion deeply")  # refreshes the first two cards: they are newest now
        first = (await host.call_tool("list_action_cards", {"limit": 2}, user_id="ada")).result
        second = (await host.call_tool("list_action_cards", {"limit": 2, "offset": 2}, user_id="ada")).result
        rest = (await host.call_tool("list_action_cards", {"offset": 4}, user_id="ada")).result
        nobody = (await host.call_tool("list_action_cards", {}, user_id="bob")).result
        refused = await host.call_tool("list_action_cards", {"limit": 0}, user_id="ada")
    assert first.total == second.total == rest.total == 6 and nobody.total == 0 and nobody.cards == []
    assert [c.title for c in first.cards] == ["Level 2: Mechanics of recursion", "Level 1: Core idea of recursion"]
    assert [c.title for c in second.cards] == ["Level 2: Mechanics of closures", "Level 1: Core idea of closures"]
    assert len(rest.cards) == 2 and not refused.success and refused.error_type == "InvalidArguments"


async def test_the_store_refreshes_within_one_batch_too(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    store = await WorkflowStore.open(db_url)
    try:
        stored = await store.add_cards(
            "ada", [card("Read chapter 1"), card("read chapter 1.", due_date=date(2027, 1, 5))],
            workflow_run_id=None, origin="workflow",
        )  # fmt: skip
        assert stored[0]["card_id"] == stored[1]["card_id"] and stored[1]["due_date"] == "2027-01-05"
        # a repeat without a due date keeps the card's
        again = await store.add_cards("ada", [card("Read Chapter 1")], workflow_run_id="r", origin="model")
        assert again[0]["due_date"] == "2027-01-05" and again[0]["workflow_run_id"] == "r"
        other_kind = await store.add_cards("ada", [card("Read chapter 1", kind="review")], workflow_run_id=None,
                                           origin="workflow")  # fmt: skip
        assert other_kind[0]["card_id"] != stored[0]["card_id"]
        page, total = await store.list_cards("ada", "open")
        assert total == 2 and [c["kind"] for c in page] == ["review", "study"]
    finally:
        await store.close()


@pytest.mark.empty_database("migrates from 0005 with cards stored before 0006")
async def test_migration_0006_keys_stored_cards_and_keeps_old_repeats_listed(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine, "0005")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    columns = "card_id, user_id, title, description, kind, estimated_minutes, priority, origin, status, created_at"
    async with engine.begin() as conn:
        for i, (title, status) in enumerate([("Use calculate", "open"), ("use calculate!", "open"),
                                             ("Use calculate", "done"), ("Revise", "open")]):  # fmt: skip
            await conn.execute(
                sa.text(
                    f"INSERT INTO action_card ({columns}) VALUES (:id, 'ada', :t, 'd', 'tool', 5, 'low', "
                    "'fallback', :s, :at)"
                ),
                {"id": f"c{i}", "t": title, "s": status, "at": now + timedelta(minutes=i)},
            )
    await migrate.upgrade(engine)
    await engine.dispose()
    rows = await query(
        db_url, "SELECT card_id, title_key, updated_at IS NOT NULL AS dated FROM action_card ORDER BY id"
    )
    assert [(r["card_id"], r["title_key"], bool(r["dated"])) for r in rows] == [
        ("c0", None, True),  # the older open repeat: still listed, never refreshed
        ("c1", "use calculate", True),  # the newest open copy is the card from now on
        ("c2", "use calculate", True),
        ("c3", "revise", True),
    ]
    store = await WorkflowStore.open(db_url)
    try:
        again = await store.add_cards("ada", [card("USE CALCULATE", kind="tool")], workflow_run_id=None, origin="x")
        assert again[0]["card_id"] == "c1" and again[0]["refreshed"]
        page, total = await store.list_cards("ada")
        assert total == 4 and page[0]["card_id"] == "c1"
    finally:
        await store.close()
