"""The JSON Lines format of exports and cleanup archives: one call a line, with its feedback.

Each line is a ``tool_call`` row (without the database id; timestamps in ISO 8601 UTC) plus
``"feedback": {"score", "comment", "created_at", "updated_at"}`` or ``null``. ``history import``
reads it back through ``rollups.write_calls`` (calls already stored are skipped).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from plugyard.history.models import tool_call_table
from plugyard.history.rollup_models import call_feedback_table
from plugyard.history.rollups import utc


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


async def rows_with_feedback(
    connection: AsyncConnection, where: sa.ColumnElement[bool], limit: int | None = None
) -> list[dict[str, Any]]:
    t, fb = tool_call_table, call_feedback_table
    statement = (
        sa.select(t, fb.c.score, fb.c.comment, fb.c.created_at.label("fb_created"), fb.c.updated_at.label("fb_updated"))
        .select_from(t.outerjoin(fb, fb.c.call_id == t.c.call_id))
        .where(where)
        .order_by(t.c.id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    rows = []
    for r in (await connection.execute(statement)).mappings():
        m = dict(r)
        score, comment, fb_created, fb_updated = (
            m.pop("score"),
            m.pop("comment"),
            m.pop("fb_created"),
            m.pop("fb_updated"),
        )
        m["success"] = bool(m["success"])
        m["created_at"] = utc(m["created_at"])
        m["feedback"] = (
            {"score": score, "comment": comment, "created_at": utc(fb_created), "updated_at": utc(fb_updated)}
            if score is not None
            else None
        )
        rows.append(m)
    return rows


def dump_line(row: dict[str, Any]) -> str:
    data = {k: v for k, v in row.items() if k != "id"}
    return json.dumps(data, default=_jsonable, ensure_ascii=False, separators=(",", ":")) + "\n"


def load_line(line: str) -> dict[str, Any]:
    """One exported call; a ``ValueError`` naming the field at fault otherwise."""
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise ValueError(f"not JSON ({exc})") from None
    if not isinstance(row, dict):
        raise ValueError(f"a call record is a JSON object, not {type(row).__name__}")
    for key in ("call_id", "user_id", "tool_name", "created_at"):
        if not isinstance(row.get(key), str) or not row[key]:
            raise ValueError(f"field {key!r} is {'missing' if key not in row else 'not a non-empty string'}")
    try:
        row["created_at"] = utc(datetime.fromisoformat(row["created_at"]))
    except ValueError:
        raise ValueError(f"field 'created_at' is not an ISO 8601 time: {row['created_at']!r}") from None
    if not isinstance(row.get("success"), bool | int):
        raise ValueError("field 'success' is missing" if "success" not in row else "field 'success' is not true/false")
    row["success"] = bool(row["success"])
    try:
        row["execution_time_ms"] = float(row["execution_time_ms"])
    except KeyError:
        raise ValueError("field 'execution_time_ms' is missing") from None
    except (TypeError, ValueError):
        raise ValueError(f"field 'execution_time_ms' is not a number: {row['execution_time_ms']!r}") from None
    feedback = row.get("feedback")
    if feedback is not None:
        score = feedback.get("score") if isinstance(feedback, dict) else None
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            raise ValueError(f"field 'feedback' needs a 'score' from 1 to 5, got {feedback!r}"[:200])
    row.setdefault("plugin_name", "")
    return row
