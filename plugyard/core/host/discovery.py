"""Finding plugins and importing them: entry points, plugins.toml modules and objects given in code.

Nothing here registers anything: a candidate is a name, where it comes from, and how to import it.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from plugyard.core import hookspecs
from plugyard.core.config import Config

ENTRY_POINT_GROUP = "plugyard"


@dataclasses.dataclass(slots=True)
class PluginInfo:
    """What ``plugyard plugins`` shows about one plugin."""

    name: str
    origin: str
    """``entry point``, ``plugins.toml`` or ``registered`` (handed to the host in code)."""
    module: str | None = None
    distribution: str | None = None
    version: str | None = None
    status: str = "loaded"
    """``loaded``, ``failed`` or ``disabled``."""
    hooks: list[str] = dataclasses.field(default_factory=list)
    tools: list[str] = dataclasses.field(default_factory=list)
    classifiers: list[str] = dataclasses.field(default_factory=list)
    workflows: list[str] = dataclasses.field(default_factory=list)
    resources: list[str] = dataclasses.field(default_factory=list)
    prompts: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    clashes: list[str] = dataclasses.field(default_factory=list, repr=False)
    """The parts of ``error`` that are names another plugin owns (found afresh at each re-registering)."""
    settings: dict[str, Any] | None = None
    """The validated settings, defaults included (values of secret-looking keys masked): what
    the plugin really runs with, such as the folder a default points at."""

    def as_dict(self, *, settings: bool = True) -> dict[str, Any]:
        shown = dataclasses.asdict(self)
        del shown["clashes"]  # already in ``error``
        if not settings:
            del shown["settings"]
        return shown


@dataclasses.dataclass(slots=True)
class Candidate:
    info: PluginInfo
    load: Callable[[], object]


def candidates(config: Config, *, entry_points: bool, given: Sequence[tuple[str, object]]) -> Iterator[Candidate]:
    """Every plugin the host may load, in load order: entry points (by name), then plugins.toml
    ``[plugins] modules``, then the objects handed to the host."""
    if entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist
            yield Candidate(
                PluginInfo(
                    name=ep.name,
                    origin="entry point",
                    module=ep.value,
                    distribution=dist.name if dist is not None else None,
                    version=dist.version if dist is not None else None,
                ),
                ep.load,
            )
    for spec in config.plugins.modules:
        yield module_candidate(config, spec)
    for name, obj in given:
        yield Candidate(
            PluginInfo(name=name, origin="registered", module=getattr(obj, "__name__", type(obj).__name__)),
            functools.partial(_identity, obj),
        )


def module_candidate(config: Config, spec: str) -> Candidate:
    """A plugins.toml module: a ``.py`` file (relative to the file) or an importable module name."""
    if spec.endswith(".py"):
        path = config.resolve_path(spec)
        name = path.stem

        def load_file() -> object:
            if not path.is_file():
                raise FileNotFoundError(f"plugin file {str(path)!r} does not exist")
            module_spec = importlib.util.spec_from_file_location(f"plugyard_local_{name}", path)
            assert module_spec is not None and module_spec.loader is not None
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
            return module

        return Candidate(PluginInfo(name=name, origin="plugins.toml", module=str(path)), load_file)

    def load_module() -> object:
        base = str(config.base_dir)
        if base not in sys.path:
            sys.path.insert(0, base)
        return importlib.import_module(spec)

    return Candidate(PluginInfo(name=spec, origin="plugins.toml", module=spec), load_module)


def instantiate(load: Callable[[], object]) -> object:
    """Import a candidate; a class is instantiated (once per host: plugins keep their state there)."""
    obj = load()
    return obj() if inspect.isclass(obj) else obj


def hook_names() -> list[str]:
    return sorted(name for name in dir(hookspecs) if is_spec(getattr(hookspecs, name)))


def is_spec(obj: object) -> bool:
    return callable(obj) and hasattr(obj, f"{hookspecs.PROJECT}_spec")


def _identity(obj: object) -> object:
    return obj
