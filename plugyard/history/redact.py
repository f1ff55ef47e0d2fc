"""Secrets never reach the database. Replaced by ``[REDACTED]`` before storing:

- values under secret-looking keys (``redact_keys``: password, passphrase, pwd, token, ...), and in header
  pairs (``["Authorization", "..."]``, ``{"name": "Cookie", "value": "..."}``);
- inside any string value, by its shape (``redact_value``): ``Authorization: ...`` / ``Cookie: ...`` header
  lines, ``Bearer <token>``, ``key=value`` / ``key: value`` under a secret-looking key, the password of a URL
  (``scheme://user:pass@host``), private key blocks, tokens with a known prefix (``sk-``, ``ghp_``, ``AKIA``,
  JWTs, ...);
- in a failed call's error message, the same shapes, and the values of its secret arguments wherever the
  message echoes them (``Redactor.message``);
- in free text such as a search query (``redact_text``), also words shaped like keys or tokens (long mixed
  letter-digit runs; not applied to arguments, where ids and hashes have that shape).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

REDACTED = "[REDACTED]"
MAX_DEPTH = 32
_PLAIN = frozenset({str, int, float, bool, type(None)})
_PAIR_NAMES = ("name", "key", "header", "field")
_PAIR_VALUES = ("value", "val")
MIN_ECHOED = 4
"""A secret argument shorter than this is not searched for in error messages (it would match anywhere)."""

_KNOWN_TOKEN = (
    r"\b(?:sk-|sk_live_|rk_live_|ghp_|gho_|ghs_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|AIza|eyJ)"
    r"[A-Za-z0-9_\-./+=]{8,}"
)
_SHAPES = re.compile(
    r"(?P<pem>-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z))"
    r"|(?P<url>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*:)(?P<urlpass>[^\s@/]+)(?=@)"
    r"|(?i:(?P<header>\b(?:proxy-)?authorization|\bcookie|\bset-cookie|\bx-api-key|\bapi-key)(?P<hsep>\s*[:=]\s*))"
    r"(?P<hvalue>[^\r\n,;\"'}\]]+)"
    r"|(?i:(?P<scheme>\b(?:bearer|basic|token))\s+)(?P<credential>[A-Za-z0-9_\-.~+/=]{8,})"
    r"|(?P<key>[A-Za-z][A-Za-z0-9_\-]*)(?P<sep>[\"']?\s*[:=]\s*[\"']?)(?P<value>[^\s,;&\"']+)"
    r"|(?P<token>" + _KNOWN_TOKEN + ")",
    re.DOTALL,
)
_LONG_RUN = re.compile(r"\b(?=[A-Za-z0-9_\-+/=]*\d)(?=[A-Za-z0-9_\-+/=]*[A-Za-z])[A-Za-z0-9_\-+/=]{32,}")
_SUSPECT = re.compile(r"[:=]|\b(?:sk|rk|gh|gl|xox|AKIA|ASIA|AIza|eyJ|bearer|basic|token)", re.IGNORECASE)
"""A cheap first look: a string with none of these holds nothing ``redact_value`` would change."""


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
            if type(value) is str and len(value) >= 8 and _SUSPECT.search(value) and self.value(value) != value:
                return False
        return True

    def __call__(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return "[TOO DEEP]"
        if isinstance(value, dict):
            secret_pair = self._secret_pair(value)
            return {
                str(k): REDACTED
                if self.is_secret(str(k)) or (secret_pair and k in _PAIR_VALUES)
                else self(v, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            if len(value) == 2 and isinstance(value[0], str) and self.is_secret(value[0]):
                return [value[0], REDACTED]  # a header pair: ["Authorization", "Bearer ..."]
            return [self(v, depth + 1) for v in value]
        if isinstance(value, str):
            return self.value(value)
        return value

    def _secret_pair(self, value: dict[Any, Any]) -> bool:
        """``{"name": "Authorization", "value": "..."}``: a header given as a name and a value."""
        for name in _PAIR_NAMES:
            named = value.get(name)
            if isinstance(named, str) and self.is_secret(named):
                return any(v in value for v in _PAIR_VALUES)
        return False

    def value(self, text: str) -> str:
        """``text`` with every secret shape replaced (see the module's docstring)."""
        if len(text) < 8 or not _SUSPECT.search(text):
            return text
        return redact_value(text, self)

    def message(self, text: str, arguments: Any) -> str:
        """An error message as it may be stored: the shapes of ``value``, and the secret arguments'
        values wherever it echoes them."""
        for secret in sorted(set(self._secret_values(arguments, 0)), key=len, reverse=True):
            text = text.replace(secret, REDACTED)
        return self.value(text)

    def _secret_values(self, value: Any, depth: int, secret: bool = False) -> Iterator[str]:
        if depth > MAX_DEPTH:
            return
        if isinstance(value, dict):
            pair = self._secret_pair(value)
            for k, v in value.items():
                yield from self._secret_values(v, depth + 1, self.is_secret(str(k)) or (pair and k in _PAIR_VALUES))
        elif isinstance(value, list | tuple):
            pair = len(value) == 2 and isinstance(value[0], str) and self.is_secret(value[0])
            for i, v in enumerate(value):
                yield from self._secret_values(v, depth + 1, secret or (pair and i == 1))
        elif secret and isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value)
            if len(text) >= MIN_ECHOED:
                yield text


def redact_value(text: str, redactor: Redactor) -> str:
    """Secret shapes inside one string (an argument's value, an error message), replaced."""

    def replace(match: re.Match[str]) -> str:
        if match["pem"] is not None:
            return REDACTED
        if match["url"] is not None:
            return f"{match['url']}{REDACTED}"
        if match["header"] is not None:
            return f"{match['header']}{match['hsep']}{REDACTED}"
        if match["scheme"] is not None:
            return f"{match['scheme']} {REDACTED}"
        if match["key"] is not None:
            if redactor.is_secret(match["key"]):
                return f"{match['key']}{match['sep']}{REDACTED}"
            # Not a secret key: its value may still hold a secret (a URL's password, a token).
            return f"{match['key']}{match['sep']}{redact_value(match['value'], redactor)}"
        return REDACTED

    return _SHAPES.sub(replace, text)


def redact_text(text: str, redactor: Redactor) -> str:
    """Free text (a search query) as it may be stored: the shapes of ``redact_value``, and words shaped
    like keys or tokens (known prefixes, long mixed letter-digit runs), become ``[REDACTED]``."""
    return _LONG_RUN.sub(REDACTED, redact_value(text, redactor))
