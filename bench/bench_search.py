"""Tool search, measured: quality on LiveMCPBench and on plugyard's own labelled queries, against
plain BM25 in the same run; learning from half the tasks; two users settling on different tools;
latency with 1,000 tools and the index rebuild. See bench/README.md ("bench_search.py").

    python bench/bench_search.py [--only livemcpbench own personal latency tokenizers] [--seeds-note]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_data import (
    CHINESE_SERVERS,
    LabelledQuery,
    SchemaTool,
    SchemaToolsPlugin,
    Task,
    half,
    livemcpbench_dir,
    livemcpbench_tasks,
    livemcpbench_tools,
    own_queries,
    upstream_reference_tools,
)

from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.search import ToolSearch
from plugyard.learning.search.bm25 import BM25FIndex, Field
from plugyard.learning.search.learned import WEAK, Associations
from plugyard.learning.search.ranker import Analyzer, Ranker, ToolDoc, ToolIndex, tool_fields
from plugyard.learning.search.tokenize import terms_with_words
from plugyard.mcp_server.server import PlugyardServer

K = (1, 5, 10)


# -- scoring --------------------------------------------------------------------------------------


def metrics(rankings: Sequence[Sequence[str]], relevant: Sequence[set[str]]) -> dict[str, float]:
    """Recall@k (share of a query's relevant tools in its top k, averaged) and MRR (first relevant)."""
    out: dict[str, float] = {}
    for k in K:
        out[f"R@{k}"] = statistics.fmean(
            len(set(r[:k]) & rel) / len(rel) for r, rel in zip(rankings, relevant, strict=True)
        )
    rr = []
    for r, rel in zip(rankings, relevant, strict=True):
        rank = next((i for i, name in enumerate(r[:10], 1) if name in rel), None)
        rr.append(1.0 / rank if rank else 0.0)
    out["MRR"] = statistics.fmean(rr)
    return out


def row(label: str, m: dict[str, float], n: int) -> str:
    return f"| {label} | {n} | " + " | ".join(f"{m[key]:.3f}" for key in ("R@1", "R@5", "R@10", "MRR")) + " |"


HEADER = "| ranking | queries | R@1 | R@5 | R@10 | MRR |\n|---|---|---|---|---|---|"


class PlainBM25:
    """The baseline: Okapi BM25 (k1 1.2, b 0.75) over one field, the tool's name, description and
    parameters together, with the same tokens."""

    def __init__(self, docs: Sequence[ToolDoc], analyzer: Analyzer = terms_with_words) -> None:
        self.analyzer = analyzer
        self.names = [d.name for d in docs]
        fields = [tool_fields(d, analyzer) for d in docs]
        self.index = BM25FIndex(
            [Field("text")],
            ((d.name, {"text": [t for part in f.values() for t in part]}) for d, f in zip(docs, fields, strict=True)),
        )

    def rank(self, query: str, limit: int = 10) -> list[str]:
        scores = self.index.scores([t for t, _w in self.analyzer(query)])
        return [self.names[d] for d, _s in sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:limit]]


# -- hosts ----------------------------------------------------------------------------------------


@asynccontextmanager
async def bench_host(plugin: SchemaToolsPlugin, folder: Path) -> AsyncIterator[PluginHost]:
    config = parse_config(
        {
            "database": {"url": f"sqlite+aiosqlite:///{folder / f'search-{uuid.uuid4().hex[:8]}.db'}"},
            "history": {"flush_interval": 0.05},
            "server": {"tool_search": "on", "default_user": "agent"},
        }
    )
    host = PluginHost(config, strict=True, entry_points=False, plugins={"history": HistoryPlugin(), "bench": plugin})
    async with host.running():
        yield host


def search_of(host: PluginHost) -> ToolSearch:
    plugin = host.get_plugin("history")
    assert isinstance(plugin, HistoryPlugin)
    return plugin.search


def docs_of(host: PluginHost) -> list[ToolDoc]:
    return [ToolDoc(t.name, t.description, t.input_schema, t.title) for t in host.tools if not t.discovery]


async def ranked(host: PluginHost, query: str, *, user: str = "agent", limit: int = 10) -> list[str]:
    """search_tools through the pipeline, in a session of its own (so it teaches nothing here)."""
    outcome = await host.call_tool(
        "search_tools", {"query": query, "limit": limit}, user_id=user, session_id=f"eval-{uuid.uuid4().hex}"
    )
    assert outcome.success, outcome.error_message
    return [t["name"] for t in outcome.result.structured["tools"]]


async def agent_learns(host: PluginHost, lessons: Sequence[tuple[str, Sequence[str]]]) -> int:
    """A simulated agent over one MCP session: search_tools, then call_tool for each right tool."""
    calls = 0
    async with Client(PlugyardServer(host)) as client:
        for query, tools in lessons:
            result = await client.call_tool("search_tools", {"query": query, "limit": 10})
            assert not result.is_error, result.content
            for name in tools:
                tool = host.tools.get(name)
                assert tool is not None, name
                arguments = dummy_arguments(tool.input_schema)
                await client.call_tool("call_tool", {"name": name, "arguments": arguments})
                calls += 1
    return calls


DUMMIES: dict[str, Any] = {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}


def dummy_arguments(schema: dict[str, Any]) -> dict[str, Any]:
    """Values of the right type for a schema's required parameters (the bench's tools answer "ok")."""
    props = schema.get("properties") or {}
    out = {}
    for name in schema.get("required") or ():
        prop = props.get(name) or {}
        kinds = [prop.get("type")] + [a.get("type") for a in prop.get("anyOf", ())]
        out[name] = next((DUMMIES[k] for k in kinds if k in DUMMIES), "x")
    return out


async def mcp_matches_pipeline(host: PluginHost, queries: Sequence[str]) -> bool:
    async with Client(PlugyardServer(host)) as client:
        for query in queries:
            via_mcp = await client.call_tool("search_tools", {"query": query, "limit": 10})
            names = [t["name"] for t in via_mcp.structured_content["tools"]]
            if names != await ranked(host, query):
                return False
    return True


# -- LiveMCPBench ---------------------------------------------------------------------------------


def livemcpbench_setup() -> tuple[SchemaToolsPlugin, list[tuple[Task, set[str], list[str]]]]:
    folder = livemcpbench_dir()
    plugin = SchemaToolsPlugin(livemcpbench_tools(folder))
    by_name: dict[str, list[str]] = {}
    for tool in plugin.tools:
        by_name.setdefault(tool.name, []).append(plugin.names[tool.key])
    tasks = []
    for task in livemcpbench_tasks(folder):
        relevant = {n for name in task.tools for n in by_name.get(name, ())}
        # The agent calls one tool per name the annotator used (the first server's, for shared names).
        calls = [by_name[name][0] for name in dict.fromkeys(task.tools) if name in by_name]
        if relevant:
            tasks.append((task, relevant, calls))
    return plugin, tasks


async def livemcpbench(tmp: Path) -> list[str]:
    plugin, tasks = livemcpbench_setup()
    lines = [
        f"LiveMCPBench: {len(plugin.tools)} tools registered from {len({t.server for t in plugin.tools})} servers, "
        f"{len(tasks)} tasks with a relevant tool; each half learns, the other is scored.",
        "",
    ]
    for learn_half in ("A", "B"):
        learn = [t for t in tasks if half(t[0].task_id) == learn_half]
        test = [t for t in tasks if half(t[0].task_id) != learn_half]
        relevant = [t[1] for t in test]
        async with bench_host(plugin, tmp) as host:
            baseline = PlainBM25(docs_of(host))
            bm25 = metrics([baseline.rank(t[0].question) for t in test], relevant)
            cold = metrics([await ranked(host, t[0].question) for t in test], relevant)
            calls = await agent_learns(host, [(t[0].question, t[2]) for t in learn])
            warm = metrics([await ranked(host, t[0].question) for t in test], relevant)
            parity = await mcp_matches_pipeline(host, [t[0].question for t in test[:10]])
        lines += [
            f"Learn from half {learn_half} ({len(learn)} tasks, {calls} calls), score the other {len(test)}; "
            f"search_tools over MCP gives the pipeline's ranking: {parity}",
            "",
            HEADER,
            row("plain BM25", bm25, len(test)),
            row("search_tools, cold", cold, len(test)),
            row("search_tools, after learning", warm, len(test)),
            "",
            f"cold/BM25: R@5 {cold['R@5'] / bm25['R@5']:.2f}x, MRR {cold['MRR'] / bm25['MRR']:.2f}x; "
            f"learnt/BM25: R@5 {warm['R@5'] / bm25['R@5']:.2f}x, MRR {warm['MRR'] / bm25['MRR']:.2f}x",
            "",
        ]
    return lines


# -- the own query set ----------------------------------------------------------------------------


async def own_setup() -> tuple[SchemaToolsPlugin, list[tuple[LabelledQuery, set[str]]]]:
    first_party = PluginHost(parse_config({}), entry_points=True).load()
    # The history plugin's own tools are the real ones (it runs the search); the others are mirrored.
    own = [SchemaTool("", t.name, t.description, t.input_schema) for t in first_party.tools if t.plugin != "history"]
    upstream = await upstream_reference_tools() + livemcpbench_tools(livemcpbench_dir(), CHINESE_SERVERS)
    plugin = SchemaToolsPlugin([*own, *upstream])
    # First-party tools keep their names; upstream ones are mounted as <server>_<tool>.
    for tool in own:
        plugin.names[tool.key] = tool.name
    labelled = []
    for q in own_queries():
        names = {plugin.names.get(r if ":" in r else f":{r}", r) for r in q.relevant}
        labelled.append((q, names))
    return plugin, labelled


async def own_set(tmp: Path) -> list[str]:
    plugin, labelled = await own_setup()
    dev = [(q, rel) for q, rel in labelled if q.split == "dev"]
    held = [(q, rel) for q, rel in labelled if q.split == "heldout"]
    lines = [
        f"Own set: {len(labelled)} queries ({sum(q.lang == 'zh' for q, _ in labelled)} Chinese) over "
        f"{len(plugin.tools)} tools (first-party, the npm everything and filesystem servers, five LiveMCPBench "
        f"servers described in Chinese); learn from the {len(dev)} dev queries, score the {len(held)} held-out.",
        "",
        HEADER,
    ]
    async with bench_host(plugin, tmp) as host:
        baseline = PlainBM25(docs_of(host))
        cold_rankings = {q.id: await ranked(host, q.query) for q, _ in labelled}
        await agent_learns(host, [(q.query, sorted(rel)) for q, rel in dev])
        warm_rankings = {q.id: await ranked(host, q.query) for q, _ in held}
    for lang in ("en", "zh", None):
        every = [(q, r) for q, r in labelled if lang is None or q.lang == lang]
        part = [(q, r) for q, r in held if lang is None or q.lang == lang]
        tag = {"en": "English", "zh": "Chinese", None: "all"}[lang]
        rel_all, rel_part = [r for _q, r in every], [r for _q, r in part]
        lines.append(
            row(
                f"{tag}: plain BM25, all queries",
                metrics([baseline.rank(q.query) for q, _ in every], rel_all),
                len(every),
            )
        )
        lines.append(
            row(
                f"{tag}: search_tools cold, all queries",
                metrics([cold_rankings[q.id] for q, _ in every], rel_all),
                len(every),
            )
        )
        lines.append(
            row(f"{tag}: plain BM25, held-out", metrics([baseline.rank(q.query) for q, _ in part], rel_part), len(part))
        )
        lines.append(
            row(
                f"{tag}: search_tools cold, held-out",
                metrics([cold_rankings[q.id] for q, _ in part], rel_part),
                len(part),
            )
        )
        lines.append(
            row(
                f"{tag}: search_tools after dev, held-out",
                metrics([warm_rankings[q.id] for q, _ in part], rel_part),
                len(part),
            )
        )
    return [*lines, ""]


# -- two users, one need --------------------------------------------------------------------------


async def personal(tmp: Path, uses: int = 5, needs: int = 12) -> list[str]:
    plugin, tasks = livemcpbench_setup()
    queries = [t[0].question for t in tasks if half(t[0].task_id) == "B"][:needs]
    settled = 0
    first_both: list[int] = []
    async with bench_host(plugin, tmp) as host:
        for query in queries:
            cold = await ranked(host, query, user="ada")
            ada_tool, bob_tool = cold[1], cold[2]  # neither is first for anyone at the start
            when: int | None = None
            for use in range(1, uses + 1):
                for user, tool in (("ada", ada_tool), ("bob", bob_tool)):
                    session = f"{user}-{uuid.uuid4().hex}"
                    await host.call_tool("search_tools", {"query": query}, user_id=user, session_id=session)
                    done = await host.call_tool(tool, {}, user_id=user, session_id=session)
                    assert done.success
                ada_first = (await ranked(host, query, user="ada"))[0] == ada_tool
                bob_first = (await ranked(host, query, user="bob"))[0] == bob_tool
                if ada_first and bob_first and when is None:
                    when = use
                if not (ada_first and bob_first):
                    when = None
            if when is not None:
                settled += 1
                first_both.append(when)
    spread = f"{min(first_both)}-{max(first_both)}" if first_both else "-"
    return [
        f"Two users, the same {len(queries)} LiveMCPBench questions; Ada keeps choosing the tool ranked 2nd cold, "
        f"Bob the one ranked 3rd. After {uses} uses each sees their own tool first in {settled}/{len(queries)} "
        f"questions (uses needed: median {statistics.median(first_both) if first_both else '-'}, range {spread}).",
        "",
    ]


# -- latency and rebuild --------------------------------------------------------------------------


def timing_row(label: str, values: Sequence[float]) -> str:
    return f"| {label} | {percentile(values, 0.5):.2f} | {percentile(values, 0.95):.2f} |"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def latency(tmp: Path, samples: int = 1000) -> list[str]:
    plugin, tasks = livemcpbench_setup()
    extra = [SchemaTool(f"{t.server}-copy", t.name, t.description, t.input_schema) for t in plugin.tools]
    own = [q.query for q in own_queries()]
    tools = [*plugin.tools, *extra][:1000]
    big = SchemaToolsPlugin(tools)
    lines = []
    async with bench_host(big, tmp) as host:
        n_tools = len(host.tools) - 1
        calls = [(t[0].question, t[2]) for t in tasks if half(t[0].task_id) == "A"]
        await agent_learns(host, calls)
        search = search_of(host)
        queries = [t[0].question for t in tasks] + own
        stream = [queries[i % len(queries)] for i in range(samples)]
        direct, direct_cpu, pipeline = [], [], []
        for q in stream:
            started, cpu = time.perf_counter(), time.thread_time()
            search.find(q, "agent", limit=5)
            direct.append((time.perf_counter() - started) * 1000)
            direct_cpu.append((time.thread_time() - cpu) * 1000)
            started = time.perf_counter()
            await host.call_tool("search_tools", {"query": q}, session_id="latency")
            pipeline.append((time.perf_counter() - started) * 1000)
        over_mcp = []
        async with Client(PlugyardServer(host)) as client:
            for q in stream[:300]:
                started = time.perf_counter()
                await client.call_tool("search_tools", {"query": q})
                over_mcp.append((time.perf_counter() - started) * 1000)
        docs = docs_of(host)
        rebuilds, partial = [], []
        for _ in range(10):
            started = time.perf_counter()
            index = ToolIndex(docs)
            rebuilds.append((time.perf_counter() - started) * 1000)
            # One server's tools listed again: the others keep their tokens.
            server = docs[0].name.split("_")[0]
            kept = {name: f for name, f in index.fields.items() if not name.startswith(server + "_")}
            started = time.perf_counter()
            ToolIndex(docs, prepared=kept)
            partial.append((time.perf_counter() - started) * 1000)
    lines += [
        f"load average {os.getloadavg()[0]:.1f} at the end (2 cores shared with other work: wall times include waiting "
        "for a core; the thread's CPU time does not).",
        "",
        f"{n_tools} tools registered (LiveMCPBench's 527 and copies under other server names), associations learnt "
        f"from {len(calls)} tasks; {samples} searches (LiveMCPBench questions, long, and the own set's queries), "
        "limit 5.",
        "",
        "| path | p50 ms | p95 ms |",
        "|---|---|---|",
        timing_row("ranking alone (ToolSearch.find), wall", direct),
        timing_row("ranking alone, CPU time of the thread", direct_cpu),
        timing_row("search_tools through the pipeline (recorded)", pipeline),
        timing_row("search_tools over an in-memory MCP session", over_mcp),
        "",
        f"Index rebuild for {len(docs)} tools: median {statistics.median(rebuilds):.1f} ms "
        f"(range {min(rebuilds):.1f}-{max(rebuilds):.1f}, 10 builds); after one server's tools were registered "
        f"again (the others' tokens kept): median {statistics.median(partial):.1f} ms "
        f"(range {min(partial):.1f}-{max(partial):.1f}).",
        "",
    ]
    return lines


# -- tokenizers -----------------------------------------------------------------------------------


def jieba_analyzer() -> Analyzer | None:
    try:
        import jieba  # a measurement only: not a dependency
    except ImportError:
        return None
    import logging

    jieba.setLogLevel(logging.WARNING)
    from plugyard.learning.search import tokenize

    def analyze(text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for piece in tokenize._PIECES.findall(text):
            if tokenize._HAN.match(piece):
                out += [(w, w) for w in jieba.lcut_for_search(piece) if not all(c in tokenize._CHINESE_STOP for c in w)]
            else:
                out += tokenize.terms_with_words(piece)
        return out

    return analyze


def unigram_analyzer() -> Analyzer:
    from plugyard.learning.search import tokenize

    def analyze(text: str) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for piece in tokenize._PIECES.findall(text):
            if tokenize._HAN.match(piece):
                out += [(c, c) for c in piece if c not in tokenize._CHINESE_STOP]
            else:
                out += tokenize.terms_with_words(piece)
        return out

    return analyze


async def tokenizers() -> list[str]:
    """Chinese tokens compared at the ranker's level on the own set: cold, and after the dev queries."""
    plugin, labelled = await own_setup()
    docs = [ToolDoc(plugin.names[t.key], t.description, t.input_schema) for t in plugin.tools]
    candidates: dict[str, Analyzer | None] = {
        "character bigrams (shipped)": terms_with_words,
        "single characters": unigram_analyzer(),
        "jieba lcut_for_search": jieba_analyzer(),
    }
    lines = [
        "| Chinese tokens | zh R@5 cold (all) | zh MRR cold | zh R@5 after dev (held-out) | zh MRR after dev "
        "| build ms |",
        "|---|---|---|---|---|---|",
    ]
    for label, analyzer in candidates.items():
        if analyzer is None:
            lines.append(f"| {label} | (jieba not installed) | | | | |")
            continue
        started = time.perf_counter()
        index = ToolIndex(docs, analyzer=analyzer)
        build = (time.perf_counter() - started) * 1000
        learnt = Associations()
        ranker = Ranker(index, learnt)
        zh = [(q, r) for q, r in labelled if q.lang == "zh"]
        cold = metrics([[h.name for h in ranker.search(q.query, "u", limit=10)] for q, _ in zh], [r for _, r in zh])
        for q, rel in [(q, r) for q, r in labelled if q.split == "dev"]:
            shown = [h.name for h in ranker.search(q.query, "u", limit=10)]
            query_terms = [t for t, _w in analyzer(q.query)]
            for tool in rel:
                learnt.add("u", query_terms, tool, 1.0)
            for tool in shown:
                if tool not in rel:
                    learnt.add("u", query_terms, tool, -WEAK)
        part = [(q, r) for q, r in zh if q.split == "heldout"]
        warm = metrics([[h.name for h in ranker.search(q.query, "u", limit=10)] for q, _ in part], [r for _, r in part])
        lines.append(
            f"| {label} | {cold['R@5']:.3f} | {cold['MRR']:.3f} | {warm['R@5']:.3f} | {warm['MRR']:.3f} | {build:.1f} |"
        )
    return [*lines, ""]


SECTIONS: dict[str, Callable[[Path], Any]] = {
    "livemcpbench": livemcpbench,
    "own": own_set,
    "personal": personal,
    "latency": latency,
    "tokenizers": lambda _tmp: tokenizers(),
}


async def main(only: Sequence[str]) -> None:
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; python {sys.version.split()[0]}\n")
    with tempfile.TemporaryDirectory() as tmp:
        for name in only:
            started = time.perf_counter()
            lines = await SECTIONS[name](Path(tmp))
            print(f"### {name} ({time.perf_counter() - started:.0f} s)\n")
            print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(SECTIONS), default=list(SECTIONS))
    args = parser.parse_args()
    anyio.run(main, args.only)
