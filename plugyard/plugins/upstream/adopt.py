"""What ``plugyard install CLIENT --adopt`` hands over: a client's MCP servers as upstream settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import pydantic

from .settings import ENV_PREFIX, SERVER_NAME, ServerSettings

_STDIO_KEYS = {"command", "args", "env", "cwd", "type"}
_HTTP_KEYS = {"url", "headers", "type"}


def _is_plugyard(entry: Mapping[str, Any]) -> bool:
    command = PurePath(str(entry.get("command", ""))).name.lower()
    args = [str(a) for a in entry.get("args", []) or []] if isinstance(entry.get("args"), list) else []
    return command.startswith("plugyard") or any(
        a == "plugyard" and i > 0 and args[i - 1] == "-m" for i, a in enumerate(args)
    )


def _entry(name: str, entry: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The upstream settings for one client entry, or why it cannot be adopted."""
    kind = entry.get("type")
    if kind in ("sse",):
        return None, "a legacy SSE server (plugyard mounts stdio and streamable HTTP servers)"
    if entry.get("disabled") is True:
        return None, "disabled in the client"
    if _is_plugyard(entry):
        return None, "plugyard itself (mounting it would start itself again and again)"
    if "command" in entry:
        unknown = set(entry) - _STDIO_KEYS
        settings = {k: entry[k] for k in ("command", "args", "env", "cwd") if k in entry}
    elif "url" in entry:
        unknown = set(entry) - _HTTP_KEYS
        settings = {k: entry[k] for k in ("url", "headers") if k in entry}
    else:
        return None, "neither a command nor a url"
    if unknown:
        return None, f"settings plugyard does not carry over: {', '.join(sorted(unknown))}"
    try:
        ServerSettings.model_validate(settings)
    except pydantic.ValidationError as exc:
        return None, "; ".join(e["msg"] for e in exc.errors(include_url=False))
    return settings, None


def adopt(servers: Mapping[str, Mapping[str, Any]], configured: set[str]) -> dict[str, Any]:
    adopted: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    notes: list[str] = []
    for name, entry in servers.items():
        if not SERVER_NAME.fullmatch(name):
            skipped[name] = "its name is not one plugyard can prefix tools with (letters, digits, '_', '-')"
            continue
        if name in configured:
            skipped[name] = "plugins.toml already has an upstream of this name"
            continue
        if not isinstance(entry, Mapping):
            skipped[name] = "its entry is not an object"
            continue
        settings, why = _entry(name, entry)
        if settings is None:
            skipped[name] = why or "not adoptable"
        else:
            adopted[name] = settings
            literal = sorted(
                f"{table}.{key}"
                for table in ("env", "headers")
                for key, value in (settings.get(table) or {}).items()
                if not str(value).startswith(ENV_PREFIX)
            )
            if literal:
                notes.append(
                    f"{name!r}: {', '.join(literal)} moved as written (plugins.toml now holds them, as the client's "
                    'file did); a secret is better read from the environment: "env:NAME"'
                )
    return {"settings": {"servers": adopted}, "adopted": list(adopted), "skipped": skipped, "notes": notes}
