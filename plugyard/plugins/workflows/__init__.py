"""The study assistant's three collaboration workflows, as first-party plugins (one module each).

- TaskDecomposition (``decomposition``): exam_preparation, task_decomposition.
- ProgressiveExploration (``exploration``): deep_learning, skill_building.
- ErrorDiagnosis (``diagnosis``): error_diagnosis.

Each works without a language model (templates in English and Chinese) and uses one when the host
has one (``run.model_available``), keeping the deterministic result when the model's answer does
not validate. ``text`` holds the helpers they share.
"""

from __future__ import annotations

from collections.abc import Callable

from plugyard import hookimpl

from .decomposition import TaskDecomposition
from .diagnosis import ErrorDiagnosis
from .exploration import ProgressiveExploration

__all__ = ["ErrorDiagnosis", "ProgressiveExploration", "TaskDecomposition", "register_workflows"]


@hookimpl
def register_workflows(register: Callable[..., None]) -> None:
    register(TaskDecomposition)
    register(ProgressiveExploration)
    register(ErrorDiagnosis)
