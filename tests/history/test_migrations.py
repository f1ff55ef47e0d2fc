"""Migrations ship in the package, upgrade and downgrade cleanly, and never drift from the models."""

from __future__ import annotations

import itertools
import sqlite3

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from plugyard.history import migrate
from plugyard.history.db import create_engine
from plugyard.migrations.tables import metadata

pytestmark = pytest.mark.anyio

# The study assistant's six indexes, by their columns, less ix_tool_call_success, which migration 0004
# dropped (no query used it). 0005 dropped those that lead a wider index; what must hold is that every
# one of these column lists still leads some index, so every lookup they served is still served.
STUDY_ASSISTANT_INDEXES = [
    ["user_id"],
    ["tool_name"],
    ["created_at"],
    ["user_id", "created_at"],
    ["tool_name", "success", "execution_time_ms"],
]


async def assert_study_assistant_lookups_are_indexed(engine) -> None:
    import sqlalchemy as sa

    async with engine.connect() as conn:
        found = await conn.run_sync(lambda sync: sa.inspect(sync).get_indexes("tool_call"))
    leading = [list(index["column_names"]) for index in found]
    for columns in STUDY_ASSISTANT_INDEXES:
        assert any(index[: len(columns)] == columns for index in leading), (columns, leading)
    assert "ix_tool_call_success" not in {index["name"] for index in found}


def tables(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.mark.sqlite_only("reads the file with sqlite3: tables, indexes and the WAL journal mode")
async def test_upgrade_to_head_then_downgrade_to_base_on_a_fresh_file(db_url, db_path):
    engine = create_engine(db_url)
    assert await migrate.current(engine) is None
    await migrate.upgrade(engine)
    assert await migrate.current(engine) == migrate.head()
    assert "tool_call" in tables(db_path)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    await assert_study_assistant_lookups_are_indexed(engine)
    await migrate.downgrade(engine, "base")
    assert await migrate.current(engine) is None
    assert tables(db_path) <= {"alembic_version"}
    await engine.dispose()


@pytest.mark.empty_database("the schema the migrations build from nothing is what is compared")
async def test_models_and_migrations_agree(db_url):
    engine = create_engine(db_url)
    await migrate.upgrade(engine)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
        )
    await engine.dispose()
    assert diff == []


def test_every_migration_is_small_named_and_linear():
    revisions = migrate.history()
    assert revisions[0][1] is None
    for (rev, _down, _doc), (_next, next_down, _d) in itertools.pairwise(revisions):
        assert next_down == rev
    assert all(doc for _r, _d, doc in revisions)


@pytest.mark.postgres
async def test_upgrade_to_head_then_downgrade_to_base_on_postgresql(postgres_url):
    from tests.conftest import query

    tables_sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'"
    engine = create_engine(postgres_url)
    assert await migrate.current(engine) is None
    await migrate.upgrade(engine)
    assert await migrate.current(engine) == migrate.head()
    assert "tool_call" in {r["name"] for r in await query(postgres_url, tables_sql)}
    await assert_study_assistant_lookups_are_indexed(engine)
    await migrate.downgrade(engine, "base")
    assert await migrate.current(engine) is None
    assert {r["name"] for r in await query(postgres_url, tables_sql)} <= {"alembic_version"}
    await engine.dispose()
