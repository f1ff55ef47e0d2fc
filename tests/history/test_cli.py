"""`plugyard history`: stats, failures, export, cleanup with an archive, and import, as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from plugyard.cli import main
from plugyard.core.config import parse_config
from plugyard.history.db import safe_url
from plugyard.history.service import open_service, parse_days
from tests.conftest import is_postgres, upgrade_to_head


@pytest.fixture
def config_file(tmp_path, db_url):
    if is_postgres(db_url):
        upgrade_to_head(db_url)  # the operator's `plugyard db upgrade`
    path = tmp_path / "plugins.toml"
    path.write_text(f'[database]\nurl = "{db_url}"\n[plugins]\ndisabled = ["notes"]\n', encoding="utf-8")
    return path


@pytest.fixture
def history(db_url, config_file):
    """ada: two ok calls of calc today, one failed search today; bob: one ok search 200 days ago."""
    now = datetime.now(UTC)

    async def fill() -> None:
        async with open_service(parse_config({"database": {"url": db_url}})) as service:
            await service.record_tool_execution("ada", "calc", True, 2.0, created_at=now)
            await service.record_tool_execution("ada", "calc", True, 4.0, created_at=now)
            await service.record_tool_execution(
                "ada", "search", False, 9.0, error_type="Boom", error_message="no index", created_at=now
            )
            await service.record_tool_execution("bob", "search", True, 1.0, created_at=now - timedelta(days=200))

    anyio.run(fill)


def run(config_file, *args: str):
    result = CliRunner().invoke(main, ["--config", str(config_file), "history", *args], catch_exceptions=False)
    return result


def test_stats_and_failures(config_file, history):
    stats = json.loads(run(config_file, "stats", "--json").output)
    assert [(s["tool_name"], s["calls"], s["success_rate"]) for s in stats] == [("calc", 2, 1.0), ("search", 1, 0.0)]
    table = run(config_file, "stats", "--user", "ada").output
    assert "calc" in table and "100.0%" in table and "Boom (1)" in table
    [failure] = json.loads(run(config_file, "failures", "--json").output)
    assert (failure["user_id"], failure["error_message"]) == ("ada", "no index")
    assert "no calls in the last 1 day(s)" in run(config_file, "stats", "--user", "nobody", "--days", "1").output


def test_cleanup_archives_then_import_restores(config_file, history, tmp_path):
    archive = tmp_path / "archive.jsonl"
    assert "would delete 1 call(s)" in run(config_file, "cleanup", "--dry-run").output
    done = run(config_file, "cleanup", "--older-than", "90d", "--archive", str(archive))
    assert done.exit_code == 0 and "deleted 1 call(s)" in done.output and "archived 1" in done.output
    assert json.loads(archive.read_text())["user_id"] == "bob"
    assert "read 1 call(s), imported 1, 0 already present" in run(config_file, "import", str(archive)).output
    assert "imported 0, 1 already present" in run(config_file, "import", str(archive)).output
    exported = tmp_path / "all.jsonl"
    assert run(config_file, "export", "-o", str(exported)).exit_code == 0
    assert len(exported.read_text().splitlines()) == 4


def test_a_bad_duration_is_a_usage_error(config_file):
    result = run(config_file, "cleanup", "--older-than", "soon")
    assert result.exit_code == 2 and "90d, 12w or 90" in result.output
    assert (parse_days("12w"), parse_days("90d"), parse_days("7")) == (84, 90, 7)


def test_stats_show_the_tool_search_hit_rate_and_cleanup_drops_old_searches(config_file, db_url):
    from plugyard.history.db import create_engine
    from plugyard.history.search_store import SearchStore
    from plugyard.learning.search.sequences import Outcome, SearchEvent

    now = datetime.now(UTC).timestamp()
    old = now - 200 * 86_400
    events = [
        SearchEvent("s1", "ada", "x", "weather", ("forecast", "radar"), now, [Outcome("forecast", True)]),
        SearchEvent("s2", "ada", "x", "weather", ("forecast",), now, [Outcome("forecast", False)]),
        SearchEvent("s3", "bob", "y", "notes", ("read_note",), now),
        SearchEvent("s4", "bob", "y", "notes", ("read_note",), old, [Outcome("read_note", True)]),
    ]

    async def fill() -> None:
        from plugyard.history import migrate

        engine = create_engine(db_url)
        await migrate.upgrade(engine)
        await SearchStore(engine).write(events)
        await engine.dispose()

    anyio.run(fill)
    everyone = run(config_file, "stats").output
    assert "tool search: 3 search(es) in the last 30 day(s), hit rate 33.3%" in everyone
    assert "2 followed by any call" in everyone
    assert "hit rate 50.0%" in run(config_file, "stats", "--user", "ada").output
    done = run(config_file, "cleanup", "--older-than", "90d")
    assert done.exit_code == 0 and "1 tool search event(s) of that time deleted" in done.output
    assert "hit rate 33.3%" in run(config_file, "stats", "--days", "365").output


def test_failures_name_the_error_type_once(config_file, db_url):
    async def fill() -> None:
        async with open_service(parse_config({"database": {"url": db_url}})) as service:
            # How the pipeline stores a tool's exception: the type leads the message.
            await service.record_tool_execution(
                "ada",
                "calculate",
                False,
                1.0,
                error_type="CalculationError",
                error_message="CalculationError: division by zero in '1/0'",
            )
            await service.record_tool_execution(
                "ada",
                "search",
                False,
                1.0,
                error_type="ToolTimeout",
                error_message="timed out after 0.5 s",
            )

    anyio.run(fill)
    output = run(config_file, "failures").output
    assert "  CalculationError: division by zero in '1/0'\n" in output
    assert "CalculationError: CalculationError" not in output
    assert "  ToolTimeout: timed out after 0.5 s\n" in output


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            '{"call_id": "c1", "user_id": "ada", "tool_name": "t", "success": true, "execution_time_ms": 1}',
            "field 'created_at' is missing",
        ),
        (
            '{"call_id": "c1", "user_id": "ada", "tool_name": "t", "created_at": "yesterday", "success": true, '
            '"execution_time_ms": 1}',
            "field 'created_at' is not an ISO 8601 time: 'yesterday'",
        ),
        (
            '{"call_id": "c1", "user_id": "ada", "tool_name": "t", "created_at": "2026-11-01T00:00:00+00:00", '
            '"success": true, "execution_time_ms": "fast"}',
            "field 'execution_time_ms' is not a number: 'fast'",
        ),
        ("[1, 2]", "a call record is a JSON object, not list"),
        ("{oops", "not JSON"),
    ],
)
def test_a_bad_import_row_names_its_line_and_field(config_file, history, tmp_path, line, problem):
    archive = tmp_path / "broken.jsonl"
    good = run(config_file, "export", "-o", str(tmp_path / "good.jsonl"))
    assert good.exit_code == 0
    first = (tmp_path / "good.jsonl").read_text().splitlines()[0]
    archive.write_text(f"{first}\n\n{line}\n", encoding="utf-8")
    result = run(config_file, "import", str(archive))
    assert result.exit_code == 3
    assert f"{archive}, line 3: not a plugyard call record: {problem}" in result.output
    assert "Traceback" not in result.output


HISTORY_COMMANDS = [
    ["db", "current"],
    ["history", "stats"],
    ["history", "failures"],
    ["history", "export"],
    ["history", "cleanup", "--dry-run"],
    ["history", "evaluate"],
    ["history", "report", "--html", "report.html"],
]


def _broken_database(tmp_path, which: str) -> tuple[str, str]:
    """A database URL that cannot be used, and what the one line must say about it."""
    if which == "corrupt SQLite file":
        corrupt = tmp_path / "corrupt.db"
        corrupt.write_text("garbage\n")
        return f"sqlite+aiosqlite:///{corrupt}", "cannot be used (DatabaseError: file is not a database)"
    if which == "unreachable PostgreSQL":
        return "postgresql+asyncpg://postgres:s3cret@127.0.0.1:1/x", "cannot be reached (ConnectionRefusedError"
    from tests.conftest import POSTGRES_ADMIN_URL, postgres_unavailable

    why = postgres_unavailable()
    if why is not None:
        pytest.skip(f"PostgreSQL unavailable: {why}")
    url = make_url(POSTGRES_ADMIN_URL).set(drivername="postgresql+asyncpg")
    if which == "PostgreSQL database that does not exist":
        return url.set(database="nosuchdb_xyz").render_as_string(hide_password=False), (
            'cannot be used (InvalidCatalogNameError: database "nosuchdb_xyz" does not exist)'
        )
    return url.set(username="nosuchrole_xyz").render_as_string(hide_password=False), 'role "nosuchrole_xyz"'


@pytest.mark.parametrize(
    "which",
    [
        "corrupt SQLite file",
        "unreachable PostgreSQL",
        "PostgreSQL database that does not exist",
        "PostgreSQL role that does not exist",
    ],
)
@pytest.mark.parametrize("command", HISTORY_COMMANDS, ids=" ".join)
def test_every_history_command_says_in_one_line_which_database_failed(tmp_path, monkeypatch, which, command):
    url, says = _broken_database(tmp_path, which)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PLUGYARD_DATABASE_URL", url)
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"Error: the history database {safe_url(url)} ") and says in line
    assert line.endswith("check [database] url / PLUGYARD_DATABASE_URL")
    assert "s3cret" not in result.output  # the URL is named with its password masked


READ_ONLY = [
    ["history", "stats"],
    ["history", "stats", "--json"],
    ["history", "failures"],
    ["history", "failures", "--json"],
    ["history", "export"],
    ["history", "cleanup", "--dry-run"],
    ["history", "evaluate"],
    ["history", "report", "--html", "report.html"],
]


@pytest.mark.parametrize("where", ["the default place", "a configured file in a folder that exists"])
@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_a_history_not_started_yet_is_no_calls_recorded_yet_exit_0(tmp_path, where, command):
    # A fresh machine: no server has run, so there is no database yet; nothing is created by asking.
    if where == "the default place":
        expected = tmp_path / "data" / "plugyard.db"  # PLUGYARD_DATA_DIR (conftest), not made yet
        args = command
    else:
        expected = tmp_path / "history.db"
        config = tmp_path / "plugins.toml"
        config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{expected}"\n', encoding="utf-8")
        args = ["--config", str(config), *command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"no calls recorded yet: the history database '{expected}' does not exist yet" in result.stderr
    assert "Error" not in result.output
    if "--json" in command:
        assert json.loads(result.stdout) == []
    assert not expected.exists() and not (tmp_path / "report.html").exists()


def test_failures_says_when_there_are_none(config_file, history):
    assert run(config_file, "failures", "--user", "nobody").output.strip() == "no failed calls by nobody"
    assert run(config_file, "failures", "--user", "bob", "--days", "7").output.strip() == (
        "no failed calls by bob in the last 7 day(s)"
    )
    assert "no index" in run(config_file, "failures", "--user", "ada").output


def test_export_makes_the_output_folder_and_names_a_file_in_the_way(config_file, history, tmp_path):
    nested = tmp_path / "missing" / "dir" / "calls.jsonl"
    done = run(config_file, "export", "-o", str(nested))
    assert done.exit_code == 0, done.output
    assert len(nested.read_text(encoding="utf-8").splitlines()) == 4
    blocker = tmp_path / "afile"
    blocker.write_text("in the way")
    for args in (["export", "-o", str(blocker / "x.jsonl")], ["report", "--html", str(blocker / "r.html")]):
        refused = run(config_file, *args)
        assert refused.exit_code == 3
        [line] = refused.output.strip().splitlines()
        assert line == f"Error: cannot use '{blocker}': File exists (FileExistsError)"  # the file, not the database
