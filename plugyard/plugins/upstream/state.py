"""The upstreams' state as a running server last saw it: a small JSON file ``plugyard plugins`` reads.

Several plugyard servers on one machine (one per desktop client) share the file: the last one to write
wins, and the file says which process wrote it and whether it still runs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("plugyard.upstream")


def write(path: Path, upstreams: dict[str, Any]) -> None:
    """Replace the file; a data directory that refuses is logged, never an error (the servers still serve)."""
    document = {"pid": os.getpid(), "written_at": time.time(), "upstreams": upstreams}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=2, default=str), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        log.warning("cannot write the upstreams' state to %s: %s", path, exc)


def _running(pid: object) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read(path: Path, configured: list[str]) -> dict[str, Any]:
    """Each configured server's last known state; ``never seen`` when no server has run it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        document = {}
    seen = document.get("upstreams", {}) if isinstance(document, dict) else {}
    alive = _running(document.get("pid")) if isinstance(document, dict) else False
    shown: dict[str, Any] = {}
    for name in configured:
        report = seen.get(name) if isinstance(seen, dict) else None
        if not isinstance(report, dict):
            shown[name] = {"state": "never seen (no running server has started it; `plugyard upstream list` connects)"}
            continue
        keep = ("state", "tools", "last_error", "restarts")
        entry = {k: report.get(k) for k in keep}
        if not alive and entry["state"] != "stopped":
            entry["state"] = f"{entry['state']} when its server stopped"
        shown[name] = entry
    return {"upstreams": shown, "server_pid": document.get("pid") if alive else None}
