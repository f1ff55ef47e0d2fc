"""How the ``plugyard`` command prints: tables and progress bars for people, plain lines for pipes.

A terminal gets aligned tables with a bold header and progress bars on stderr; anything else (a pipe, a
file, a test) gets the plain line-per-item text, and no bar, so scripts keep parsing what they parsed.
``--json`` is the format meant for scripts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import IO

import click


def is_terminal(stream: IO[str] | None = None) -> bool:
    stream = stream if stream is not None else sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, right: Sequence[int] = ()) -> None:
    """Print ``rows`` as aligned columns under a bold header; ``right`` are the indexes of numeric columns."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if i in right else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))]
        return "  ".join(parts).rstrip()

    click.echo(click.style(line(headers), bold=True))
    click.echo(click.style("  ".join("─" * w for w in widths), dim=True))
    for row in cells:
        click.echo(line(row))


@contextmanager
def progress(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while the block runs, when stderr is a terminal; yields ``advance(n)``."""
    if not total or not is_terminal(sys.stderr):
        yield lambda n: None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True) as bar:
        yield bar.update
