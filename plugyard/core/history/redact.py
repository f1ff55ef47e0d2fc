"""Secrets never reach the database: values under secret-looking keys are replaced before storing."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH = 32


class Redactor:
    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(p.lower().replace("-", "_") for p in patterns if p)

    def is_secret(self, key: str) -> bool:
        normal = key.lower().replace("-", "_")
        squashed = normal.replace("_", "")
        return any(p in normal or p.replace("_", "") in squashed for p in self._patterns)

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return "[TOO DEEP]"
        if isinstance(value, dict):
            return {str(k): REDACTED if self.is_secret(str(k)) else self(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v, depth + 1) for v in value]
        return value
