"""Where records go when the database cannot take them: the journal, its fallbacks, its format.

A record the recorder cannot write is appended (fsynced) to the first place that takes it: the
journal, then the fallback journal (in the data directory, so on another folder than a SQLite file's),
then stderr as JSON Lines (one record a line, the journal's format: ``plugyard history import`` reads
them back once cut out of the log). Each step down is logged as an error naming the place that
failed and why; a record that not even stderr takes is counted as lost and logged critically. The
journals are replayed at the next start; stderr is not (the log says so).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger("plugyard.history")

STDERR = "stderr"


def journal_line(row: dict[str, Any]) -> str:
    return json.dumps(row, default=_json_default, ensure_ascii=False, separators=(",", ":")) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value)


def read_journal(path: Path) -> Iterable[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
                row["created_at"] = datetime.fromisoformat(row["created_at"])
            except (ValueError, KeyError, TypeError):
                # A torn last line (the process died mid-write) is the only way to get here.
                log.warning("%s:%d is not a complete record; skipped", path, number)
                continue
            yield row


def append_lines(path: Path, lines: Sequence[str]) -> None:
    """Append ``lines`` to ``path`` and fsync; raises ``OSError`` when the file cannot take them
    (a full disk, a read-only or missing folder). A partial append is cut back off."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        try:
            data = "".join(lines).encode("utf-8")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # A torn record would be skipped at replay, but a whole one half-written twice (here, then in
            # the next place) would be replayed twice: harmless (call ids), yet cut it off when we can.
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


class JournalSink:
    """The journal and the places after it, tried in order for every append."""

    def __init__(self, journals: Sequence[Path]) -> None:
        self.journals = [p for i, p in enumerate(journals) if p not in journals[:i]]
        self.on_stderr = 0
        """Records that only stderr took (not replayed at the next start)."""
        self.lost = 0
        """Records that nothing took."""

    def append(self, lines: Sequence[str], what: str = "record(s)") -> str:
        """Append ``lines`` to the first place that takes them; returns where they went ("stderr", or
        "nowhere" when even stderr refused them). Never raises: the recorder must go on."""
        failed: list[str] = []
        for path in self.journals:
            try:
                append_lines(path, lines)
            except OSError as exc:
                failed.append(f"{path}: {exc.strerror or exc}")
                continue
            if failed:
                log.error(
                    "history journal not writable (%s); %d %s kept in %s", "; ".join(failed), len(lines), what, path
                )
            return str(path)
        try:
            sys.stderr.flush()
            append_to_stderr(lines)
        except (OSError, ValueError) as exc:
            self.lost += len(lines)
            log.critical(
                "history: %d %s LOST: no journal is writable (%s) and stderr refused them (%s)",
                len(lines),
                what,
                "; ".join(failed),
                exc,
            )
            return "nowhere"
        self.on_stderr += len(lines)
        log.error(
            "history journal not writable (%s); %d %s written to stderr above as JSON Lines, one record a line: "
            "they will NOT be replayed; save them and run `plugyard history import FILE`",
            "; ".join(failed),
            len(lines),
            what,
        )
        return STDERR


def append_to_stderr(lines: Sequence[str]) -> None:
    data = memoryview("".join(lines).encode("utf-8"))
    while data:
        data = data[os.write(2, data) :]
