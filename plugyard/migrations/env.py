"""Alembic environment. plugyard runs it through ``plugyard db ...`` (``history/migrate.py``),
which hands over an open connection; plain ``alembic`` with a ``sqlalchemy.url`` works too."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from plugyard.history.db import create_engine
from plugyard.migrations.tables import metadata

config = context.config


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(run_with)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    shared = config.attributes.get("connection")
    if shared is not None:
        run_with(shared)
    else:
        asyncio.run(run_from_url(config.get_main_option("sqlalchemy.url") or ""))
