"""Data and plugins for bench_search.py: tools registered from JSON schemas, LiveMCPBench's tasks,
the upstream reference servers' tool lists, and plugyard's own labelled query set.

LiveMCPBench (icip-cas/LiveMCPBench, commit a928e57, Apache-2.0: tools.json and
all_annotations.json) is read from $LIVEMCPBENCH_DIR, else from ``shared/benchmarks/livemcpbench``
beside this repository's folder; it is not copied into the repository.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import keyword
import os
import re
import shutil
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

import plugyard

REPO = Path(__file__).resolve().parent.parent
QUERIES = REPO / "datasets" / "tool_search_queries.jsonl"
LIVEMCPBENCH_ENV = "LIVEMCPBENCH_DIR"
JSON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list[Any],
    "object": dict[str, Any],
}
CHINESE_SERVERS = ("bing-cn-mcp", "howtocook-mcp", "trends-hub", "12306-mcp", "Bazi")
"""LiveMCPBench servers whose tools are described in Chinese: the own query set's third part."""


@dataclasses.dataclass(frozen=True, slots=True)
class SchemaTool:
    server: str
    name: str
    description: str
    input_schema: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.server}:{self.name}"


def livemcpbench_dir() -> Path:
    configured = os.environ.get(LIVEMCPBENCH_ENV)
    path = Path(configured) if configured else REPO.parent / "shared" / "benchmarks" / "livemcpbench"
    if not (path / "tools.json").is_file():
        sys.exit(
            f"LiveMCPBench data not found in {path}: set {LIVEMCPBENCH_ENV} to a folder holding tools.json and "
            "all_annotations.json from github.com/icip-cas/LiveMCPBench (commit a928e57, Apache-2.0)"
        )
    return path


def livemcpbench_tools(folder: Path, servers: Iterable[str] | None = None) -> list[SchemaTool]:
    wanted = set(servers) if servers is not None else None
    out = []
    for entry in json.loads((folder / "tools.json").read_text(encoding="utf-8")):
        for server, listing in entry["tools"].items():
            if wanted is not None and server not in wanted:
                continue
            for tool in listing["tools"]:
                out.append(
                    SchemaTool(server, tool["name"], tool.get("description") or "", tool.get("inputSchema") or {})
                )
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Task:
    task_id: str
    question: str
    tools: tuple[str, ...]
    """Tool names the annotator used (any server's tool of that name is relevant)."""


def livemcpbench_tasks(folder: Path) -> list[Task]:
    tasks = []
    for entry in json.loads((folder / "all_annotations.json").read_text(encoding="utf-8")):
        listed = entry["Annotator Metadata"].get("Tools") or ""
        names = [re.sub(r"^\s*\d+\.\s*", "", line).strip() for line in listed.splitlines()]
        tasks.append(Task(entry["task_id"], entry["Question"], tuple(n for n in names if n)))
    return tasks


def half(key: str) -> str:
    """A stable split into halves "A" and "B" (by a hash: no hand-picking)."""
    return "A" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "B"


def registered_name(server: str, name: str, taken: set[str]) -> str:
    """``<server>_<tool>`` as an upstream server's tools are mounted, valid and unique."""
    base = re.sub(r"[^a-zA-Z0-9_-]", "_", f"{server}_{name}")[:64]
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"_{n}"
        candidate, n = base[: 64 - len(suffix)] + suffix, n + 1
    taken.add(candidate)
    return candidate


def schema_function(name: str, description: str, schema: dict[str, Any]) -> Any:
    """An async function whose signature is ``schema``'s properties (all optional), so that a plugin
    registers it like any tool; it answers "ok"."""
    params = []
    seen: set[str] = set()
    for prop_name, prop in (schema.get("properties") or {}).items():
        ident = re.sub(r"\W", "_", str(prop_name)) or "arg"
        if not ident.isidentifier() or keyword.iskeyword(ident) or ident[0].isdigit():
            ident = f"p_{ident}"
        while ident in seen:
            ident += "_"
        seen.add(ident)
        prop = prop if isinstance(prop, dict) else {}
        kind = JSON_TYPES.get(prop.get("type") if isinstance(prop.get("type"), str) else "", Any)
        hint: Any = kind | None if kind is not Any else Any
        text = prop.get("description")
        if isinstance(text, str) and text:
            hint = Annotated[hint, Field(description=text)]
        params.append(inspect.Parameter(ident, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=hint))

    async def tool(**_arguments: Any) -> str:
        return "ok"

    tool.__signature__ = inspect.Signature(params, return_annotation=str)  # type: ignore[attr-defined]
    tool.__annotations__ = {p.name: p.annotation for p in params} | {"return": str}
    tool.__name__ = name
    tool.__doc__ = description
    return tool


class SchemaToolsPlugin:
    """Registers tools given as JSON schemas (until plugins can pass ``input_schema=`` themselves)."""

    def __init__(self, tools: Sequence[SchemaTool], taken: Iterable[str] = ()) -> None:
        self.tools = list(tools)
        taken_names = set(taken)
        self.names = {t.key: registered_name(t.server, t.name, taken_names) for t in self.tools}

    @plugyard.hookimpl
    def register_tools(self, register: Any) -> None:
        for tool in self.tools:
            name = self.names[tool.key]
            register(
                schema_function(name, tool.description, tool.input_schema), name=name, description=tool.description
            )


async def upstream_reference_tools() -> list[SchemaTool]:
    """The tools of the npm reference servers (everything, filesystem), listed live with the SDK client."""
    from mcp import Client, StdioServerParameters

    if shutil.which("npx") is None:
        sys.exit("the own query set needs npx (node) to list @modelcontextprotocol/server-everything and -filesystem")
    out = []
    servers = {
        "everything": ["-y", "@modelcontextprotocol/server-everything"],
        "filesystem": ["-y", "@modelcontextprotocol/server-filesystem", str(REPO)],
    }
    for server, args in servers.items():
        async with Client(StdioServerParameters(command="npx", args=args)) as client:
            for t in (await client.list_tools()).tools:
                out.append(SchemaTool(server, t.name, t.description or "", dict(t.input_schema)))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class LabelledQuery:
    id: str
    lang: str
    query: str
    relevant: tuple[str, ...]
    """First-party tool names, or ``server:tool`` of an upstream server's."""
    split: str


def own_queries(path: Path = QUERIES) -> list[LabelledQuery]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [LabelledQuery(r["id"], r["lang"], r["query"], tuple(r["relevant"]), r["split"]) for r in rows]
