"""Development harness for tool search's weights, on LiveMCPBench half A only (half B is kept for
bench_search.py's score): cold ranking on A, and learning A1 -> A2 and A2 -> A1 (A split again by a
hash). Ranker level (the same learn_call / learn_skip as the server), no MCP, seconds per setting.

    python bench/tune_search.py
"""

from __future__ import annotations

import hashlib
import itertools
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_search import PlainBM25, docs_of, livemcpbench_setup, metrics
from search_data import half

from plugyard.core.config import parse_config
from plugyard.core.host import PluginHost
from plugyard.history.plugin import HistoryPlugin
from plugyard.history.search import ToolSearch
from plugyard.learning.router import ToolPreferenceRouter
from plugyard.learning.search import ranker
from plugyard.learning.search.bm25 import Field
from plugyard.learning.search.learned import Associations
from plugyard.learning.search.ranker import Ranker, ToolIndex
from plugyard.learning.search.sequences import Outcome, SearchEvent, replay


def quarter(task_id: str) -> int:
    return hashlib.sha256(f"dev:{task_id}".encode()).digest()[0] % 2


def evaluate(docs, tasks, fields, learnt_w, mine_w, k1, b, weak, pref=ranker.PREFERENCE) -> dict[str, float]:  # type: ignore[no-untyped-def]
    index = ToolIndex(docs, fields)
    cold_ranker = Ranker(index)
    cold = metrics(
        [[h.name for h in cold_ranker.search(t.question, "u", limit=10)] for t, _r, _c in tasks],
        [r for _t, r, _c in tasks],
    )
    warm_parts = []
    for learn_q in (0, 1):
        learn = [x for x in tasks if quarter(x[0].task_id) == learn_q]
        test = [x for x in tasks if quarter(x[0].task_id) != learn_q]
        ranker.WEAK = weak
        r = Ranker(index, Associations(k1=k1, b=b), learnt=learnt_w, mine=mine_w, preference=pref)
        # The router learns the same calls, as the history plugin's does; its posteriors are the preferences.
        router = ToolPreferenceRouter()
        search = ToolSearch(lambda router=router: router)
        for task, _rel, calls in learn:
            shown = tuple(h.name for h in r.search(task.question, "agent", limit=10))
            event = SearchEvent(
                task.task_id, "agent", None, task.question, shown, 0.0, [Outcome(c, True) for c in calls]
            )
            for user, query, tool, success in replay([event]):
                if success is None:
                    r.learn_skip(user, query, tool)
                else:
                    r.learn_call(user, query, tool, success)
                    router.observe(user, tool, success, 1.0)
        warm_parts.append(
            metrics(
                [
                    [h.name for h in r.search(t.question, "agent", limit=10, preferences=search.usage)]
                    for t, _r, _c in test
                ],
                [x[1] for x in test],
            )
        )
    warm = {k: statistics.fmean(p[k] for p in warm_parts) for k in warm_parts[0]}
    return {**{f"cold {k}": v for k, v in cold.items()}, **{f"warm {k}": v for k, v in warm.items()}}


def main() -> None:
    plugin, tasks = livemcpbench_setup()
    host = PluginHost(
        parse_config({}), entry_points=False, plugins={"history": HistoryPlugin(), "bench": plugin}
    ).load()
    docs = docs_of(host)
    dev = [t for t in tasks if half(t[0].task_id) == "A"]
    base = metrics([PlainBM25(docs).rank(t.question) for t, _r, _c in dev], [r for _t, r, _c in dev])
    print("plain BM25 on A:", {k: round(v, 3) for k, v in base.items()})
    grid = itertools.product(
        [(3.0, 0.5)],  # name weight, b
        [0.3],  # parameters weight
        [(0.25, 0.25)],  # learnt (everyone's), mine
        [0.1],  # weak
        [0.0],  # learnt b
        [1.2],  # learnt k1
        [0.0, 0.25, 0.5, 1.0, 2.0],  # preference
    )
    for (name_w, name_b), param_w, (learnt_w, mine_w), weak, lb, lk1, pref in grid:
        fields = (Field("name", name_w, name_b), Field("description", 1.0, 0.75), Field("parameters", param_w, 0.75))
        m = evaluate(docs, dev, fields, learnt_w, mine_w, lk1, lb, weak, pref)
        print(
            f"name {name_w}/{name_b} params {param_w} learnt {learnt_w} mine {mine_w} weak {weak} lb {lb} lk1 {lk1} "
            f"preference {pref}: " + " ".join(f"{k} {v:.3f}" for k, v in m.items() if k.endswith(("R@1", "R@5", "MRR")))
        )


if __name__ == "__main__":
    main()
