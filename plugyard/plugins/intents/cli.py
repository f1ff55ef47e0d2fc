"""``plugyard intents fit``: the intents plugin's command (its ``register_commands`` adds it)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator

import click

from plugyard import data_dir

from . import USER_MODEL_NAME, fit
from .model import read_jsonl


@contextlib.contextmanager
def _progress() -> Iterator[Callable[[str, int, int], None]]:
    """Training takes a while (20 s on the shipped data): a bar on a terminal, else one line on
    stderr per model trained; stdout keeps only the report."""
    if not sys.stderr.isatty():
        said = [""]

        def line(stage: str, done: int, total: int) -> None:
            if stage != said[0]:
                said[0] = stage
                click.echo(f"training {stage}...", err=True)

        yield line
        return
    with click.progressbar(length=1, label="training", file=sys.stderr, show_pos=True, show_eta=True) as bar:

        def advance(stage: str, done: int, total: int) -> None:
            bar.length = total
            bar.label = f"training {stage}"
            bar.update(done - bar.pos)

        yield advance


def add_commands(cli: click.Group) -> None:
    cli.add_command(intents_group)


@click.group("intents")
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
    try:
        rows = read_jsonl(file)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from None
    if len({r["intent"] for r in rows}) < 2:
        raise click.BadParameter("needs messages of at least two intents", param_hint="FILE")
    with _progress() as report_progress:
        model, report = fit(rows, progress=report_progress)
    target = out or str(data_dir() / USER_MODEL_NAME)
    model.save(target)
    report["model"] = target
    if as_json:
        click.echo(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        click.echo(f"{key}: {round(value, 4) if isinstance(value, float) else value}")
