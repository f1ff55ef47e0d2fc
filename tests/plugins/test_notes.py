"""The notes plugin, through the real host pipeline and directly, on real files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plugyard import ToolContext, ToolOutcome
from plugyard.core.config import parse_config
from plugyard.core.errors import ConfigError
from plugyard.core.host import PluginHost
from plugyard.plugins import notes
from plugyard.plugins.notes import Note, NoteListing, NoteMatch, NotesSettings, note_title


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A notes folder with nested notes, a non-note, a hidden folder, and a secret outside it."""
    root = tmp_path / "notes"
    (root / "devops").mkdir(parents=True)
    (root / ".obsidian").mkdir()
    (root / "docker.md").write_text(
        "# Docker tips\n\nRun `docker volume ls` to list volumes.\nPrune with docker system prune.\n"
    )
    (root / "devops" / "kubernetes.md").write_text(
        "# Kubernetes\n\nA pod can mount a Docker volume through a hostPath.\n"
    )
    (root / "devops" / "ci.txt").write_text("The CI builds a docker image.\n")
    (root / "recipes.org").write_text("#+TITLE: Recipes\n* Soup\nvolume of water: 2 litres\n")
    (root / "script.py").write_text("# docker volume helper\n")
    (root / ".obsidian" / "cache.md").write_text("docker volume docker volume\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("# Secret\npassword docker volume\n")
    return root


async def call(config: dict[str, Any], tool: str, arguments: dict[str, Any]) -> ToolOutcome:
    host = PluginHost(parse_config({"plugins": {"notes": config}}), entry_points=False, plugins={"notes": notes})
    async with host.running():
        return await host.call_tool(tool, arguments)


async def ok(root: Path, tool: str, arguments: dict[str, Any]) -> Any:
    outcome = await call({"root": str(root)}, tool, arguments)
    assert outcome.success, outcome.error_message
    return outcome.result


async def error(root: Path, tool: str, arguments: dict[str, Any]) -> str:
    outcome = await call({"root": str(root)}, tool, arguments)
    assert not outcome.success
    assert outcome.error_message is not None
    return outcome.error_message


def ctx_for(settings: NotesSettings) -> ToolContext:
    return ToolContext(user_id="u", session_id=None, call_id="c", tool_name="t", plugin_name="notes", settings=settings)


# -- search -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_search_ranks_a_title_or_file_name_match_above_a_body_mention(root: Path) -> None:
    matches: list[NoteMatch] = await ok(root, "search_notes", {"query": "docker"})
    paths = [m.path for m in matches]
    assert paths[0] == "docker.md"
    assert set(paths) == {"docker.md", "devops/kubernetes.md", "devops/ci.txt"}
    assert matches[0].score > matches[1].score


@pytest.mark.anyio
async def test_search_requires_every_query_word_in_the_note(root: Path) -> None:
    matches: list[NoteMatch] = await ok(root, "search_notes", {"query": "docker volume"})
    assert [m.path for m in matches] == ["docker.md", "devops/kubernetes.md"]


@pytest.mark.anyio
async def test_search_is_case_insensitive_and_gives_line_snippet_and_title(root: Path) -> None:
    matches: list[NoteMatch] = await ok(root, "search_notes", {"query": "HOSTPATH Pod"})
    assert len(matches) == 1
    match = matches[0]
    assert match.path == "devops/kubernetes.md"
    assert match.title == "Kubernetes"
    assert match.line == 3
    assert match.snippet == "A pod can mount a Docker volume through a hostPath."
    assert match.match_count == 2


@pytest.mark.anyio
async def test_search_counts_a_word_found_only_in_the_path(root: Path) -> None:
    matches: list[NoteMatch] = await ok(root, "search_notes", {"query": "devops image"})
    assert [m.path for m in matches] == ["devops/ci.txt"]


@pytest.mark.anyio
async def test_search_returns_at_most_limit_matches(root: Path) -> None:
    matches = await ok(root, "search_notes", {"query": "docker", "limit": 1})
    assert len(matches) == 1


@pytest.mark.anyio
async def test_search_ignores_other_extensions_hidden_folders_and_links_leading_outside(root: Path) -> None:
    (root / "leak.md").symlink_to(root.parent / "outside" / "secret.md")
    matches: list[NoteMatch] = await ok(root, "search_notes", {"query": "volume"})
    paths = {m.path for m in matches}
    assert "script.py" not in paths
    assert not any(p.startswith(".obsidian") for p in paths)
    assert "leak.md" not in paths
    assert await ok(root, "search_notes", {"query": "password"}) == []


@pytest.mark.anyio
async def test_search_skips_notes_larger_than_max_file_bytes(root: Path) -> None:
    (root / "big.md").write_text("needle " * 100)
    outcome = await call({"root": str(root), "max_file_bytes": 200}, "search_notes", {"query": "needle"})
    assert outcome.success and outcome.result == []


@pytest.mark.anyio
async def test_search_rejects_a_limit_outside_1_to_100_before_running(root: Path) -> None:
    outcome = await call({"root": str(root)}, "search_notes", {"query": "x", "limit": 0})
    assert outcome.error_type == "InvalidArguments"
    assert "limit" in (outcome.error_message or "")


@pytest.mark.anyio
async def test_search_finds_a_long_line_and_shortens_its_snippet_around_the_match(root: Path) -> None:
    (root / "long.md").write_text("filler " * 100 + "zebra crossing " + "filler " * 100)
    matches: list[NoteMatch] = await ok(root, "search_notes", {"query": "zebra"})
    assert "zebra" in matches[0].snippet
    assert len(matches[0].snippet) <= 202
    assert matches[0].snippet.startswith("…") and matches[0].snippet.endswith("…")


# -- read -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_read_note_returns_text_title_and_size(root: Path) -> None:
    note: Note = await ok(root, "read_note", {"path": "devops/kubernetes.md"})
    assert note.title == "Kubernetes"
    assert note.text == (root / "devops" / "kubernetes.md").read_text()
    assert note.size_bytes == (root / "devops" / "kubernetes.md").stat().st_size
    assert note.path == "devops/kubernetes.md"


@pytest.mark.anyio
async def test_read_note_uses_the_file_name_when_there_is_no_heading(root: Path) -> None:
    note: Note = await ok(root, "read_note", {"path": "devops/ci.txt"})
    assert note.title == "ci"


@pytest.mark.anyio
async def test_read_note_refuses_a_dotdot_path_naming_path_and_root(root: Path) -> None:
    message = await error(root, "read_note", {"path": "../outside/secret.md"})
    assert "ValueError" in message
    assert "'../outside/secret.md'" in message
    assert str(root) in message


@pytest.mark.anyio
async def test_read_note_refuses_a_dotdot_hidden_in_the_middle_or_with_backslashes(root: Path) -> None:
    for path in ("devops/../../outside/secret.md", "..\\outside\\secret.md"):
        message = await error(root, "read_note", {"path": path})
        assert "'..'" in message and str(root) in message


@pytest.mark.anyio
async def test_read_note_refuses_an_absolute_path_even_inside_the_root(root: Path) -> None:
    for path in (str(root.parent / "outside" / "secret.md"), str(root / "docker.md")):
        message = await error(root, "read_note", {"path": path})
        assert "absolute" in message and str(root) in message


@pytest.mark.anyio
async def test_read_note_refuses_a_symlink_that_resolves_outside_the_root(root: Path) -> None:
    (root / "leak.md").symlink_to(root.parent / "outside" / "secret.md")
    (root / "linked").symlink_to(root.parent / "outside", target_is_directory=True)
    for path in ("leak.md", "linked/secret.md"):
        message = await error(root, "read_note", {"path": path})
        assert "outside the notes root" in message and repr(path) in message
        assert "password" not in message


@pytest.mark.anyio
async def test_read_note_follows_a_symlink_that_stays_inside_the_root(root: Path) -> None:
    (root / "alias.md").symlink_to(root / "docker.md")
    note: Note = await ok(root, "read_note", {"path": "alias.md"})
    assert note.title == "Docker tips"


@pytest.mark.anyio
async def test_read_note_refuses_files_that_are_not_notes(root: Path) -> None:
    message = await error(root, "read_note", {"path": "script.py"})
    assert "not a note" in message and ".md" in message


@pytest.mark.anyio
async def test_read_note_refuses_a_note_larger_than_max_file_bytes(root: Path) -> None:
    outcome = await call({"root": str(root), "max_file_bytes": 10}, "read_note", {"path": "docker.md"})
    assert not outcome.success
    assert "max_file_bytes" in (outcome.error_message or "")


@pytest.mark.anyio
async def test_read_note_of_a_missing_note_suggests_close_names(root: Path) -> None:
    message = await error(root, "read_note", {"path": "dokcer.md"})
    assert "FileNotFoundError" in message and "'docker.md'" in message


@pytest.mark.anyio
async def test_read_note_of_a_folder_points_to_list_notes(root: Path) -> None:
    message = await error(root, "read_note", {"path": "devops"})
    assert "list_notes" in message


# -- list -----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_notes_lists_every_note_recursively_sorted(root: Path) -> None:
    listing: NoteListing = await ok(root, "list_notes", {})
    assert listing.folder == ""
    assert [n.path for n in listing.notes] == [
        "devops/ci.txt",
        "devops/kubernetes.md",
        "docker.md",
        "recipes.org",
    ]
    assert not listing.truncated


@pytest.mark.anyio
async def test_list_notes_of_a_subfolder_keeps_paths_relative_to_the_root(root: Path) -> None:
    listing: NoteListing = await ok(root, "list_notes", {"folder": "devops"})
    assert listing.folder == "devops"
    assert [n.path for n in listing.notes] == ["devops/ci.txt", "devops/kubernetes.md"]


@pytest.mark.anyio
async def test_list_notes_refuses_folders_outside_the_root(root: Path) -> None:
    (root / "linked").symlink_to(root.parent / "outside", target_is_directory=True)
    for folder in ("..", "/", "linked"):
        message = await error(root, "list_notes", {"folder": folder})
        assert "ValueError" in message and str(root) in message


# -- configuration --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_missing_root_tells_the_user_to_set_plugins_notes_root(tmp_path: Path) -> None:
    for tool, arguments in [
        ("search_notes", {"query": "x"}),
        ("read_note", {"path": "a.md"}),
        ("list_notes", {}),
    ]:
        outcome = await call({"root": str(tmp_path / "nowhere")}, tool, arguments)
        assert not outcome.success
        assert "[plugins.notes] root" in (outcome.error_message or "")
        assert str(tmp_path / "nowhere") in (outcome.error_message or "")


def test_relative_root_is_resolved_against_the_working_directory_when_settings_are_read(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(root.parent)
    settings = NotesSettings(root="notes")
    monkeypatch.chdir(root / "devops")
    assert settings.root == str(root)
    assert [n.path for n in notes.list_notes(ctx_for(settings)).notes][-1] == "recipes.org"


def test_tilde_in_root_is_expanded(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(root.parent))
    assert NotesSettings(root="~/notes").root == str(root)


def test_extensions_are_normalised_to_lower_case_with_a_dot() -> None:
    assert NotesSettings(extensions=["MD", " .Txt "]).extensions == [".md", ".txt"]


def test_an_unknown_setting_stops_loading_naming_it(root: Path) -> None:
    host = PluginHost(
        parse_config({"plugins": {"notes": {"root": str(root), "rooot": "x"}}}),
        entry_points=False,
        plugins={"notes": notes},
    )
    with pytest.raises(ConfigError, match=r"\[plugins\.notes\] rooot: unknown key"):
        host.load()


@pytest.mark.anyio
async def test_without_configuration_notes_live_in_the_data_directory_made_with_a_readme(tmp_path: Path) -> None:
    # The test environment points PLUGYARD_DATA_DIR at tmp_path / "data".
    folder = tmp_path / "data" / "notes"
    host = PluginHost(parse_config({}), entry_points=False, plugins={"notes": notes}).load()
    assert host.infos["notes"].settings is not None and host.infos["notes"].settings["root"] == str(folder)
    assert not folder.exists()  # listing the plugins creates nothing
    async with host.running():
        listed = await host.call_tool("list_notes", {})
        found = await host.call_tool("search_notes", {"query": "notes"})
    assert listed.success and [n.path for n in listed.result.notes] == ["README.md"]
    assert found.success and found.result[0].path == "README.md"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "[plugins.notes]" in readme and "plugyard plugins" in readme


@pytest.mark.anyio
async def test_the_default_folder_is_left_as_the_user_made_it(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "notes"
    folder.mkdir(parents=True)
    (folder / "todo.md").write_text("# Todo\n", encoding="utf-8")
    async with PluginHost(parse_config({}), entry_points=False, plugins={"notes": notes}).running() as host:
        listed = await host.call_tool("list_notes", {})
    assert [n.path for n in listed.result.notes] == ["todo.md"]


def test_tools_are_registered_read_only_with_capabilities_and_without_ctx_in_schema(root: Path) -> None:
    host = PluginHost(parse_config({}), entry_points=False, plugins={"notes": notes}).load()
    search = host.tools.get("search_notes")
    assert search is not None
    assert search.capabilities == ("search_notes",) and search.read_only is True
    assert set(search.input_schema["properties"]) == {"query", "limit"}
    assert search.input_schema["properties"]["limit"]["maximum"] == 100
    assert {t.name for t in host.tools.by_plugin("notes")} == {"search_notes", "read_note", "list_notes"}
    assert all(t.read_only for t in host.tools.by_plugin("notes"))


# -- titles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "filename", "title"),
    [
        ("intro\n## Second level\n# First\n", "a.md", "Second level"),
        ("---\ntitle: 'From front matter'\n---\n# Heading\n", "a.md", "From front matter"),
        ("# Closed heading ##\n", "a.md", "Closed heading"),
        ("#hashtag is not a heading\n", "tags.md", "tags"),
        ("Intro text\n\nReal Title\n==========\n", "a.rst", "Real Title"),
        ("=====\nTitle\n=====\n", "a.rst", "Title"),
        ("#+title: Org Title\n* Heading\n", "a.org", "Org Title"),
        ("* First heading\n** Sub\n", "a.org", "First heading"),
        ("plain text\n", "folder/plain.txt", "plain"),
    ],
)
def test_note_title_reads_the_first_heading_of_each_format(text: str, filename: str, title: str) -> None:
    assert note_title(text, filename) == title


def test_confine_returns_the_real_path_inside_the_root(root: Path) -> None:
    real_root = root.resolve()
    assert notes.confine(real_root, "devops/ci.txt") == real_root / "devops" / "ci.txt"
    assert notes.confine(real_root, "./docker.md") == real_root / "docker.md"
    with pytest.raises(ValueError, match="NUL"):
        notes.confine(real_root, "a\x00b")


def test_search_and_list_skip_a_dangling_symlink(root: Path) -> None:
    (root / "gone.md").symlink_to(root / "deleted.md")
    ctx = ctx_for(NotesSettings(root=str(root)))
    assert "gone.md" not in {m.path for m in notes.search_notes("docker", ctx)}
    assert "gone.md" not in {n.path for n in notes.list_notes(ctx).notes}


@pytest.mark.anyio
async def test_with_no_configuration_every_workflows_note_step_works(tmp_path: Path, caplog: Any) -> None:
    from plugyard.assistant.plugin import AssistantPlugin
    from plugyard.plugins import calculator, diagnose, intents, workflows

    plugins = {
        "assistant": AssistantPlugin(),
        "intents": intents.IntentsPlugin(),
        "workflows": workflows,
        "diagnose": diagnose,
        "notes": notes,
        "calculator": calculator,
    }
    host = PluginHost(parse_config({}), entry_points=False, plugins=plugins, strict=True).load()
    messages = [
        "I get IndexError: list index out of range in my loop",
        "help me prepare for my calculus exam next week",
        "I want to learn recursion in depth",
    ]
    async with host.running():
        for message in messages:
            outcome = await host.call_tool("assist", {"message": message})
            assert outcome.success, outcome.error_message
            steps = outcome.result.structured.steps  # assist answers content and structured output
            note_calls = [t for s in steps for t in s.tools if t.tool == "search_notes"]
            assert note_calls and all(t.success for t in note_calls), (message, steps)
    assert not [r for r in caplog.records if "circuit" in r.getMessage()]
