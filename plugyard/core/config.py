"""plugins.toml plus environment overrides, as typed settings.

Where the file is found: ``--config PATH``, else ``PLUGYARD_CONFIG``, else ``plugins.toml`` in
the working directory, else none (every default applies). ``PLUGYARD_DATABASE_URL`` overrides
``[database] url``; without either, the SQLite file lives in the user's data directory so a
desktop assistant that starts ``plugyard serve`` from any folder finds the same history.
"""

from __future__ import annotations

import getpass
import logging
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from plugyard.core.errors import ConfigError

log = logging.getLogger("plugyard.config")

CONFIG_ENV = "PLUGYARD_CONFIG"
DATABASE_ENV = "PLUGYARD_DATABASE_URL"
USER_ENV = "PLUGYARD_USER"
DATA_DIR_ENV = "PLUGYARD_DATA_DIR"
TELEMETRY_ENV = "PLUGYARD_TELEMETRY"
CONFIG_FILE = "plugins.toml"
RESERVED_PLUGIN_KEYS = frozenset({"disabled", "modules"})

MOVED_SECTIONS: dict[str, str] = {"history": "history"}
"""Top-level tables of older plugins.toml files that became a plugin's ``[plugins.<name>]`` table:
old table -> plugin name. Still read, with a warning naming the new place; both at once is an error.
(This is the file format's own history, not a feature: the plugin alone knows what the keys mean.)"""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Section):
    url: str | None = None
    """SQLAlchemy async URL: ``sqlite+aiosqlite:///path.db`` or ``postgresql+asyncpg://...``."""


def _token_reference(value: dict[str, str]) -> dict[str, str]:
    for user, reference in value.items():
        if not reference.startswith("env:") or len(reference) <= 4:
            raise ValueError(
                f'user {user!r}: tokens never go in plugins.toml; write "env:VARIABLE" and put the '
                "token in that environment variable"
            )
    return value


class ServerSettings(_Section):
    name: str = "plugyard"
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    path: str = "/mcp"
    stateless_http: bool = False
    resumable_events: int = Field(10_000, ge=0)
    """Stateful HTTP: how many recent server messages are kept in memory (all sessions together) so
    a client whose stream broke resumes it with Last-Event-ID; 0 turns resumability off."""
    sse_retry_ms: int = Field(1000, ge=1)
    """Stateful HTTP with resumability: the ``retry`` (milliseconds) each SSE stream's priming event
    suggests to a client before it reconnects."""
    shutdown_timeout: int = Field(30, ge=1)
    """Seconds SIGTERM waits for in-flight HTTP requests before cancelling them (then the history flushes)."""
    auth_tokens: Annotated[dict[str, str], AfterValidator(_token_reference)] = Field(default_factory=dict)
    """Per user, ``"env:VARIABLE"``: the environment variable holding that user's bearer token
    (HTTP only; see also PLUGYARD_AUTH_TOKENS). Tokens themselves never go in this file."""
    allowed_hosts: tuple[str, ...] = ()
    """Host headers accepted when serving HTTP beyond loopback (DNS-rebinding protection)."""
    default_user: str | None = None
    """The user id recorded for calls that carry no authenticated identity (default: the OS login)."""
    rank_tools: bool = False
    """List tools in the caller's learned order of preference (best first) instead of registration order."""
    max_listed_tools: int | None = Field(None, ge=1)
    """With rank_tools, list at most this many tools (pinned tools are always listed)."""
    pinned_tools: tuple[str, ...] = ()
    """With rank_tools, tools always listed, first, in this order; with tool search on, the tools listed
    beside the search tool and call_tool."""
    tool_search: Literal["auto", "on", "off"] = "auto"
    """"on": tools/list shows only the pinned tools, the search tool(s) a plugin registered and
    call_tool (every tool stays callable by name); "auto": on above tool_search_threshold tools; "off"."""
    tool_search_threshold: int = Field(40, ge=0)
    """With tool_search = "auto", tool search is on when more than this many tools are registered."""


class TelemetrySettings(_Section):
    enabled: bool = False
    """Emit OpenTelemetry spans for tool calls and workflow runs (``PLUGYARD_TELEMETRY=1`` also turns them on)."""


class ToolOverride(_Section):
    timeout: float | None = Field(None, gt=0)


class ToolsSettings(BaseModel):
    model_config = ConfigDict(frozen=True)
    timeout: float = Field(30.0, gt=0)
    max_argument_bytes: int = Field(1 << 20, ge=1)
    """A call whose arguments encode to more JSON than this is refused before it reaches a tool."""
    overrides: dict[str, ToolOverride] = Field(default_factory=dict)


class PluginsSettings(BaseModel):
    model_config = ConfigDict(frozen=True)
    disabled: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    """Extra plugins: importable module names, or paths to .py files (relative to plugins.toml)."""
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("disabled", "modules", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        if isinstance(value, str):
            return (value,)
        return value


class Config(BaseModel):
    model_config = ConfigDict(frozen=True)
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    tools: ToolsSettings = ToolsSettings()
    plugins: PluginsSettings = PluginsSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    source: Path | None = None
    """The plugins.toml this came from, if any; relative paths in it are relative to its folder."""

    @property
    def base_dir(self) -> Path:
        return self.source.parent if self.source is not None else Path.cwd()

    @property
    def database_url(self) -> str:
        return self.database.url or default_database_url()

    @property
    def default_user(self) -> str:
        return os.environ.get(USER_ENV) or self.server.default_user or _login_name()

    def resolve_path(self, value: str | os.PathLike[str]) -> Path:
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def data_dir() -> Path:
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured).expanduser() if configured else Path(platformdirs.user_data_dir("plugyard"))


def default_database_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'plugyard.db'}"


def find_config_file(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"config file {str(path)!r} does not exist")
        return path.resolve()
    env = os.environ.get(CONFIG_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise ConfigError(f"{CONFIG_ENV} names {env!r}, which does not exist")
        return path.resolve()
    local = Path.cwd() / CONFIG_FILE
    return local.resolve() if local.is_file() else None


def setting_problem(table: str, key: str, error: Any, known: str | None = None) -> str:
    """One refused setting as the user wrote it: ``[table] key: the rule (got the value)``."""
    where = f"[{table}] {key}" if key else f"[{table}]"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key" + (f" (the keys are: {known})" if known else "")
    given = error.get("input")
    got = f" (got {given!r})" if isinstance(given, int | float | str | bool) and len(repr(given)) <= 60 else ""
    return f"{where}: {error['msg']}{got}"


def _describe(exc: ValidationError, where: str) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"]]
        if loc[:2] == ["tools", "overrides"] and len(loc) > 2:
            table, key = f"tools.{loc[2]}", loc[3:]
        else:
            table, key = loc[0] if loc else "", loc[1:]
        parts.append(setting_problem(table, ".".join(key), err))
    return f"{where}: " + "; ".join(parts)


def parse_config(data: dict[str, Any], source: Path | None = None) -> Config:
    """Turn the parsed TOML into typed settings; every problem names the key."""
    where = str(source) if source else "configuration"
    known = {"database", "server", "tools", "plugins", "telemetry"}
    unknown = sorted(set(data) - known - set(MOVED_SECTIONS))
    if unknown:
        raise ConfigError(f"{where}: unknown section(s) {unknown}; known sections are {sorted(known)}")
    tools_raw = dict(data.get("tools", {}))
    plugins_raw = _moved_into(dict(data.get("plugins", {})), data, where)
    tools: dict[str, Any] = {"timeout": tools_raw.pop("timeout", 30.0), "overrides": {}}
    if "max_argument_bytes" in tools_raw:
        tools["max_argument_bytes"] = tools_raw.pop("max_argument_bytes")
    for name, table in tools_raw.items():
        if not isinstance(table, dict):
            raise ConfigError(
                f"{where}: [tools] {name} must be a table [tools.{name}] "
                "(only 'timeout' and 'max_argument_bytes' are values)"
            )
        tools["overrides"][name] = table
    plugins = {
        "disabled": plugins_raw.pop("disabled", ()),
        "modules": plugins_raw.pop("modules", ()),
        "settings": {},
    }
    for name, table in plugins_raw.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: [plugins] {name} = ... is not a table; plugin settings go in [plugins.{name}]")
        plugins["settings"][name] = table
    try:
        return Config(
            database=data.get("database", {}),
            server=data.get("server", {}),
            tools=tools,
            plugins=plugins,
            telemetry=data.get("telemetry", {}),
            source=source,
        )
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where)) from None


def _moved_into(plugins_raw: dict[str, Any], data: dict[str, Any], where: str) -> dict[str, Any]:
    """``[plugins]`` with the tables of ``MOVED_SECTIONS`` put in their new place."""
    for old, plugin in MOVED_SECTIONS.items():
        if old not in data:
            continue
        if not isinstance(data[old], dict):
            raise ConfigError(f"{where}: {old} = ... is not a table; its settings go in [plugins.{plugin}]")
        if plugin in plugins_raw:
            raise ConfigError(
                f"{where}: both [{old}] and [plugins.{plugin}] are set; [{old}] is the old place of "
                f"[plugins.{plugin}]: move its keys there and delete [{old}]"
            )
        log.warning(
            "%s: [%s] is now [plugins.%s]; move its keys there (the old place is still read)", where, old, plugin
        )
        plugins_raw[plugin] = data[old]
    return plugins_raw


def load_config(explicit: str | os.PathLike[str] | None = None) -> Config:
    """Find and read plugins.toml, then apply environment overrides."""
    path = find_config_file(explicit)
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot be read: {exc}") from None
    config = parse_config(data, path)
    telemetry = os.environ.get(TELEMETRY_ENV, "").strip().lower()
    if telemetry:
        enabled = telemetry in ("1", "true", "yes", "on")
        config = config.model_copy(update={"telemetry": TelemetrySettings(enabled=enabled)})
    url = os.environ.get(DATABASE_ENV)
    if url:
        config = config.model_copy(update={"database": DatabaseSettings(url=url)})
    elif config.database.url and config.database.url.startswith("sqlite") and path is not None:
        config = config.model_copy(update={"database": DatabaseSettings(url=_anchor_sqlite(config.database.url, path))})
    return config


def _anchor_sqlite(url: str, config_path: Path) -> str:
    """A relative SQLite path in plugins.toml is relative to the file, not the working directory."""
    prefix, sep, rest = url.partition(":///")
    if not sep or not rest or rest.startswith("/") or rest == ":memory:":
        return url
    return f"{prefix}:///{(config_path.parent / rest).resolve()}"
