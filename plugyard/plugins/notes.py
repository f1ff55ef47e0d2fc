"""Search, read and list the notes in one configured folder, and never anything outside it.

Configure it in plugins.toml::

    [plugins.notes]
    root = "~/notes"                        # ~ is expanded
    extensions = [".md", ".txt", ".rst", ".org"]
    max_file_bytes = 1_000_000

Without ``root`` the notes live in ``notes`` in plugyard's data directory, created on first use
with a short README saying what the folder is for (``plugyard plugins`` shows where). A relative
``root`` is relative to the folder of plugins.toml.
Files and folders whose names start with a dot (``.git``, ``.obsidian``) are not notes.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from plugyard import ToolContext, data_dir, hookimpl

TITLE_WEIGHT = 8.0
NAME_WEIGHT = 8.0
# One word repeated hundreds of times should not bury a note that matches every word well.
MAX_HITS_PER_WORD = 50
SNIPPET_CHARS = 200
MAX_LISTED = 2000


class NotesSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root: str = Field(default_factory=lambda: str(data_dir() / "notes"))
    """The notes folder. ``~`` is expanded; a relative path is relative to the folder of
    plugins.toml (the working directory when there is no file). Default: ``notes`` in the data
    directory, created on first use."""
    extensions: list[str] = Field(default_factory=lambda: [".md", ".txt", ".rst", ".org"])
    """Only files with these suffixes (case-insensitive) are notes."""
    max_file_bytes: int = Field(default=1_000_000, ge=1)
    """Larger files are skipped by search and refused by read_note."""

    @field_validator("root")
    @classmethod
    def _absolute_root(cls, value: str, info: ValidationInfo) -> str:
        path = Path(value).expanduser()
        base = (info.context or {}).get("base_dir")
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        return str(path.absolute())

    @field_validator("extensions")
    @classmethod
    def _dotted_extensions(cls, value: list[str]) -> list[str]:
        cleaned = [e.strip().lower() for e in value if e.strip()]
        return [e if e.startswith(".") else f".{e}" for e in cleaned]


class NoteMatch(BaseModel):
    path: str = Field(description="Path of the note relative to the notes root, with '/' separators.")
    title: str = Field(description="The note's first heading, or its file name.")
    score: float = Field(description="Higher is more relevant; title and file-name matches weigh more.")
    line: int | None = Field(description="1-based number of the best matching line; None if only the path matched.")
    snippet: str = Field(description="The best matching line (shortened around the match).")
    match_count: int = Field(description="How many times the query words occur in the note's text.")


class Note(BaseModel):
    path: str
    title: str
    text: str
    size_bytes: int
    modified: datetime


class NoteEntry(BaseModel):
    path: str
    size_bytes: int
    modified: datetime


class NoteListing(BaseModel):
    folder: str = Field(description="The listed folder, relative to the notes root ('' is the root).")
    notes: list[NoteEntry]
    truncated: bool = Field(description=f"True when there were more than {MAX_LISTED} notes to list.")


# -- confinement --------------------------------------------------------------------------


def _settings(ctx: ToolContext | None) -> NotesSettings:
    settings = ctx.settings if ctx is not None else None
    return settings if isinstance(settings, NotesSettings) else NotesSettings()


DEFAULT_README = """\
# Your notes

This folder is where plugyard's notes tools (`search_notes`, `read_note`, `list_notes`) look,
and where the assistant's workflows find related notes. Put Markdown or text files here
(sub-folders are fine), or point plugyard at the folder that already holds your notes:

    [plugins.notes]
    root = "~/Documents/notes"

in your plugins.toml (`plugyard plugins` shows the folder in use). You may delete this file.
"""


def notes_root(settings: NotesSettings) -> Path:
    """The real (symlink-free) notes folder, or a FileNotFoundError that says how to fix it.
    The default folder is made on first use, with a README saying what it is for."""
    root = Path(settings.root)
    if "root" not in settings.model_fields_set and not root.exists():
        root.mkdir(parents=True, exist_ok=True)
        (root / "README.md").write_text(DEFAULT_README, encoding="utf-8")
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise FileNotFoundError(
            f"the notes folder {str(root)!r} {what}; set [plugins.notes] root in plugins.toml "
            "to the folder that holds your notes"
        )
    return root.resolve()


def confine(root: Path, path: str) -> Path:
    """``root/path`` after checking it stays inside ``root``, symlinks included.

    ``root`` must already be resolved. Returns the real path, so that callers open exactly the
    file that was checked.
    """
    if "\x00" in path:
        raise ValueError(f"path {path!r} contains a NUL character")
    # Backslashes are treated as separators so that a Windows-style '..\\x' cannot slip past.
    parts = PurePosixPath(path.replace("\\", "/"))
    if path.startswith(("/", "\\")) or PureWindowsPath(path).drive or Path(path).is_absolute():
        raise ValueError(f"path {path!r} is absolute; give a path relative to the notes root {str(root)!r}")
    if ".." in parts.parts:
        raise ValueError(f"path {path!r} contains '..'; paths must stay inside the notes root {str(root)!r}")
    real = root.joinpath(*parts.parts).resolve()
    if not real.is_relative_to(root):
        raise ValueError(
            f"path {path!r} leads outside the notes root {str(root)!r} through a symbolic link; "
            "only files inside the notes root can be read"
        )
    return real


def _walk(root: Path, start: Path, settings: NotesSettings) -> Iterator[tuple[str, Path]]:
    """(path relative to root, real path) of every note under ``start``, confined to ``root``."""
    extensions = set(settings.extensions)
    # followlinks=False: a linked folder could loop or lead out; linked files are checked one by one.
    for dirpath, dirnames, filenames in os.walk(start, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith(".") or Path(name).suffix.lower() not in extensions:
                continue
            here = Path(dirpath) / name
            real = here.resolve()
            if not real.is_relative_to(root) or not real.is_file():
                continue
            yield here.relative_to(root).as_posix(), real


def _read_text(real: Path) -> str:
    return real.read_bytes().decode("utf-8-sig", errors="replace")


# -- titles -------------------------------------------------------------------------------

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)(?:\s+#+)?\s*$")
_ORG_TITLE = re.compile(r"^#\+title:\s*(.+?)\s*$", re.IGNORECASE)
_ORG_HEADING = re.compile(r"^\*+\s+(.+?)\s*$")
_RST_ADORNMENT = re.compile(r"^([=\-~^*#+`'\".:_])\1{2,}\s*$")
_FRONT_MATTER_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.IGNORECASE)


def note_title(text: str, filename: str) -> str:
    """The first heading in the syntax of the file's kind, else the file name without suffix."""
    lines = text.splitlines()
    suffix = Path(filename).suffix.lower()
    title = _TITLES.get(suffix, _markdown_title)(lines)
    return title if title is not None else Path(filename).stem


def _org_title(lines: list[str]) -> str | None:
    for line in lines:
        m = _ORG_TITLE.match(line) or _ORG_HEADING.match(line)
        if m:
            return m.group(1)
    return None


def _rst_title(lines: list[str]) -> str | None:
    """A line underlined by an adornment at least as long as it."""
    for line, under in zip(lines, (u.rstrip() for u in lines[1:]), strict=False):
        title = line.strip()
        if title and not _RST_ADORNMENT.match(line) and _RST_ADORNMENT.match(under) and len(under) >= len(title):
            return title
    return None


def _markdown_title(lines: list[str]) -> str | None:
    """The front matter's ``title:``, else the first ATX heading."""
    if lines and lines[0].strip() == "---":
        for line in lines[1:]:
            if line.strip() in ("---", "..."):
                break
            m = _FRONT_MATTER_TITLE.match(line)
            if m:
                return m.group(1).strip("'\"")
    for line in lines:
        m = _MD_HEADING.match(line)
        if m:
            return m.group(1)
    return None


_TITLES: dict[str, Callable[[list[str]], str | None]] = {".org": _org_title, ".rst": _rst_title}


# -- search -------------------------------------------------------------------------------


def _snippet(line: str, words: list[str]) -> str:
    line = line.strip()
    if len(line) <= SNIPPET_CHARS:
        return line
    lower = line.lower()
    first = min((i for i in (lower.find(w) for w in words) if i >= 0), default=0)
    start = max(0, min(first - SNIPPET_CHARS // 3, len(line) - SNIPPET_CHARS))
    piece = line[start : start + SNIPPET_CHARS]
    return ("…" if start > 0 else "") + piece + ("…" if start + SNIPPET_CHARS < len(line) else "")


def score_note(relpath: str, text: str, words: list[str]) -> NoteMatch | None:
    """Rank one note against the (lower-cased) query words; None unless every word occurs."""
    lower = text.lower()
    name = relpath.lower()
    if not all(w in lower or w in name for w in words):
        return None
    title = note_title(text, relpath)
    hits = [lower.count(w) for w in words]
    score = float(sum(min(h, MAX_HITS_PER_WORD) for h in hits))
    score += TITLE_WEIGHT * sum(w in title.lower() for w in words)
    score += NAME_WEIGHT * sum(w in name for w in words)
    lines = text.splitlines()
    best: tuple[int, int, int] | None = None  # (distinct words, occurrences, -line index)
    for i, line in enumerate(lines):
        low = line.lower()
        distinct = sum(w in low for w in words)
        if distinct:
            key = (distinct, sum(low.count(w) for w in words), -i)
            if best is None or key > best:
                best = key
    if best is None:
        first = next((ln for ln in lines if ln.strip()), "")
        return NoteMatch(
            path=relpath, title=title, score=score, line=None, snippet=_snippet(first, words), match_count=0
        )
    index = -best[2]
    return NoteMatch(
        path=relpath,
        title=title,
        score=score,
        line=index + 1,
        snippet=_snippet(lines[index], words),
        match_count=sum(hits),
    )


def search_notes(
    query: Annotated[str, Field(min_length=1, max_length=500, description="Words to find, e.g. 'docker volume'.")],
    ctx: ToolContext,
    limit: Annotated[int, Field(ge=1, le=100, description="At most this many notes are returned.")] = 10,
) -> list[NoteMatch]:
    """Search the user's notes folder for notes containing every word of the query.

    Matching is case-insensitive and by substring ('deploy' also finds 'deployment'); a word
    may appear in the note's text or in its path. Results are ranked by how often the words
    occur, with matches in the title or file name weighing more, and give each note's path
    (for read_note), title, best matching line number and that line as a snippet.
    An empty list means no note contains all the words: try fewer or different words.
    """
    settings = _settings(ctx)
    words = list(dict.fromkeys(query.lower().split()))
    if not words:
        raise ValueError("the query has no words to search for")
    root = notes_root(settings)
    matches: list[NoteMatch] = []
    for relpath, real in _walk(root, root, settings):
        try:
            if real.stat().st_size > settings.max_file_bytes:
                continue
            text = _read_text(real)
        except OSError:
            # A note deleted or made unreadable mid-search is not the caller's problem.
            continue
        match = score_note(relpath, text, words)
        if match is not None:
            matches.append(match)
    matches.sort(key=lambda m: (-m.score, m.path))
    return matches[:limit]


# -- read and list ------------------------------------------------------------------------


def _modified(real: Path) -> datetime:
    return datetime.fromtimestamp(real.stat().st_mtime, tz=UTC)


def read_note(
    path: Annotated[
        str,
        Field(min_length=1, description="The note's path relative to the notes root, as list_notes gives it."),
    ],
    ctx: ToolContext,
) -> Note:
    """Read one note from the user's notes folder: its full text, title (first heading or file
    name), size and modification time. Paths are relative to the notes root; absolute paths,
    '..' and links leading outside the notes folder are refused."""
    settings = _settings(ctx)
    root = notes_root(settings)
    real = confine(root, path)
    if real.is_dir():
        raise IsADirectoryError(f"{path!r} is a folder in the notes root {str(root)!r}; list it with list_notes")
    if not real.is_file():
        known = [p for p, _ in _walk(root, root, settings)]
        close = difflib.get_close_matches(path, known, n=3, cutoff=0.5)
        hint = (
            f"; did you mean {', '.join(map(repr, close))}?" if close else "; find it with list_notes or search_notes"
        )
        raise FileNotFoundError(f"there is no note {path!r} in the notes root {str(root)!r}{hint}")
    if real.suffix.lower() not in settings.extensions:
        raise ValueError(
            f"{path!r} is not a note: only files ending in {', '.join(settings.extensions)} are "
            "(set [plugins.notes] extensions in plugins.toml to change that)"
        )
    size = real.stat().st_size
    if size > settings.max_file_bytes:
        raise ValueError(
            f"note {path!r} is {size} bytes, more than the {settings.max_file_bytes} allowed "
            "([plugins.notes] max_file_bytes in plugins.toml)"
        )
    text = _read_text(real)
    display = PurePosixPath(path.replace("\\", "/")).as_posix()
    title = note_title(text, display)
    return Note(path=display, title=title, text=text, size_bytes=size, modified=_modified(real))


def list_notes(
    ctx: ToolContext,
    folder: Annotated[str, Field(description="A sub-folder of the notes root; '' lists every note.")] = "",
) -> NoteListing:
    """List the notes in the user's notes folder (or one of its sub-folders), recursively,
    sorted by path, with each note's size and modification time. Use the paths with read_note."""
    settings = _settings(ctx)
    root = notes_root(settings)
    start = confine(root, folder) if folder.strip() not in ("", ".") else root
    if not start.is_dir():
        raise NotADirectoryError(f"{folder!r} is not a folder in the notes root {str(root)!r}")
    found = sorted(_walk(root, start, settings))
    entries: list[NoteEntry] = []
    for relpath, real in found[:MAX_LISTED]:
        try:
            stat = real.stat()
        except OSError:
            continue
        modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
        entries.append(NoteEntry(path=relpath, size_bytes=stat.st_size, modified=modified))
    shown = start.relative_to(root).as_posix()
    return NoteListing(folder="" if shown == "." else shown, notes=entries, truncated=len(found) > MAX_LISTED)


# -- hooks --------------------------------------------------------------------------------


@hookimpl
def plugin_settings() -> type[NotesSettings]:
    return NotesSettings


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    register(search_notes, capabilities=["search_notes"], read_only=True, idempotent=True)
    register(read_note, capabilities=["read_note"], read_only=True, idempotent=True)
    register(list_notes, capabilities=["list_notes"], read_only=True, idempotent=True)
