"""Raw bytes on a real `plugyard serve` (stdio): every line the JSON-RPC parser refuses is answered with a
JSON-RPC error, with the request's id when it can be found (the SDK alone drops such lines, and a client
that sent a request waits for its timeout). Nothing but JSON-RPC reaches stdout, and the server goes on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugyard.mcp_server.wire_errors import answers_for, top_level_id
from tests.conftest import rows, subprocess_env, write_config
from tests.reliability.rawstdio import serving

pytestmark = [pytest.mark.e2e]

DEEP = 5_000


def _call(rid: object, arguments: str) -> bytes:
    head = '{"jsonrpc":"2.0","id":' + json.dumps(rid) + ',"method":"tools/call","params":{"name":"add","arguments":'
    return (head + arguments + "}}").encode()


# (line, the id the answer carries, its code)
WITH_ID = [
    (_call("deep", '{"a":' + "[" * DEEP + "]" * DEEP + "}"), "deep", -32700),
    (
        b'{"jsonrpc":"2.0","id":"deep-params","method":"ping","params":' + b"[" * DEEP + b"]" * DEEP + b"}",
        "deep-params",
        -32700,
    ),
    (
        b'{"jsonrpc":"2.0","id":"sur","method":"tools/call","params":{"name":"add","arguments":{"a":"\\ud800"}}}',
        "sur",
        -32602,
    ),
    (_call("big", '{"a":' + "7" * DEEP + "}"), "big", None),  # an answer, whichever
    (b'{"jsonrpc":"1.0","id":"v1","method":"ping"}', "v1", -32600),
    (b'{"jsonrpc":"3.0","id":"v3","method":"ping"}', "v3", -32600),
    (b'{"id":"nov","method":"ping"}', "nov", -32600),
    (b'{"jsonrpc":"2.0","id":"m42","method":42}', "m42", -32600),
    (b'{"jsonrpc":"2.0","id":"px","method":"ping","params":"x"}', "px", -32602),
    (b'{"jsonrpc":"2.0","id":"p1","method":"tools/call","params":1}', "p1", -32602),
    (b'\xff\xfe{"jsonrpc":"2.0","id":"utf","method":"ping"}', "utf", -32700),
    (b'{"jsonrpc":"2.0","id":"torn","method":"pi', "torn", -32700),
    (b'[{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","id":"b2","method":"ping"}]', "b1", -32600),
    (b'{"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":"\\udfff"}}', 7, -32602),
]
# Lines with no usable id: one error with a null id each.
WITHOUT_ID = [
    b"{not json",
    b"\xc3\x28",
    b"\x00\x00",
    b"null",
    b"42",
    b'"text"',
    b"[]",
    b"[1, 2]",
    b"[" * 100_000,
    b"1e99999x",
    b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":[1],"method":"ping"}',
    b'{"jsonrpc":"2.0","id":true,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
    b"\xed\xa0\x80",
    b"}{",
]


def test_every_refused_request_is_answered_with_its_id_and_the_server_goes_on(tmp_path: Path, db_path: Path):
    config = write_config(tmp_path / "plugins.toml", db_path)
    with serving(config, tmp_path, subprocess_env(tmp_path)) as server:
        server.initialize()
        for line, rid, code in WITH_ID:
            server.send(line)
            answer = server.answer_to(rid, within=10)
            if code is not None:
                assert answer["error"]["code"] == code, (line[:80], answer)
                assert answer["error"]["message"], answer
            if line.startswith(b"["):
                assert server.answer_to("b2", within=10)["error"]["code"] == -32600
            assert server.request("ping")["result"] == {}, line[:80]
        for line in WITHOUT_ID:
            server.send(line)
            answer = server.next_message(within=10)
            assert answer["id"] is None and answer["error"]["code"] in (-32700, -32600), (line[:80], answer)
            assert server.request("ping")["result"] == {}, line[:80]
        # A notification that is wrong is not answered (JSON-RPC never answers one): the next answer is the ping's.
        server.send(b'{"jsonrpc":"1.0","method":"notifications/initialized"}')
        assert server.request("ping")["result"] == {}
        assert server.call("add", {"a": 20, "b": 22})["structuredContent"] == {"result": 42}
        assert server.stop() == 0
    assert rows(db_path)[-1]["tool_name"] == "add"


def test_the_id_is_found_in_a_line_no_parser_can_read():
    line = (
        b'{"jsonrpc":"2.0","params":{"id":"inner","x":' + b"[" * DEEP + b'"a\\"]}"' + b"]" * DEEP + b'},"id":"outer"}'
    )
    assert top_level_id(line) == "outer"
    assert top_level_id(b'{"method":"id","id":12}') == 12
    [answer] = answers_for(line, ValueError("refused"))
    assert answer == {"jsonrpc": "2.0", "id": "outer", "error": answer["error"]} and answer["error"]["code"] == -32700
    assert answers_for(b"   \n", ValueError("blank")) == []
