"""Tool search's ranking units: tokens in both languages, BM25 against hand-computed scores, the
learnt associations and the sequences that feed them."""

from __future__ import annotations

import math

import pytest

from plugyard.learning.search.bm25 import BM25FIndex, Field
from plugyard.learning.search.learned import WEAK, Associations
from plugyard.learning.search.ranker import Ranker, ToolDoc, ToolIndex, Usage, tool_fields
from plugyard.learning.search.sequences import Outcome, SearchEvent, SearchSequences, outcome_of, replay
from plugyard.learning.search.tokenize import split_identifier, stem, terms

# -- tokens ---------------------------------------------------------------------------------------


def test_identifiers_split_on_separators_and_camel_case():
    assert split_identifier("get_weather-forecast.v2") == ["get", "weather", "forecast", "v2"]
    assert split_identifier("getWeatherForecast") == ["get", "weather", "forecast"]
    assert split_identifier("HTTPServerError") == ["http", "server", "error"]
    assert split_identifier("read_file/path") == ["read", "file", "path"]


def test_english_terms_drop_stop_words_and_meet_on_a_stem():
    assert terms("Search the notes for files") == ["search", "note", "file"]
    assert terms("converting units") == terms("convert unit")
    assert [stem(w) for w in ("queries", "running", "stopped", "classes", "status", "analysis")] == [
        "query",
        "run",
        "stop",
        "class",
        "status",
        "analysis",
    ]
    # Full-width letters are normalised; one-letter words and single digits say nothing.
    assert terms("ＰＤＦ a 3 2024") == ["pdf", "2024"]


def test_chinese_is_not_split_on_spaces_but_into_character_bigrams():
    assert terms("天气预报") == ["天气", "气预", "预报"]
    # No space is needed, and a Latin word inside Chinese stays a word.
    assert terms("把PDF转成Word") == ["pdf", "转成", "word"]
    # A bigram of two glue characters (的, 一, 个 ...) is dropped; one glue character beside a word stays.
    assert "一个" not in terms("一个文件")
    assert terms("文件") == ["文件"]


def test_a_tools_fields_come_from_its_name_description_and_parameters():
    doc = ToolDoc(
        "bing_search",
        "使用必应搜索指定的关键词",
        {"properties": {"num_results": {"description": "返回的结果数量"}, "query": {"type": "string"}}},
    )
    fields = tool_fields(doc)
    assert fields["name"] == ["bing", "search"]
    assert "搜索" in fields["description"] and "必应" in fields["description"]
    assert {"num", "result", "query", "返回", "结果", "数量"} <= set(fields["parameters"])


# -- BM25 -----------------------------------------------------------------------------------------


def test_plain_bm25_matches_scores_computed_by_hand():
    index = BM25FIndex(
        [Field("text")],
        [
            ("d1", {"text": ["weather", "forecast", "city"]}),
            ("d2", {"text": ["note", "search"]}),
            ("d3", {"text": ["weather"]}),
        ],
    )
    # N = 3, avgdl = (3 + 2 + 1) / 3 = 2; df(weather) = 2: idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6.
    idf = math.log(1.6)
    # d1: tf 1, dl 3: tf~ = 1 / (1 - 0.75 + 0.75 * 3/2) = 1 / 1.375; score = idf * tf~ / (1.2 + tf~).
    d1 = idf * (1 / 1.375) / (1.2 + 1 / 1.375)
    # d3: dl 1: tf~ = 1 / (0.25 + 0.375) = 1.6.
    d3 = idf * 1.6 / (1.2 + 1.6)
    scores = index.scores(["weather"])
    assert scores.keys() == {0, 2}
    assert scores[0] == pytest.approx(d1) == pytest.approx(0.177360, abs=1e-6)
    assert scores[2] == pytest.approx(d3) == pytest.approx(0.268574, abs=1e-6)
    # Two terms add; a repeated query term counts once; an unknown term matches nothing.
    idf_city = math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))
    both = index.scores(["weather", "city", "city", "nowhere"])
    assert both[0] == pytest.approx(d1 + idf_city * (1 / 1.375) / (1.2 + 1 / 1.375))


def test_bm25f_weights_and_normalises_each_field_on_its_own():
    fields = [Field("name", weight=2.0, b=0.5), Field("description", weight=1.0, b=0.75)]
    index = BM25FIndex(
        fields,
        [
            ("a", {"name": ["read", "note"], "description": ["read", "one", "note", "file"]}),
            ("b", {"name": ["list", "file"], "description": ["list", "every", "file"]}),
        ],
    )
    # "note" is in a only: idf = ln(1 + (2 - 1 + 0.5) / 1.5) = ln 2. avg name length 2, description 3.5.
    # a: name tf 1, len 2: 2 * 1 / (0.5 + 0.5 * 2/2) = 2; description tf 1, len 4: 1 / (0.25 + 0.75 * 4/3.5).
    tf = 2.0 + 1.0 / (0.25 + 0.75 * 4 / 3.5)
    assert index.scores(["note"])[0] == pytest.approx(math.log(2) * tf / (1.2 + tf))
    # "file" is in both: idf = ln(1 + 0.5 / 2.5); b's name holds it, a's does not: b ranks first.
    file_scores = index.scores(["file"])
    assert file_scores[1] > file_scores[0] > 0


# -- learnt associations --------------------------------------------------------------------------


def test_associations_score_as_bm25_over_learnt_documents_and_keep_each_user_apart():
    learnt = Associations()
    learnt.add("ada", ["weather"], "forecast", 1.0)
    learnt.add("ada", ["weather", "weather"], "forecast", 1.0)  # a repeated term counts once
    learnt.add("ada", ["weather"], "alerts", -1.0)
    learnt.add("bob", ["weather"], "radar", -WEAK)
    tools = ["forecast", "alerts", "radar"]
    ada = learnt.score("ada", ["weather"], tools, n_tools=10)
    bob = learnt.score("bob", ["weather"], tools, n_tools=10)
    # One of 10 tools has positive evidence for "weather": idf = ln(1 + (10 - 1 + 0.5) / (1 + 0.5)).
    idf = math.log(1 + 9.5 / 1.5)
    # Two successes, no length normalisation (B = 0): tf 2, lift = idf * 2 / (1.2 + 2).
    assert ada["forecast"].lift == pytest.approx(idf * 2 / 3.2)
    assert ada["forecast"].my_lift == pytest.approx(idf * 2 / 3.2) and ada["forecast"].my_searches == 2
    # A failure sinks by idf * n / (n + 1); a skip by the same with n = WEAK.
    assert ada["alerts"].sink == pytest.approx(idf * 0.5) and ada["alerts"].lift == 0
    assert bob["radar"].my_sink == pytest.approx(idf * WEAK / (WEAK + 1))
    # Bob sees everyone's evidence for forecast, none of it as his own.
    assert bob["forecast"].lift == ada["forecast"].lift and bob["forecast"].my_lift == 0
    assert learnt.tools_for(["weather"]) == {"forecast"}
    # A term that points to many tools says less about each.
    for tool in ("a", "b", "c", "d"):
        learnt.add("ada", ["weather"], tool, 1.0)
    assert learnt.score("ada", ["weather"], ["forecast"], 10)["forecast"].lift < ada["forecast"].lift
    learnt.forget_user("ada")
    assert learnt.score("ada", ["weather"], ["forecast"], 10)["forecast"].my_lift == 0


def test_sequences_attach_the_sessions_calls_to_its_open_search_until_resolved():
    seq = SearchSequences(window=60, max_following=2)
    first = SearchEvent("s1", "ada", "sess", "weather", ("forecast", "alerts", "radar"), at=0.0)
    assert seq.opened(first) is None
    event, resolved = seq.followed("ada", "sess", outcome_of("forecast", True, None, "c1"), at=1.0)
    assert event is first and resolved is None
    # Another session's calls are not this search's outcomes.
    assert seq.followed("ada", "other", Outcome("alerts", True), at=2.0) == (None, None)
    # A failure that is not the tool's fault is an outcome with no verdict.
    _event, resolved = seq.followed("ada", "sess", outcome_of("alerts", False, "InvalidArguments", "c2"), at=3.0)
    assert resolved is first and first.outcomes[1].success is None
    # Both tools called were ranked above radar: read as a cascade, radar was never passed over.
    assert first.hit and first.skipped == []
    assert list(replay([first])) == [("ada", "weather", "forecast", True)]
    # Calling the third shown tool passes over the two above it; calling none passes over nothing.
    below = SearchEvent("s0", "ada", None, "weather", ("forecast", "alerts", "radar"), 0.0, [Outcome("radar", False)])
    assert below.skipped == ["forecast", "alerts"] and not below.hit
    assert list(replay([below])) == [
        ("ada", "weather", "radar", False),
        ("ada", "weather", "forecast", None),
        ("ada", "weather", "alerts", None),
    ]
    elsewhere = SearchEvent("s9", "ada", None, "weather", ("forecast", "alerts"), 0.0, [Outcome("read_file", True)])
    assert elsewhere.skipped == ["forecast", "alerts"]
    assert SearchEvent("s8", "ada", None, "weather", ("forecast",), 0.0).skipped == []
    # The next search in a session resolves the open one; one past its window resolves without the call.
    seq.opened(SearchEvent("s2", "ada", "sess", "notes", ("read_note",), at=10.0))
    assert seq.opened(SearchEvent("s3", "ada", "sess", "notes", ("read_note",), at=11.0)).search_id == "s2"
    event, late = seq.followed("ada", "sess", Outcome("read_note", True), at=100.0)
    assert event is None and late.search_id == "s3" and late.outcomes == []
    # Without a session, the user's calls stand in for it.
    seq.opened(SearchEvent("s4", "bob", None, "x", ("a",), at=0.0))
    assert seq.followed("bob", None, Outcome("a", False), at=1.0)[0].search_id == "s4"
    assert [e.search_id for e in seq.close_all()] == ["s4"]


# -- the ranker -----------------------------------------------------------------------------------

DOCS = [
    ToolDoc("get_weather", "Current weather for a city.", {"properties": {"city": {"description": "City name"}}}),
    ToolDoc("weather_alerts", "Severe weather warnings for a region.", {"properties": {"region": {}}}),
    ToolDoc("search_notes", "Search the user's notes for words.", {"properties": {"query": {}}}),
    ToolDoc("bing_search", "使用必应搜索指定的关键词，并返回搜索结果列表", {"properties": {"query": {}}}),
]


def test_ranker_orders_by_text_and_says_what_matched():
    ranker = Ranker(ToolIndex(DOCS))
    hits = ranker.search("weather in Paris", "ada")
    assert [h.name for h in hits] == ["get_weather", "weather_alerts"]
    assert hits[0].why() == "matches 'weather'"
    assert [h.name for h in ranker.search("用必应搜索一下", "ada")] == ["bing_search"]
    assert ranker.search("nothing fits this", "ada") == []


def test_learnt_associations_bring_in_a_tool_the_text_misses_and_the_callers_own_count_more():
    learnt = Associations()
    ranker = Ranker(ToolIndex(DOCS), learnt)
    for _ in range(3):
        learnt.add("ada", ["umbrella"], "get_weather", 1.0)
    ada = ranker.search("do I need an umbrella", "ada")
    bob = ranker.search("do I need an umbrella", "bob")
    assert ada[0].name == bob[0].name == "get_weather"
    assert ada[0].score > bob[0].score
    assert "you chose it after 3 searches like this" in ada[0].why()
    assert bob[0].why() == "often chosen after searches like this"


def test_the_callers_preferences_reorder_fitting_tools_and_never_bring_in_others():
    ranker = Ranker(ToolIndex(DOCS))
    cold = [h.name for h in ranker.search("weather", "ada")]

    def usage(user_id, names):
        return {"weather_alerts": Usage(calls=12, successes=11, success_mean=0.9)} if user_id == "ada" else {}

    warm = ranker.search("weather", "ada", preferences=usage)
    assert cold[0] == "get_weather" and warm[0].name == "weather_alerts"
    assert "you used it 12 times, 11 succeeded" in warm[0].why()
    assert [h.name for h in ranker.search("weather", "bob", preferences=usage)] == cold
    assert "search_notes" not in {h.name for h in warm}
