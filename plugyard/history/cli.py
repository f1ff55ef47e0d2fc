"""The history's commands, added to ``plugyard`` through the history plugin's ``register_commands``:
``plugyard db upgrade|downgrade|current`` (the migrations shipped inside plugyard) and
``plugyard history stats|failures|export|cleanup|import|report|evaluate``.

They work on the configured database directly (no host is started). Exit codes are plugyard's
(``plugyard.cli.context``): 3 for configuration and database errors, 2 for usage errors.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click
from alembic.util.exc import CommandError as AlembicCommandError
from sqlalchemy.exc import SQLAlchemyError

from plugyard.cli.context import CliState, CommandError, guard
from plugyard.cli.output import is_terminal, progress, table
from plugyard.core.errors import PlugyardError
from plugyard.history import migrate
from plugyard.history.db import create_engine, first_line, not_started, require_existing, safe_url, unreachable
from plugyard.history.report import write_report
from plugyard.history.service import open_service, parse_days

T = TypeVar("T")


def add_commands(cli: click.Group) -> None:
    cli.add_command(db)
    cli.add_command(history)


@click.group("db")
def db() -> None:
    """Drive the history database's migrations (shipped inside plugyard)."""


def _run(url: str, go: Callable[[], Awaitable[T]]) -> T:
    """``go()`` on the history database at ``url``: every ``db`` and ``history`` command runs through here, so
    whatever the database says (unreachable, corrupt, a database or role that does not exist) is one line
    naming it, exit 3, never a traceback."""
    try:
        return anyio.run(go)
    except PlugyardError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        if exc.filename is not None:  # a file the command reads or writes (an export, a report), not the database
            raise CommandError(f"cannot use {exc.filename!r}: {exc.strerror or exc} ({type(exc).__name__})") from None
        raise CommandError(str(unreachable(url, exc))) from None
    except (SQLAlchemyError, sqlite3.Error) as exc:
        raise CommandError(str(unreachable(url, exc))) from None


def _with_engine(state: CliState, action: Callable[[Any], Awaitable[T]], *, create: bool = False) -> T:
    url = guard(lambda: state.config.database_url)
    if not create:
        guard(lambda: require_existing(url))

    async def go() -> T:
        engine = create_engine(url)
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return _run(url, go)
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - Alembic's own errors (a revision it cannot resolve): one line
        raise CommandError(f"database {safe_url(url)}: {type(exc).__name__}: {first_line(exc)}") from None


async def _to_revision(move: Callable[[], Awaitable[None]]) -> None:
    """``move()``; a REVISION Alembic cannot resolve is the caller's usage error (exit 2), naming the known ones."""
    try:
        await move()
    except AlembicCommandError as exc:
        known = ", ".join(rev for rev, _, _ in migrate.history())
        raise click.BadParameter(
            f"{first_line(exc)}; the revisions are {known}, head, base, or a step (+1; -1 after --)",
            param_hint="REVISION",
        ) from None


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(state: CliState, revision: str) -> None:
    """Upgrade the schema to REVISION (default: head)."""

    async def go(engine: Any) -> str | None:
        steps = migrate.pending_revisions(await migrate.current(engine), revision)
        if steps is None:  # a revision not on the one line of history (a branch, a relative step): as asked
            await _to_revision(lambda: migrate.upgrade(engine, revision))
        else:
            with progress(len(steps), "migrating") as advance:
                for step in steps:
                    await migrate.upgrade(engine, step)
                    advance(1)
        return await migrate.current(engine)

    at = _with_engine(state, go, create=True)
    click.echo(f"{safe_url(state.config.database_url)} is at revision {at}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(state: CliState, revision: str) -> None:
    """Downgrade the schema to REVISION ('base' removes every plugyard table)."""

    async def go(engine: Any) -> str | None:
        await _to_revision(lambda: migrate.downgrade(engine, revision))
        return await migrate.current(engine)

    at = _with_engine(state, go)
    click.echo(f"{safe_url(state.config.database_url)} is at revision {at or 'base'}")


@db.command("current")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def db_current(state: CliState, as_json: bool) -> None:
    """Show the schema's revision and whether it is at head."""
    at = _with_engine(state, migrate.current)
    head = migrate.head()
    if as_json:
        data = {"database": safe_url(state.config.database_url), "revision": at, "head": head, "at_head": at == head}
        click.echo(json.dumps(data, indent=2))
        return
    status = "up to date" if at == head else f"behind (head is {head}; run `plugyard db upgrade`)"
    click.echo(f"{safe_url(state.config.database_url)}: revision {at or 'none'}, {status}")


@click.group("history")
def history() -> None:
    """Ask the recorded history: statistics, failures; export, clean up and re-import it."""


def _with_service(state: CliState, action: Callable[[Any], Awaitable[T]], *, create: bool = False) -> T | None:
    """``action`` on the history service. Only commands that write calls in (``import``) may make a
    new database; for the others, a history that has not started yet (no server has run here) is "no calls
    recorded yet" on stderr and None, and a configured one that does not exist at all is an error (a typo)."""
    config = guard(lambda: state.config)
    if not create:
        fresh = guard(lambda: not_started(config.database_url, configured=config.database.url is not None))
        if fresh is not None:
            click.echo(
                f"no calls recorded yet: the history database {str(fresh)!r} does not exist yet (a server "
                "creates it on its first start)",
                err=True,
            )
            return None
        guard(lambda: require_existing(config.database_url))

    async def go() -> T:
        async with open_service(config) as service:
            return await action(service)

    try:
        return _run(config.database_url, go)
    except ValueError as exc:  # a record of an imported file the service refuses, naming it
        raise CommandError(str(exc)) from None


def _error_text(error_type: str | None, message: str | None) -> str:
    """A recorded error once: a tool's exception is stored as "Type: message" already."""
    if not message:
        return error_type or "error"
    if not error_type or message.startswith(f"{error_type}:") or f": {error_type}: " in message:
        return message
    return f"{error_type}: {message}"


def _ms(value: float | None) -> str:
    """A latency for a table: tenths of a millisecond, three significant digits below one (0.0495 -> 0.0495)."""
    if value is None:
        return "-"
    return f"{value:.1f}" if value >= 1 or value == 0 else f"{value:.3g}"


@history.command("stats")
@click.option("--tool", default=None, help="One tool (default: every tool).")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Whole days back.")
@click.option("--user", default=None, help="One user's calls (default: everyone's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history_stats(state: CliState, tool: str | None, days: int, user: str | None, as_json: bool) -> None:
    """Calls, success rate, p50/p95 latency and top errors per tool, and tool search's hit rate."""
    from plugyard.history.search_store import search_figures

    async def go(service: Any) -> tuple[Any, Any]:
        found = await search_figures(service.engine, days, user_id=user)
        return await service.get_tool_statistics(tool, days, user_id=user), found

    found = _with_service(state, go)
    if found is None:
        if as_json:
            click.echo("[]")
        return
    stats, searches = found
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in stats], indent=2))
        return
    if not stats:
        click.echo(f"no calls in the last {days} day(s)")
    elif is_terminal():
        rows = [
            [
                s.tool_name,
                s.calls,
                f"{s.success_rate:.1%}",
                _ms(s.p50_ms),
                _ms(s.p95_ms),
                ", ".join(f"{e} ({n})" for e, n in s.top_errors),
            ]
            for s in stats
        ]
        table(["tool", "calls", "success", "p50 ms", "p95 ms", "top errors"], rows, right=[1, 2, 3, 4])
    else:
        click.echo(f"{'tool':<24} {'calls':>8} {'success':>8} {'p50 ms':>9} {'p95 ms':>9}  top errors")
        for s in stats:
            errors = ", ".join(f"{e} ({n})" for e, n in s.top_errors)
            click.echo(
                f"{s.tool_name:<24} {s.calls:>8} {s.success_rate:>8.1%} {_ms(s.p50_ms):>9} {_ms(s.p95_ms):>9}  {errors}"
            )
    if tool is None:
        click.echo(searches.describe())


@history.command("failures")
@click.option("--user", default=None, help="One user's failures (default: everyone's).")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="At most this many calls.")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Only the last DAYS whole days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history_failures(state: CliState, user: str | None, limit: int, days: int | None, as_json: bool) -> None:
    """The most recent failed calls, newest first."""
    found = _with_service(state, lambda s: s.get_recent_failed_tools(user, limit, days))
    failures = found or []
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in failures], indent=2))
        return
    if found is None:
        return
    if not failures:
        who = f" by {user}" if user else ""
        click.echo(f"no failed calls{who}" + (f" in the last {days} day(s)" if days else ""))
        return
    if is_terminal() and failures:
        rows = [
            [
                f"{f.created_at:%Y-%m-%d %H:%M:%S}",
                f.user_id,
                f.tool_name,
                _error_text(f.error_type, f.error_message),
                f.call_id,
            ]
            for f in failures
        ]
        table(["when (UTC)", "user", "tool", "error", "call id"], rows)
        return
    for f in failures:
        error = _error_text(f.error_type, f.error_message)
        click.echo(f"{f.created_at:%Y-%m-%d %H:%M:%S}  {f.user_id}  {f.tool_name}  {error}")
        click.echo(f"    call {f.call_id}")


@history.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@click.option("--user", default=None, help="One user's calls.")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Only the last DAYS whole days.")
@click.pass_obj
def history_export(state: CliState, output: Path | None, user: str | None, days: int | None) -> None:
    """Write calls (with their ratings) as JSON Lines, oldest first; `history import` reads them back."""

    async def go(service: Any) -> int:
        total = await service.count_calls(user_id=user, days=days) if is_terminal(sys.stderr) else None
        with progress(total, "exporting") as advance:
            if output is None:
                return int(await service.export(sys.stdout, user_id=user, days=days, progress=advance))
            output.parent.mkdir(parents=True, exist_ok=True)  # as report --html and cleanup --archive do
            with output.open("w", encoding="utf-8") as fh:
                return int(await service.export(fh, user_id=user, days=days, progress=advance))

    count = _with_service(state, go)
    if count is None:
        return
    click.echo(f"exported {count} call(s)" + (f" to {output}" if output else ""), err=True)


@history.command("cleanup")
@click.option("--older-than", "older_than", default="90d", show_default=True, help="Keep the last N days: 90d, 12w.")
@click.option(
    "--archive",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the deleted calls to this JSON Lines file first.",
)
@click.option("--chunk-size", type=click.IntRange(min=1), default=5000, show_default=True, help="Rows per transaction.")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.pass_obj
def history_cleanup(state: CliState, older_than: str, archive: Path | None, chunk_size: int, dry_run: bool) -> None:
    """Delete calls older than the retention period, in bounded chunks (archived first with --archive)."""
    try:
        days = parse_days(older_than)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--older-than") from None

    async def go(service: Any) -> Any:
        if dry_run or not is_terminal(sys.stderr):
            return await service.cleanup_old_records(days, archive=archive, chunk_size=chunk_size, dry_run=dry_run)
        doomed = (await service.cleanup_old_records(days, dry_run=True)).deleted
        with progress(doomed, "deleting") as advance:
            return await service.cleanup_old_records(days, archive=archive, chunk_size=chunk_size, progress=advance)

    async def go_and_searches(service: Any) -> tuple[Any, int]:
        from plugyard.history.search_store import SearchStore

        result = await go(service)
        # Tool search's events follow the calls they led to (they are learnt from, not archived).
        searches = 0 if dry_run else await SearchStore(service.engine).delete_before(result.cutoff)
        return result, searches

    found = _with_service(state, go_and_searches)
    if found is None:
        return
    result, searches = found
    if dry_run:
        click.echo(f"would delete {result.deleted} call(s) from before {result.cutoff:%Y-%m-%d}")
        return
    click.echo(
        f"deleted {result.deleted} call(s) from before {result.cutoff:%Y-%m-%d} in {result.seconds:.2f} s "
        f"({result.rows_per_second:,.0f} rows/s)"
        + (f"; archived {result.archived} to {archive}" if archive else "")
        + (f"; {searches} tool search event(s) of that time deleted" if searches else "")
    )


@history.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def history_import(state: CliState, file: Path) -> None:
    """Read an archive or export back in; calls already stored are skipped."""
    total = None
    if is_terminal(sys.stderr):
        with file.open(encoding="utf-8", errors="replace") as fh:
            total = sum(1 for line in fh if line.strip())

    async def go(service: Any) -> tuple[int, int]:
        with progress(total, "importing") as advance:
            read, inserted = await service.import_records(file, progress=advance)
            return int(read), int(inserted)

    done = _with_service(state, go, create=True)
    assert done is not None  # import may create the database
    read, inserted = done
    click.echo(f"read {read} call(s), imported {inserted}, {read - inserted} already present")


@history.command("report")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Write the report to this HTML file (one self-contained page: no network needed to view it).",
)
@click.option("--days", type=click.IntRange(min=1, max=3660), default=30, show_default=True, help="Whole days back.")
@click.option("--users", type=click.IntRange(min=0), default=8, show_default=True, help="Most active users to show.")
@click.option("--title", default="plugyard history", show_default=True, help="The page's title.")
@click.pass_obj
def history_report(state: CliState, html_file: Path, days: int, users: int, title: str) -> None:
    """Charts of the history: calls and success rate per tool per day, latency distribution, and each
    user's preferred tools."""
    summary = _with_service(state, lambda s: write_report(s, html_file, days=days, users=users, title=title))
    if summary is None:
        click.echo(f"no report written to {html_file}", err=True)
        return
    click.echo(
        f"wrote {summary.path}: {summary.calls} call(s) of {summary.tools} tool(s), "
        f"{summary.users} user(s), last {summary.days} day(s)",
        err=True,
    )


@history.command("evaluate")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Whole days of logs.")
@click.option("--half-life", "half_life", type=click.FloatRange(min=0, min_open=True), default=None, help="Days.")
@click.option("--satisfaction-weight", type=click.FloatRange(min=0), default=None, help="What ratings weigh.")
@click.option("--latency-weight", type=click.FloatRange(min=0), default=None, help="What latency costs.")
@click.option("--prior-cap", type=click.FloatRange(min=1), default=None, help="The prior strength's cap.")
@click.option("--exploration", type=click.FloatRange(min=0, min_open=True), default=None, help="Draws' spread x this.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history_evaluate(
    state: CliState,
    days: int,
    half_life: float | None,
    satisfaction_weight: float | None,
    latency_weight: float | None,
    prior_cap: float | None,
    exploration: float | None,
    as_json: bool,
) -> None:
    """How another router setting would have done on the logged decisions (self-normalised inverse
    propensity scoring, 95% interval), and whether the difference is significant."""
    import dataclasses

    from plugyard.learning.evaluate import Setting, evaluate

    given = {
        "half_life_days": half_life,
        "satisfaction_weight": satisfaction_weight,
        "latency_weight": latency_weight,
        "prior_cap": prior_cap,
        "exploration": exploration,
    }
    setting = dataclasses.replace(Setting(), **{k: v for k, v in given.items() if v is not None})
    timeout = guard(lambda: state.config.tools.timeout)
    calls = _with_service(state, lambda s: s.logged_calls(days)) or []
    result = evaluate(calls, setting, timeout_s=timeout)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    click.echo(f"setting: {setting.describe()}")
    if result.decisions == 0:
        click.echo(f"{result.verdict()} in the last {days} day(s) ({len(calls)} call(s) recorded)")
        return
    click.echo(
        f"{result.decisions} logged decision(s) in the last {days} day(s); effective sample size "
        f"{result.effective_sample_size:.0f}"
    )
    click.echo(f"success rate logged {result.logged_value:.1%}, estimated for the setting {result.value:.1%}")
    interval = f"95% interval {result.low:+.1%} .. {result.high:+.1%}"
    click.echo(f"difference {result.difference:+.1%} ({interval}): {result.verdict()}")
