"""Redaction by value as well as by key: what a tool's arguments and a failure's message may carry never
reaches the database (a real SQLite file and PostgreSQL, through the host's pipeline and the recorder)."""

from __future__ import annotations

import json

import pytest

from plugyard import hookimpl
from plugyard.history.redact import REDACTED, Redactor, redact_text
from plugyard.history.settings import DEFAULT_REDACT_KEYS
from tests.conftest import recorded

SECRETS = ["hunter22", "s3cr3t-pw", "dXNlcjpwYXNz", "abcdefgh12345", "sk-abcdefghijklmnop", "sid-98765", "open sesame"]


def fetch(url: str, headers: list[list[str]], passphrase: str = "", note: str = "") -> str:
    """Fails, echoing everything it was given (as careless error messages do)."""
    raise ValueError(f"cannot fetch {url} with {headers} ({passphrase}; {note})")


class Leaky:
    @hookimpl
    def register_tools(self, register):  # type: ignore[no-untyped-def]
        register(fetch)


@pytest.fixture
def redactor() -> Redactor:
    return Redactor(DEFAULT_REDACT_KEYS)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ({"passphrase": "open sesame", "pwd": "hunter22", "user": "bob"}, ["bob"]),
        ({"headers": [["Authorization", "Bearer abcdefgh12345"], ["Accept", "json"]]}, ["Accept", "json"]),
        ({"h": [{"name": "Cookie", "value": "sid-98765"}, {"name": "Accept", "value": "text/html"}]}, ["text/html"]),
        ({"raw": "GET / HTTP/1.1\r\nAuthorization: Basic dXNlcjpwYXNz\r\nHost: x"}, ["Host: x"]),
        ({"dsn": "postgresql://admin:s3cr3t-pw@db.example/prod"}, ["admin", "db.example/prod"]),
        ({"note": "see: https://u:hunter22@h.example/x, then call"}, ["h.example/x", "then call"]),
        ({"cfg": '{"password": "hunter22", "x": 1}'}, ['"x": 1']),
        ({"q": "token=abcdefgh12345&page=2"}, ["page=2"]),
        ({"text": "my key is sk-abcdefghijklmnop, thanks"}, ["my key is", "thanks"]),
    ],
)
def test_secrets_are_redacted_by_value_and_the_rest_is_kept(redactor, value, kept):
    stored = json.dumps(redactor(value))
    assert REDACTED in stored
    assert not any(secret in stored for secret in SECRETS), stored
    assert all(json.dumps(k)[1:-1] in stored for k in kept), stored
    assert redactor.plain_and_clean(value) is False


def test_ordinary_values_are_stored_as_they_are(redactor):
    # Ids and hashes have a token's shape: only free text (a search query) is judged by that shape.
    args = {"call_id": "2a6e4893-d8b2-43c1-a8b8-8a298b3ff50e", "expression": "2 * (3 + 4)", "when": "10:30"}
    assert redactor.plain_and_clean(args) is True
    assert redactor(args) == args
    assert "2a6e4893" not in redact_text("find 2a6e4893d8b243c1a8b88a298b3ff50e", redactor)


def test_an_error_message_loses_the_secrets_it_echoes(redactor):
    message = "login failed for bob with hunter22 via https://u:s3cr3t-pw@h (Authorization: Bearer abcdefgh12345)"
    clean = redactor.message(message, {"user": "bob", "pwd": "hunter22"})
    assert "bob" in clean and not any(s in clean for s in SECRETS), clean


@pytest.mark.anyio
async def test_no_secret_given_to_a_failing_tool_is_stored(running_host, db_url):
    async with running_host(extra={"leaky": Leaky()}) as host:
        outcome = await host.call_tool(
            "fetch",
            {
                "url": "https://admin:s3cr3t-pw@api.example/v1",
                "headers": [["Authorization", "Bearer abcdefgh12345"], ["Cookie", "sid-98765"]],
                "passphrase": "open sesame",
                "note": "pwd=hunter22, key sk-abcdefghijklmnop",
            },
        )
        assert not outcome.success
        await host.get_plugin("history").recorder.flush()
    [row] = await recorded(db_url, "tool_name = 'fetch'")
    stored = json.dumps(row["arguments"]) + " " + row["error_message"]
    assert not any(secret in stored for secret in SECRETS), stored
    assert "api.example/v1" in stored and "ValueError" in row["error_type"]
