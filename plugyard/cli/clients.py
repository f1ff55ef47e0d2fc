"""``plugyard install CLIENT``: add plugyard to a desktop MCP client's configuration file,
merging with what is there and keeping a backup."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import json5
import platformdirs

from plugyard.core.errors import PlugyardError

CLIENTS = ("claude-desktop", "cursor", "vscode")


class InstallError(PlugyardError):
    """The client's configuration cannot be updated (unknown client, unreadable or invalid file)."""


def _app_support(*parts: str) -> Path:
    home = Path.home()
    if sys.platform == "darwin":
        return home.joinpath("Library", "Application Support", *parts)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")).joinpath(*parts)
    return Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")).joinpath(*parts)


def config_path(client: str) -> Path:
    """Where ``client`` keeps its MCP servers on this platform."""
    if client == "claude-desktop":
        return _app_support("Claude", "claude_desktop_config.json")
    if client == "cursor":
        return Path.home() / ".cursor" / "mcp.json"
    if client == "vscode":
        return _app_support("Code", "User", "mcp.json")
    raise InstallError(f"unknown client {client!r}; plugyard can install into {', '.join(CLIENTS)}")


def serve_command(config_file: Path | None = None) -> tuple[str, list[str]]:
    """An absolute command that starts ``plugyard serve`` from any folder, as desktop clients need."""
    script = Path(sys.executable).parent / ("plugyard.exe" if sys.platform == "win32" else "plugyard")
    found = str(script) if script.exists() else shutil.which("plugyard")
    command, args = (found, []) if found else (sys.executable, ["-m", "plugyard"])
    if config_file is not None:
        args += ["--config", str(config_file.resolve())]
    return command, [*args, "serve"]


USER_CONFIG_STARTER = """\
# plugyard's configuration for the desktop clients `plugyard install` set up; they start
# `plugyard serve --config <this file>`. Every setting is optional (README: Configuration).

# [plugins.notes]
# root = "~/Documents/notes"    # default: the notes folder in plugyard's data directory

# [plugins]
# disabled = []                 # plugin names, as `plugyard plugins` shows them
"""


def user_config_file() -> Path:
    """The configuration ``install`` points clients at when no ``--config`` is given."""
    return Path(platformdirs.user_config_dir("plugyard")) / "plugins.toml"


def ensure_user_config(path: Path) -> bool:
    """Create ``path`` with a commented starter unless it exists (it is never overwritten)."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(USER_CONFIG_STARTER, encoding="utf-8")
    return True


@dataclasses.dataclass(frozen=True)
class InstallPlan:
    client: str
    path: Path
    name: str
    before: str | None
    after: str
    replaces: bool = False
    """The client already had a server of this name (with another configuration)."""
    unchanged: bool = False
    """The client already has exactly this configuration: nothing to write."""
    had_comments: bool = False
    """The file was JSON with comments (VS Code's JSONC); the new file is plain JSON."""

    def diff(self) -> str:
        before = (self.before or "").splitlines(keepends=True)
        after = self.after.splitlines(keepends=True)
        return "".join(difflib.unified_diff(before, after, f"{self.path} (before)", f"{self.path} (after)"))


def _key(client: str) -> str:
    return "servers" if client == "vscode" else "mcpServers"


def _servers(document: dict[str, Any], client: str) -> dict[str, Any]:
    servers = document.get(_key(client), {})
    return servers if isinstance(servers, dict) else {}


def plan_install(
    client: str,
    *,
    name: str = "plugyard",
    config_file: Path | None = None,
    path: Path | None = None,
    env: dict[str, str] | None = None,
    remove: list[str] | None = None,
) -> InstallPlan:
    """What installing would change (``remove``: servers taken out, adopted by plugyard); nothing is written."""
    target = path or config_path(client)
    before: str | None = None
    document: dict[str, Any] = {}
    had_comments = False
    if target.exists():
        try:
            before = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InstallError(f"cannot read {target}: {exc}") from None
        loaded, had_comments = _parse(before, target)
        if not isinstance(loaded, dict):
            raise InstallError(f"{target} does not hold a JSON object; nothing was changed")
        document = loaded
        if not isinstance(document.get(_key(client), {}), dict):
            raise InstallError(f"{target}: {_key(client)!r} is not an object; nothing was changed")
    command, args = serve_command(config_file)
    entry: dict[str, Any] = {"command": command, "args": args}
    if client == "vscode":
        entry = {"type": "stdio", **entry}
    if env:
        entry["env"] = dict(env)
    servers = {k: v for k, v in _servers(document, client).items() if k not in (remove or ())}
    existing = servers.get(name)
    servers[name] = entry
    merged = {**document, _key(client): servers}
    return InstallPlan(
        client=client,
        path=target,
        name=name,
        before=before,
        after=json.dumps(merged, indent=2) + "\n",
        replaces=existing is not None and existing != entry,
        unchanged=before is not None and merged == document,
        had_comments=had_comments,
    )


def _parse(text: str, path: Path) -> tuple[Any, bool]:
    """The document, and whether it needed the JSON-with-comments reading (VS Code allows
    comments and trailing commas in its settings files)."""
    if not text.strip():
        return {}, False
    try:
        return json.loads(text), False
    except json.JSONDecodeError as exc:
        try:
            return json5.loads(text), True
        except ValueError:
            raise InstallError(f"{path} is not valid JSON ({exc}); fix it by hand, nothing was changed") from None


def apply_install(plan: InstallPlan) -> Path | None:
    """Write the plan; returns the backup of the previous file, if there was one."""
    return write_with_backup(plan.path, plan.before, plan.after)


def write_with_backup(path: Path, before: str | None, after: str) -> Path | None:
    """Replace ``path``'s text (``before``, None when there was no file) with ``after``, atomically; returns
    the backup of the previous file, if there was one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    backup = None
    if before is not None:
        backup = path.with_name(f"{path.name}.{datetime.now():%Y%m%d-%H%M%S}.bak")
        backup.write_text(before, encoding="utf-8")
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(after, encoding="utf-8")
    temporary.replace(path)
    return backup


def client_servers(plan: InstallPlan) -> dict[str, Any]:
    """The servers the client's file had before the plan (its name -> its entry)."""
    if plan.before is None:
        return {}
    document, _ = _parse(plan.before, plan.path)
    return dict(_servers(document, plan.client)) if isinstance(document, dict) else {}
