"""action_card: title_key and updated_at, one open card per user, kind and normalised title

``title_key`` is the card's title normalised (``assistant.cards.normalise_title``: case, width,
punctuation and spacing removed); a partial unique index on (user_id, kind, title_key) WHERE status =
'open' keeps one open copy of a card, which the assistant refreshes instead of adding another.
``updated_at`` says when a card was stored or last refreshed; cards are listed newest first by it
(index (user_id, updated_at)).

Existing rows: ``updated_at`` = ``created_at``; every card gets its key except the older open copies
of a card (same user, kind and key): those keep a NULL key, so they stay listed and can be completed,
and the newest copy is the one refreshed from now on.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from plugyard.assistant.cards import normalise_title

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.add_column("action_card", sa.Column("title_key", sa.String(length=200), nullable=True))
    op.add_column("action_card", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE action_card SET updated_at = created_at"))
    rows = bind.execute(
        sa.text("SELECT id, user_id, kind, title, status FROM action_card ORDER BY created_at DESC, id DESC")
    ).all()
    seen: set[tuple[str, str, str]] = set()
    keys = []
    for row in rows:
        key = normalise_title(row.title)
        if row.status == "open":
            if (row.user_id, row.kind, key) in seen:
                continue
            seen.add((row.user_id, row.kind, key))
        keys.append({"id": row.id, "key": key})
    if keys:
        bind.execute(sa.text("UPDATE action_card SET title_key = :key WHERE id = :id"), keys)
    op.create_index("ix_action_card_user_updated", "action_card", ["user_id", "updated_at"])
    op.create_index(
        "ux_action_card_open_title",
        "action_card",
        ["user_id", "kind", "title_key"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ux_action_card_open_title", table_name="action_card")
    op.drop_index("ix_action_card_user_updated", table_name="action_card")
    with op.batch_alter_table("action_card") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("title_key")
