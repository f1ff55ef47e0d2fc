"""What every ``plugyard`` command shares: the configuration ``--config`` chose, the host factory,
exit codes, and turning plugyard's errors into one line on stderr.

Exit codes: 0 success; 1 a tool call failed; 2 usage error (arguments a tool refuses too); 3 configuration, plugin or
database error.
A command a plugin contributes (``register_commands``) reaches this through ``@click.pass_obj``
(``state.config``) or ``click.get_current_context().obj``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from plugyard.core.config import Config, load_config
from plugyard.core.errors import PlugyardError
from plugyard.core.host import PluginHost

T = TypeVar("T")
EXIT_TOOL_FAILED = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
_STATE = "plugyard.state"


class CommandError(click.ClickException):
    """A configuration, plugin or database error: its message on stderr, exit code 3."""

    exit_code = EXIT_ERROR


class CliState:
    """The options given to ``plugyard`` itself, and what they lead to (read once per invocation)."""

    def __init__(self, config_path: str | None, strict: bool) -> None:
        self.config_path = config_path
        self.strict = strict
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        """The configuration; raises ``ConfigError`` (see ``guard``)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def host(self) -> PluginHost:
        return PluginHost(self.config, strict=self.strict).load()


def state_of(ctx: click.Context) -> CliState:
    """This invocation's state, made on first use from the ``plugyard`` group's options (the
    group's plugin commands are looked up before its own callback runs)."""
    root = ctx.find_root()
    state = root.meta.get(_STATE)
    if state is None:
        setup_logging(root.params.get("verbose") or 0)
        state = CliState(root.params.get("config_path"), bool(root.params.get("strict")))
        root.meta[_STATE] = state
    assert isinstance(state, CliState)
    return state


def setup_logging(verbose: int) -> None:
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )


def guard(fn: Callable[[], T]) -> T:
    """``fn()``, with plugyard's errors turned into their message and exit code 3."""
    try:
        return fn()
    except PlugyardError as exc:
        raise CommandError(str(exc)) from None
