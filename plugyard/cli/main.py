"""The ``plugyard`` command. It translates arguments into calls on the core; it decides nothing.

Exit codes: 0 success; 1 a tool call failed; 2 usage error; 3 configuration, plugin or database error.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click

import plugyard
from plugyard.cli.output import is_terminal, progress, table
from plugyard.core.config import Config, load_config
from plugyard.core.errors import PlugyardError, UnknownTool
from plugyard.core.host import PluginHost

T = TypeVar("T")
EXIT_TOOL_FAILED = 1
EXIT_ERROR = 3


class _State:
    def __init__(self, config_path: str | None, strict: bool) -> None:
        self.config_path = config_path
        self.strict = strict
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def host(self) -> PluginHost:
        return PluginHost(self.config, strict=self.strict).load()


def _run(fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return anyio.run(fn)
    except PlugyardError as exc:
        raise click.ClickException(str(exc)) from None


class _Exit(click.ClickException):
    exit_code = EXIT_ERROR


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except PlugyardError as exc:
        raise _Exit(str(exc)) from None


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(plugyard.__version__, prog_name="plugyard")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="PLUGYARD_CONFIG",
    help="plugins.toml to use (default: ./plugins.toml if present).",
)
@click.option("--strict", is_flag=True, help="Fail when any plugin fails to load instead of skipping it.")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, strict: bool, verbose: int) -> None:
    """plugyard: plugin tools served over MCP, every call recorded."""
    _setup_logging(verbose)
    ctx.obj = _State(config_path, strict)


@main.command()
@click.option(
    "--transport",
    type=click.Choice(["stdio", "http"]),
    default="stdio",
    show_default=True,
    help="stdio for a desktop assistant that starts plugyard; http for a long-running server.",
)
@click.option("--host", "bind", default=None, help="HTTP bind address (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="HTTP port (default 8000).")
@click.option("--stateless/--stateful", default=None, help="Stateless streamable HTTP (for several replicas).")
@click.option(
    "--reload",
    "watch",
    is_flag=True,
    help="Reload plugins when installed plugyard plugins or plugins.toml change (SIGHUP always reloads).",
)
@click.pass_obj
def serve(
    state: _State, transport: str, bind: str | None, port: int | None, stateless: bool | None, watch: bool
) -> None:
    """Serve every enabled plugin's tools over MCP (stdio for desktop assistants, or HTTP).

    Send SIGHUP (`kill -HUP <pid>`) to reload the plugins without dropping clients: they are told
    that the tool, prompt and resource lists changed; calls in flight finish and are recorded."""
    from plugyard.core.reload import ReloadOptions, ReloadResult, config_file_finder
    from plugyard.mcp_server.run import ready_message
    from plugyard.mcp_server.run import serve as run_serve
    from plugyard.mcp_server.stdio import stdout_to_stderr

    if transport == "http":
        host = _guard(state.host)
    else:
        # A plugin that prints while it loads must not write into the protocol's stdout.
        with stdout_to_stderr():
            host = _guard(state.host)

    def rebuild() -> PluginHost:
        return PluginHost(load_config(state.config_path), strict=state.strict).load()

    def reloaded(result: ReloadResult) -> None:
        click.echo(result.describe(), err=True)

    reload = ReloadOptions(
        build=rebuild,
        watch_interval=1.0 if watch else None,
        config_file=config_file_finder(state.config_path),
        on_reload=reloaded,
    )

    async def go() -> None:
        await run_serve(
            host,
            transport="http" if transport == "http" else "stdio",
            bind=bind,
            port=port,
            stateless=stateless,
            on_ready=lambda where: ready_message(where, host),
            reload=reload,
        )

    _guard(lambda: anyio.run(go))


@main.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def plugins_cmd(state: _State, as_json: bool) -> None:
    """List every discovered plugin: origin, version, hooks, tools, and load errors."""
    host = PluginHost(_guard(lambda: state.config), strict=False).load()
    infos = list(host.infos.values())
    if as_json:
        click.echo(json.dumps([i.as_dict() for i in infos], indent=2))
    elif is_terminal():
        table(
            ["plugin", "version", "status", "origin", "from", "tools", "hooks"],
            [
                [
                    i.name,
                    i.version or "",
                    i.status,
                    i.origin,
                    i.distribution or i.module or "",
                    len(i.tools),
                    len(i.hooks),
                ]
                for i in infos
            ],
            right=[5, 6],
        )
        for info in infos:
            if info.error:
                click.echo(click.style(f"{info.name}: {info.error}", fg="red"), err=True)
    else:
        for info in infos:
            version = f" {info.version}" if info.version else ""
            where = info.distribution or info.module or ""
            click.echo(f"{info.name}{version}  [{info.status}]  {info.origin}: {where}")
            if info.hooks:
                click.echo(f"    hooks: {', '.join(info.hooks)}")
            if info.tools:
                click.echo(f"    tools: {', '.join(info.tools)}")
            if info.classifiers:
                click.echo(f"    intent classifiers: {', '.join(info.classifiers)}")
            if info.workflows:
                click.echo(f"    workflows: {', '.join(info.workflows)}")
            if info.error:
                click.echo(f"    error: {info.error}")
    if state.strict and any(i.status == "failed" for i in infos):
        sys.exit(EXIT_ERROR)


@main.command("tools")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output, with input schemas.")
@click.pass_obj
def tools_cmd(state: _State, as_json: bool) -> None:
    """List every tool the enabled plugins register."""
    host = _guard(state.host)
    tools = sorted(host.tools, key=lambda t: t.name)
    if as_json:
        data = [
            {"name": t.name, "plugin": t.plugin, "description": t.description, "input_schema": t.input_schema}
            for t in tools
        ]
        click.echo(json.dumps(data, indent=2))
        return
    summaries = [t.description.splitlines()[0] if t.description else "" for t in tools]
    if is_terminal():
        table(["tool", "plugin", "description"], [[t.name, t.plugin, d] for t, d in zip(tools, summaries, strict=True)])
        return
    for tool, summary in zip(tools, summaries, strict=True):
        click.echo(f"{tool.name}  ({tool.plugin})  {summary}")


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@main.command("call")
@click.argument("tool")
@click.argument("arguments", nargs=-1)
@click.option("--json", "json_args", default=None, help="All arguments as one JSON object instead of key=value.")
@click.option("--user", default=None, help="User id to record the call under.")
@click.pass_obj
def call_cmd(state: _State, tool: str, arguments: tuple[str, ...], json_args: str | None, user: str | None) -> None:
    """Run one tool through the same pipeline as the server (the call is recorded).

    Arguments are key=value; a value that parses as JSON (numbers, true, lists...) is used as such.
    """
    args: dict[str, Any] = {}
    if json_args is not None:
        try:
            parsed = json.loads(json_args)
        except ValueError as exc:
            raise click.BadParameter(f"not valid JSON: {exc}", param_hint="--json") from None
        if not isinstance(parsed, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--json")
        args.update(parsed)
    for item in arguments:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not key=value", param_hint="ARGUMENTS")
        args[key] = _parse_value(value)
    host = _guard(state.host)

    async def go() -> Any:
        async with host.running():
            kwargs: dict[str, Any] = {"session_id": f"cli-{os.getpid()}"}
            if user:
                kwargs["user_id"] = user
            return await host.call_tool(tool, args, **kwargs)

    try:
        outcome = anyio.run(go)
    except UnknownTool as exc:
        raise _Exit(str(exc)) from None
    except PlugyardError as exc:
        raise _Exit(str(exc)) from None
    if outcome.success:
        result = outcome.result
        if isinstance(result, str):
            click.echo(result)
        else:
            import pydantic_core

            click.echo(pydantic_core.to_json(result, indent=2).decode())
        return
    click.echo(f"error ({outcome.error_type}): {outcome.message}", err=True)
    sys.exit(EXIT_TOOL_FAILED)


@main.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where to create the package's folder.",
)
def new_plugin(name: str, directory: Path) -> None:
    """Create a ready plugin package NAME: pyproject.toml with the entry point, a tool, a hook, tests."""
    from plugyard.cli.scaffold import create_plugin

    root = _guard(lambda: create_plugin(name, directory))
    click.echo(f"created {root}")
    click.echo(f'next: cd {root} && pip install -e ".[test]" && plugyard plugins && python -m pytest')


@main.command("install")
@click.argument("client", type=click.Choice(["claude-desktop", "cursor", "vscode"]))
@click.option("--name", default="plugyard", show_default=True, help="The server's name in the client.")
@click.option(
    "--file",
    "path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The client's configuration file (default: where the client keeps it).",
)
@click.option("--env", "env_pairs", multiple=True, metavar="KEY=VALUE", help="Environment for the server.")
@click.option("--dry-run", is_flag=True, help="Print the change; write nothing.")
@click.pass_obj
def install(
    state: _State, client: str, name: str, path: Path | None, env_pairs: tuple[str, ...], dry_run: bool
) -> None:
    """Add plugyard to a desktop MCP client's configuration (merged, with a backup)."""
    from plugyard.cli.clients import apply_install, plan_install

    env = {}
    for pair in env_pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--env")
        env[key] = value
    config_file = _guard(lambda: state.config.source)
    plan = _guard(lambda: plan_install(client, name=name, config_file=config_file, path=path, env=env or None))
    if dry_run:
        click.echo(plan.diff() or f"{plan.path} already has this configuration")
        return
    backup = apply_install(plan)
    verb = "updated" if plan.replaces else "added"
    click.echo(f"{verb} server {name!r} in {plan.path}" + (f" (previous file kept as {backup})" if backup else ""))
    click.echo(f"restart {client} to pick it up")


@main.group("intents")
def intents_group() -> None:
    """The offline intent classifier: retrain it on your own labelled messages."""


@intents_group.command("fit")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--out",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write the model (default: <data dir>/intent_model.json, which the intents plugin then uses).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def intents_fit(file: str, out: str | None, as_json: bool) -> None:
    """Retrain the n-gram model on FILE (JSON Lines: text, intent, optional lang and split) and
    re-tune its thresholds; rows with split "test" are held out and evaluated."""
    from plugyard.core.config import data_dir
    from plugyard.plugins.intents import USER_MODEL_NAME, fit
    from plugyard.plugins.intents.model import read_jsonl

    try:
        rows = read_jsonl(file)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    if len({r["intent"] for r in rows}) < 2:
        raise click.BadParameter("needs messages of at least two intents", param_hint="FILE")
    model, report = fit(rows)
    target = out or str(data_dir() / USER_MODEL_NAME)
    model.save(target)
    report["model"] = target
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        click.echo(f"{key}: {round(value, 4) if isinstance(value, float) else value}")


@main.group("db")
def db() -> None:
    """Drive the history database's migrations (shipped inside plugyard)."""


def _with_engine(state: _State, action: Callable[[Any], Awaitable[T]]) -> T:
    from plugyard.history.db import create_engine

    url = _guard(lambda: state.config.database_url)

    async def go() -> T:
        engine = create_engine(url)
        try:
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return anyio.run(go)
    except PlugyardError as exc:
        raise _Exit(str(exc)) from None
    except Exception as exc:  # the database's own errors: say which database
        raise _Exit(f"database {_safe_url(url)}: {type(exc).__name__}: {exc}") from None


def _safe_url(url: str) -> str:
    from plugyard.history.db import safe_url

    return safe_url(url)


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_obj
def db_upgrade(state: _State, revision: str) -> None:
    """Upgrade the schema to REVISION (default: head)."""
    from plugyard.history import migrate

    async def go(engine: Any) -> str | None:
        steps = migrate.pending_revisions(await migrate.current(engine), revision)
        if steps is None:  # a revision not on the one line of history (a branch, a relative step): as asked
            await migrate.upgrade(engine, revision)
        else:
            with progress(len(steps), "migrating") as advance:
                for step in steps:
                    await migrate.upgrade(engine, step)
                    advance(1)
        return await migrate.current(engine)

    at = _with_engine(state, go)
    click.echo(f"{_safe_url(state.config.database_url)} is at revision {at}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_obj
def db_downgrade(state: _State, revision: str) -> None:
    """Downgrade the schema to REVISION ('base' removes every plugyard table)."""
    from plugyard.history import migrate

    async def go(engine: Any) -> str | None:
        await migrate.downgrade(engine, revision)
        return await migrate.current(engine)

    at = _with_engine(state, go)
    click.echo(f"{_safe_url(state.config.database_url)} is at revision {at or 'base'}")


@db.command("current")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def db_current(state: _State, as_json: bool) -> None:
    """Show the schema's revision and whether it is at head."""
    from plugyard.history import migrate

    at = _with_engine(state, migrate.current)
    head = migrate.head()
    if as_json:
        data = {"database": _safe_url(state.config.database_url), "revision": at, "head": head, "at_head": at == head}
        click.echo(json.dumps(data, indent=2))
        return
    status = "up to date" if at == head else f"behind (head is {head}; run `plugyard db upgrade`)"
    click.echo(f"{_safe_url(state.config.database_url)}: revision {at or 'none'}, {status}")


@main.group("history")
def history() -> None:
    """Ask the recorded history: statistics, failures; export, clean up and re-import it."""


def _with_service(state: _State, action: Callable[[Any], Awaitable[T]]) -> T:
    from plugyard.history.service import open_service

    config = _guard(lambda: state.config)

    async def go() -> T:
        async with open_service(config) as service:
            return await action(service)

    try:
        return anyio.run(go)
    except PlugyardError as exc:
        raise _Exit(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise _Exit(str(exc)) from None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


@history.command("stats")
@click.option("--tool", default=None, help="One tool (default: every tool).")
@click.option("--days", type=click.IntRange(min=1), default=30, show_default=True, help="Whole days back.")
@click.option("--user", default=None, help="One user's calls (default: everyone's).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history_stats(state: _State, tool: str | None, days: int, user: str | None, as_json: bool) -> None:
    """Calls, success rate, p50/p95 latency and top errors per tool."""
    stats = _with_service(state, lambda s: s.get_tool_statistics(tool, days, user_id=user))
    if as_json:
        click.echo(json.dumps([s.as_dict() for s in stats], indent=2))
        return
    if not stats:
        click.echo(f"no calls in the last {days} day(s)")
        return
    if is_terminal():
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
        return
    click.echo(f"{'tool':<24} {'calls':>8} {'success':>8} {'p50 ms':>9} {'p95 ms':>9}  top errors")
    for s in stats:
        errors = ", ".join(f"{e} ({n})" for e, n in s.top_errors)
        click.echo(
            f"{s.tool_name:<24} {s.calls:>8} {s.success_rate:>8.1%} {_ms(s.p50_ms):>9} {_ms(s.p95_ms):>9}  {errors}"
        )


@history.command("failures")
@click.option("--user", default=None, help="One user's failures (default: everyone's).")
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="At most this many calls.")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Only the last DAYS whole days.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history_failures(state: _State, user: str | None, limit: int, days: int | None, as_json: bool) -> None:
    """The most recent failed calls, newest first."""
    failures = _with_service(state, lambda s: s.get_recent_failed_tools(user, limit, days))
    if as_json:
        click.echo(json.dumps([f.as_dict() for f in failures], indent=2))
        return
    if is_terminal() and failures:
        rows = [
            [
                f"{f.created_at:%Y-%m-%d %H:%M:%S}",
                f.user_id,
                f.tool_name,
                f"{f.error_type}: {f.error_message}",
                f.call_id,
            ]
            for f in failures
        ]
        table(["when (UTC)", "user", "tool", "error", "call id"], rows)
        return
    for f in failures:
        click.echo(f"{f.created_at:%Y-%m-%d %H:%M:%S}  {f.user_id}  {f.tool_name}  {f.error_type}: {f.error_message}")
        click.echo(f"    call {f.call_id}")


@history.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Default: stdout.")
@click.option("--user", default=None, help="One user's calls.")
@click.option("--days", type=click.IntRange(min=1), default=None, help="Only the last DAYS whole days.")
@click.pass_obj
def history_export(state: _State, output: Path | None, user: str | None, days: int | None) -> None:
    """Write calls (with their ratings) as JSON Lines, oldest first; `history import` reads them back."""

    async def go(service: Any) -> int:
        total = await service.count_calls(user_id=user, days=days) if is_terminal(sys.stderr) else None
        with progress(total, "exporting") as advance:
            if output is None:
                return int(await service.export(sys.stdout, user_id=user, days=days, progress=advance))
            with output.open("w", encoding="utf-8") as fh:
                return int(await service.export(fh, user_id=user, days=days, progress=advance))

    count = _with_service(state, go)
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
def history_cleanup(state: _State, older_than: str, archive: Path | None, chunk_size: int, dry_run: bool) -> None:
    """Delete calls older than the retention period, in bounded chunks (archived first with --archive)."""
    from plugyard.history.service import parse_days

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

    result = _with_service(state, go)
    if dry_run:
        click.echo(f"would delete {result.deleted} call(s) from before {result.cutoff:%Y-%m-%d}")
        return
    click.echo(
        f"deleted {result.deleted} call(s) from before {result.cutoff:%Y-%m-%d} in {result.seconds:.2f} s "
        f"({result.rows_per_second:,.0f} rows/s)" + (f"; archived {result.archived} to {archive}" if archive else "")
    )


@history.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_obj
def history_import(state: _State, file: Path) -> None:
    """Read an archive or export back in; calls already stored are skipped."""
    total = None
    if is_terminal(sys.stderr):
        with file.open(encoding="utf-8", errors="replace") as fh:
            total = sum(1 for line in fh if line.strip())

    async def go(service: Any) -> tuple[int, int]:
        with progress(total, "importing") as advance:
            read, inserted = await service.import_records(file, progress=advance)
            return int(read), int(inserted)

    read, inserted = _with_service(state, go)
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
def history_report(state: _State, html_file: Path, days: int, users: int, title: str) -> None:
    """Charts of the history: calls and success rate per tool per day, latency distribution, and each
    user's preferred tools."""
    from plugyard.history.report import write_report

    summary = _with_service(state, lambda s: write_report(s, html_file, days=days, users=users, title=title))
    click.echo(
        f"wrote {summary.path}: {summary.calls} call(s) of {summary.tools} tool(s), "
        f"{summary.users} user(s), last {summary.days} day(s)",
        err=True,
    )


if __name__ == "__main__":
    main()
