"""``plugyard install CLIENT --adopt``: the client's other MCP servers moved into plugins.toml.

The kernel only moves text: which servers a plugin can serve, and as what settings, is the answer of
the ``adopt_servers`` hook (the first plugin that answers). The client's file keeps the servers nobody
adopted and gains plugyard's entry; plugins.toml gains the adopting plugin's tables, appended so its
comments stay. Both files are backed up; ``--dry-run`` prints both diffs.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plugyard.cli.clients import InstallError, InstallPlan, client_servers, plan_install, write_with_backup
from plugyard.core.host import PluginHost


@dataclasses.dataclass(frozen=True)
class AdoptPlan:
    client: InstallPlan
    config_file: Path
    config_before: str | None
    config_after: str
    plugin: str
    adopted: list[str]
    skipped: dict[str, str]
    notes: list[str] = dataclasses.field(default_factory=list)

    def diff(self) -> str:
        before = (self.config_before or "").splitlines(keepends=True)
        after = self.config_after.splitlines(keepends=True)
        name = str(self.config_file)
        return self.client.diff() + "".join(difflib.unified_diff(before, after, f"{name} (before)", f"{name} (after)"))


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def toml_key(key: object) -> str:
    text = str(key)
    return text if _BARE.fullmatch(text) else json.dumps(text)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise InstallError(f"cannot write {value!r} to plugins.toml")


def toml_tables(prefix: str, table: Mapping[str, Any]) -> list[str]:
    """``table`` as TOML under ``[prefix]``: mappings of mappings become sub-tables, the rest keys."""
    plain = {
        k: v
        for k, v in table.items()
        if not (isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()))
    }
    lines = []
    if plain:
        lines += [f"[{prefix}]", *(f"{toml_key(k)} = {toml_value(v)}" for k, v in plain.items()), ""]
    for key, value in table.items():
        if key not in plain:
            for name, sub in value.items():
                lines += toml_tables(f"{prefix}.{toml_key(key)}.{toml_key(name)}", sub)
    return lines


def plan_adopt(host: PluginHost, client: str, *, name: str, config_file: Path, path: Path | None) -> AdoptPlan:
    install = plan_install(client, name=name, config_file=config_file, path=path)
    others = {k: v for k, v in client_servers(install).items() if k != name}
    answer: Mapping[str, Any] | None = None
    plugin = ""
    for plugin, adopt in host.implementations("adopt_servers"):
        answer = adopt(servers=others, current=host.config.plugins.settings.get(plugin, {}))
        if answer is not None:
            break
    if answer is None:
        raise InstallError("no plugin adopts MCP servers (is the upstream plugin disabled?); nothing was changed")
    adopted = [n for n in answer.get("adopted", []) if n in others]
    skipped = {str(k): str(v) for k, v in dict(answer.get("skipped", {})).items()}
    before = config_file.read_text(encoding="utf-8") if config_file.exists() else None
    block = toml_tables(f"plugins.{plugin}", answer.get("settings", {})) if adopted else []
    header = f"# adopted from {install.path} by `plugyard install {client} --adopt`\n"
    after = before or ""
    if block:
        after = after + ("\n" if after and not after.endswith("\n") else "") + "\n" + header + "\n".join(block)
    try:
        tomllib.loads(after)
    except tomllib.TOMLDecodeError as exc:
        raise InstallError(
            f"{config_file}: adding the adopted servers would make it invalid TOML ({exc}); "
            f"move [plugins.{plugin}] into tables by hand, nothing was changed"
        ) from None
    return AdoptPlan(
        client=plan_install(client, name=name, config_file=config_file, path=path, remove=adopted),
        config_file=config_file,
        config_before=before,
        config_after=after,
        plugin=plugin,
        adopted=adopted,
        skipped=skipped,
        notes=[str(n) for n in answer.get("notes", [])],
    )


def apply_adopt(plan: AdoptPlan) -> tuple[Path | None, Path | None]:
    """Write plugins.toml first (a client without its servers and plugyard without them would lose them),
    then the client's file; returns both backups."""
    config_backup = write_with_backup(plan.config_file, plan.config_before, plan.config_after)
    client_backup = write_with_backup(plan.client.path, plan.client.before, plan.client.after)
    return config_backup, client_backup
