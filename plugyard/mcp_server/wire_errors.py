"""The JSON-RPC errors stdio answers for a line the SDK's message parser refused.

The SDK drops such a line (it reaches the session as an exception) and a client that sent a request waits
for its timeout. Here each refused line is looked at once more, with the standard library's lenient parser:
a request whose id can be found gets an error with that id; an unreadable line gets one with a null id
(JSON-RPC 2.0, section 5.1):

- ``-32700`` parse error: not UTF-8, not JSON, nested too deep for any parser;
- ``-32600`` invalid request: not an object, ``jsonrpc`` other than "2.0", ``method`` not a string, an id
  that is neither a string nor an integer (the parser takes such a request for a notification:
  ``odd_id_answer``), a batch (MCP has none; each request in it gets its own error);
- ``-32602`` invalid params: ``params`` not an object or array, or parameters the parser refuses (a lone
  surrogate, an integer too long to read).

Notifications (no id) and responses are never answered; refusing one is only logged.
"""

from __future__ import annotations

import json
import re
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
MAX_DETAIL = 200

_NO_ID = object()
_ID_VALUE = re.compile(rb'\s*:\s*("(?:[^"\\]|\\.){0,200}"|-?\d{1,30}(?![\d.eE])|null)')


def error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def _short(reason: object) -> str:
    text = " ".join(str(reason).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 3] + "..."


def _keep_long_integers(digits: str) -> Any:
    # The standard library refuses integers past 4,300 digits; read on, so the request's id can be answered.
    return int(digits) if len(digits) <= 4000 else digits


def answers_for(line: bytes, refusal: BaseException) -> list[dict[str, Any]]:
    """The error messages to write for ``line``, which the SDK's parser refused with ``refusal``."""
    if not line.strip():
        return []  # a blank line carries nothing to answer
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _unreadable(line, f"the message is not UTF-8 ({_short(exc)})")
    try:
        value = json.loads(text, parse_int=_keep_long_integers)
    except RecursionError:
        return _unreadable(line, "the message is nested too deeply to parse")
    except ValueError as exc:
        return _unreadable(line, f"the message is not JSON ({_short(exc)})")
    if isinstance(value, list):
        return _batch(value)
    return _one(value, refusal)


def _unreadable(line: bytes, reason: str) -> list[dict[str, Any]]:
    rid = top_level_id(line)
    return [error(None if rid is _NO_ID else rid, PARSE_ERROR, f"Parse error: {reason}")]


def _batch(items: list[Any]) -> list[dict[str, Any]]:
    reason = "Invalid Request: MCP has no JSON-RPC batches; send one message per line"
    answers = [error(item["id"], INVALID_REQUEST, reason) for item in items if _answerable(item)]
    return answers or [error(None, INVALID_REQUEST, reason)]


def _answerable(item: Any) -> bool:
    if not isinstance(item, dict) or "method" not in item:
        return False
    rid = item.get("id")
    return isinstance(rid, str) or (isinstance(rid, int) and not isinstance(rid, bool))


def _one(value: Any, refusal: BaseException) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return [error(None, INVALID_REQUEST, "Invalid Request: a message is a JSON object")]
    if "method" not in value and ("result" in value or "error" in value):
        return []  # a response of the client's that did not validate: nothing waits for an answer to it
    if "id" not in value:
        return []  # a notification is never answered, even when it is wrong
    rid = value["id"]
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        return [error(None, INVALID_REQUEST, f"Invalid Request: id must be a string or an integer, not {_short(rid)}")]
    if value.get("jsonrpc") != "2.0":
        return [error(rid, INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')]
    method = value.get("method")
    if not isinstance(method, str):
        return [error(rid, INVALID_REQUEST, 'Invalid Request: "method" must be a string')]
    if "params" in value and not isinstance(value["params"], dict | list):
        return [error(rid, INVALID_PARAMS, 'Invalid params: "params" must be an object')]
    return [error(rid, INVALID_PARAMS, f"Invalid params: {_first_problem(refusal)}")]


def odd_id_answer(line: bytes) -> dict[str, Any] | None:
    """For a line the parser read as a notification although it has an ``"id"`` member: the error that
    tells its sender the id is unusable (None when the id was only inside the parameters)."""
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict) or "id" not in value:
        return None
    return error(
        None, INVALID_REQUEST, f"Invalid Request: id must be a string or an integer, not {_short(value['id'])}"
    )


def _first_problem(refusal: BaseException) -> str:
    errors = getattr(refusal, "errors", None)
    if callable(errors):
        try:
            first = errors(include_url=False, include_input=False)[0]
            return _short(first.get("msg", refusal))
        except (IndexError, TypeError):
            pass
    return _short(refusal)


def top_level_id(line: bytes) -> Any:
    """The ``"id"`` of the outermost object of ``line``, found without parsing the rest (which may be
    nested past any parser's limit, or torn); ``_NO_ID`` when there is none to find."""
    depth = 0
    in_string = False
    escaped = False
    start = 0
    for i, byte in enumerate(line):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # closing quote
                in_string = False
                if depth == 1 and line[start : i + 1] == b'"id"':
                    found = _ID_VALUE.match(line, i + 1)
                    if found is not None:
                        try:
                            return json.loads(found.group(1))
                        except ValueError:
                            return _NO_ID
            continue
        if byte == 0x22:
            in_string, start = True, i
        elif byte in (0x7B, 0x5B):  # { [
            depth += 1
        elif byte in (0x7D, 0x5D):  # } ]
            depth -= 1
    return _NO_ID
