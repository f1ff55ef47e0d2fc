"""The JSON Lines format of exports and cleanup archives: one call a line, with its feedback and decision.

Each line is a ``tool_call`` row (without the database id; timestamps in ISO 8601 UTC) plus
``"feedback": {"score", "comment", "created_at", "updated_at"}`` or ``null``, and ``"decision":
{"decision_id", "policy_version", "propensity", "intent", "chosen", "candidates", "decided_at"}`` or
``null`` (the router's decision that led to the call: ``history evaluate``'s evidence; lines written
before it was carried have no such key). ``history import`` reads it back through
``rollups.write_calls`` (calls already stored are skipped, with their feedback and decision).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from plugyard.history.models import tool_call_table
from plugyard.history.rollup_models import call_feedback_table
from plugyard.history.rollups import DECISION_EVIDENCE, utc

DECISION_FIELDS = ("decision_id", "policy_version", "propensity", "intent", "chosen", "candidates", "decided_at")


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


async def exported_rows(
    connection: AsyncConnection, where: sa.ColumnElement[bool], limit: int | None = None
) -> list[dict[str, Any]]:
    """The calls ``where`` selects, oldest first, each with its ``feedback`` and ``decision`` (or None)."""
    t, fb, e = tool_call_table, call_feedback_table, DECISION_EVIDENCE
    decision = [e.c[name].label(f"d_{name}") for name in DECISION_FIELDS]
    statement = (
        sa.select(
            t,
            fb.c.score,
            fb.c.comment,
            fb.c.created_at.label("fb_created"),
            fb.c.updated_at.label("fb_updated"),
            *decision,
        )
        .select_from(t.outerjoin(fb, fb.c.call_id == t.c.call_id).outerjoin(e, e.c.call_id == t.c.call_id))
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
        given = {name: m.pop(f"d_{name}") for name in DECISION_FIELDS}
        if given["decision_id"] is not None:
            given["decided_at"] = utc(given["decided_at"])
            m["decision"] = given
        else:
            m["decision"] = None
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
    decision = row.get("decision")
    if decision is not None:
        row["decision"] = _decision(decision)
    row.setdefault("plugin_name", "")
    return row


def _decision(given: Any) -> dict[str, Any]:
    """An exported call's ``decision``, checked; a ``ValueError`` naming what is wrong otherwise."""
    if not isinstance(given, dict):
        raise ValueError(f"field 'decision' is a JSON object or null, not {type(given).__name__}")
    for key in ("decision_id", "policy_version", "chosen"):
        if not isinstance(given.get(key), str) or not given[key]:
            raise ValueError(f"field 'decision' needs {key!r} as a non-empty string")
    propensity = given.get("propensity")
    if not isinstance(propensity, int | float) or isinstance(propensity, bool) or not 0 < propensity <= 1:
        raise ValueError(f"field 'decision' needs a 'propensity' above 0 and at most 1, got {propensity!r}")
    candidates = given.get("candidates")
    if not isinstance(candidates, list) or not all(isinstance(c, str) for c in candidates):
        raise ValueError("field 'decision' needs 'candidates' as a list of tool names")
    if given.get("intent") is not None and not isinstance(given["intent"], str):
        raise ValueError("field 'decision' has an 'intent' that is not a string")
    try:
        decided_at = utc(datetime.fromisoformat(given["decided_at"]))
    except (KeyError, TypeError, ValueError):
        raise ValueError(
            f"field 'decision' needs 'decided_at' as an ISO 8601 time, got {given.get('decided_at')!r}"
        ) from None
    return {
        "decision_id": given["decision_id"],
        "policy_version": given["policy_version"][:255],
        "propensity": float(propensity),
        "intent": given.get("intent"),
        "chosen": given["chosen"],
        "candidates": candidates,
        "decided_at": decided_at,
    }
