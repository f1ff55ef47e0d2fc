"""Secrets never reach the database: values under secret-looking keys are replaced before storing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH = 32
_PLAIN = frozenset({str, int, float, bool, type(None)})


class Redactor:
    def __init__(self, patterns: Iterable[str]) -> None:
        self._patterns = tuple(p.lower().replace("-", "_") for p in patterns if p)
        # Argument names repeat endlessly; each is judged once (bounded, in case they do not).
        self._verdicts: dict[str, bool] = {}

    def is_secret(self, key: str) -> bool:
        verdict = self._verdicts.get(key)
        if verdict is None:
            normal = key.lower().replace("-", "_")
            squashed = normal.replace("_", "")
            verdict = any(p in normal or p.replace("_", "") in squashed for p in self._patterns)
            if len(self._verdicts) < 10_000:
                self._verdicts[key] = verdict
        return verdict

    def plain_and_clean(self, args: dict[Any, Any]) -> bool:
        """Whether ``args`` would be stored as it is: string keys, none secret-looking, and values
        that are JSON already and hold nothing to redact (str, int, float, bool, None)."""
        is_secret = self.is_secret
        for key, value in args.items():
            if type(key) is not str or type(value) not in _PLAIN or is_secret(key):
                return False
        return True

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return "[TOO DEEP]"
        if isinstance(value, dict):
            return {str(k): REDACTED if self.is_secret(str(k)) else self(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v, depth + 1) for v in value]
        return value


_SECRET_SHAPES = re.compile(
    r"\b(?:sk-|sk_live_|ghp_|gho_|github_pat_|xox[abps]-|AKIA|AIza|eyJ)[A-Za-z0-9_\-./+=]{8,}"
    r"|\b(?=[A-Za-z0-9_\-+/=]*\d)(?=[A-Za-z0-9_\-+/=]*[A-Za-z])[A-Za-z0-9_\-+/=]{32,}"
)
_ASSIGNED = re.compile(r"(?P<key>[A-Za-z][A-Za-z0-9_\-]*)(?P<sep>\s*[:=]\s*)(?P<value>\S+)")


def redact_text(text: str, redactor: Redactor) -> str:
    """Free text (a search query) as it may be stored: ``key=value`` / ``key: value`` under a
    secret-looking key, and words shaped like keys or tokens (known prefixes, long mixed letter-digit
    runs), become ``[REDACTED]``."""

    def assigned(match: re.Match[str]) -> str:
        if redactor.is_secret(match["key"]):
            return f"{match['key']}{match['sep']}{REDACTED}"
        return match.group(0)

    return _SECRET_SHAPES.sub(REDACTED, _ASSIGNED.sub(assigned, text))
