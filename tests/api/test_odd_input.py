"""Input a hostile or careless client sends: a clear 400 in the API's own shape, never a 5xx."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from proxy_core.server import ProxyServer
from proxy_core.testing.upstream_simulator import UpstreamSimulator
from tests.api.test_errors import raw_request
from tests.conftest import ProxyFactory, cli_processes

ANTHROPIC = "/v1/messages"
CHAT = "/v1/chat/completions"
RESPONSES = "/v1/responses"


def anthropic_body(system: Any = None, content: Any = "hi") -> dict[str, Any]:
    body: dict[str, Any] = {"model": "sonnet", "max_tokens": 8, "messages": []}
    body["messages"] = [{"role": "user", "content": content}]
    if system is not None:
        body["system"] = system
    return body


def chat_body(system: Any = None, content: Any = "hi") -> dict[str, Any]:
    messages = [{"role": "developer", "content": system}] if system is not None else []
    return {"model": "gpt-4o", "messages": [*messages, {"role": "user", "content": content}]}


def responses_body(system: Any = None, content: Any = "hi") -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gpt-4o", "input": [{"role": "user", "content": content}]}
    if system is not None:
        body["instructions"] = system
    return body


BODIES = {ANTHROPIC: anthropic_body, CHAT: chat_body, RESPONSES: responses_body}


def post(proxy: ProxyServer, path: str, body: bytes) -> tuple[int, Any]:
    status, _, answer = raw_request(proxy.base_url, "POST", path, body)
    return status, answer


def is_shape_of(path: str, answer: Any) -> bool:
    if path == ANTHROPIC:
        return answer.get("type") == "error" and set(answer["error"]) == {"type", "message"}
    return set(answer) == {"error"} and {"message", "type", "param", "code"} <= set(answer["error"])


@pytest.mark.parametrize("path", list(BODIES))
def test_json_nested_deeper_than_anything_walks_is_a_400(proxy: ProxyServer, path: str) -> None:
    deep = b'{"metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    status, answer = post(proxy, path, deep)
    assert status == 400 and is_shape_of(path, answer), answer


@pytest.mark.parametrize("path", list(BODIES))
@pytest.mark.parametrize("system", ["be \u0000 nice", "be \udfff nice"])
def test_text_the_cli_cannot_carry_in_the_system_prompt_is_a_400(
    proxy: ProxyServer, sim: UpstreamSimulator, path: str, system: str
) -> None:
    body = json.dumps(BODIES[path](system=system)).encode()  # \\u escapes, as clients send
    status, answer = post(proxy, path, body)
    assert status == 400 and is_shape_of(path, answer), answer
    assert "system" in json.dumps(answer)
    assert sim.message_calls() == []


@pytest.mark.parametrize("path", list(BODIES))
@pytest.mark.parametrize("text", [" ", "\n", "\u00a0"])
@pytest.mark.parametrize("as_block", [False, True])
def test_a_last_message_of_whitespace_is_a_400_in_every_form(
    proxy: ProxyServer, sim: UpstreamSimulator, path: str, text: str, as_block: bool
) -> None:
    part = {ANTHROPIC: "text", CHAT: "text", RESPONSES: "input_text"}[path]
    content: Any = [{"type": part, "text": text}] if as_block else text
    status, answer = post(proxy, path, json.dumps(BODIES[path](content=content)).encode())
    assert status == 400 and is_shape_of(path, answer), answer
    assert sim.message_calls() == []


def test_text_the_cli_cannot_carry_inside_a_message_still_works(
    proxy: ProxyServer, sim: UpstreamSimulator
) -> None:
    body = json.dumps(anthropic_body(content="odd \u0000 and \udfff text")).encode()
    status, answer = post(proxy, ANTHROPIC, body)
    assert status == 200, answer


def test_no_proxy_setting_reaches_a_clis_environment(
    make_proxy: ProxyFactory, sim: UpstreamSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-proxy-secret-never-in-a-child"
    monkeypatch.setenv("CLAUDE_PROXY_API_KEY", secret)
    monkeypatch.setenv("CLAUDE_PROXY_MAX_CONCURRENT", "5")
    proxy = make_proxy(api_key=secret)
    body = json.dumps(anthropic_body()).encode()
    headers = {"x-api-key": secret}
    status, _, _ = raw_request(proxy.base_url, "POST", ANTHROPIC, body, headers=headers)
    assert status == 200
    (cli,) = cli_processes()  # the conversation's CLI, kept for its next turn
    environ = Path(f"/proc/{cli.pid}/environ").read_bytes().split(b"\0")
    leaked = [entry for entry in environ if entry.startswith(b"CLAUDE_PROXY_") and b"=" in entry]
    assert all(entry.split(b"=", 1)[1] == b"" for entry in leaked), leaked
    assert not any(secret.encode() in entry for entry in environ)


def raw_http(proxy: ProxyServer, head: bytes) -> bytes:
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(proxy.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + head + b"\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize(
    "head",
    [
        b"x-api-key: sk-secret-in-a-header\x00\r\n",
        b"x-api-key: sk-secret-in-a-header" + b"a" * 70_000 + b"\r\n",
        b"x-api-key: sk-secret-in-a-header\rx\r\n",
        b"".join(b"x-h%d: sk-secret-in-a-header\r\n" % n for n in range(500)),
    ],
    ids=["nul", "64 KB", "bare CR", "500 headers"],
)
def test_headers_the_http_parser_refuses_are_400s_that_log_no_header_text(
    proxy: ProxyServer, head: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = raw_http(proxy, head)
    assert answer.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400")), answer[:100]
    assert "sk-secret-in-a-header" not in caplog.text
    assert any("Refused a malformed HTTP request" in r.getMessage() for r in caplog.records)


def test_a_system_prompt_too_long_for_a_command_line_reaches_the_model_whole(
    proxy: ProxyServer, sim: UpstreamSimulator
) -> None:
    system = "Rule: be exact. " * 12_000  # 192 KB: over Linux's 128 KiB per argument
    status, answer = post(proxy, ANTHROPIC, json.dumps(anthropic_body(system=system)).encode())
    assert status == 200, answer
    sent = " ".join(block["text"] for block in sim.message_calls()[0].body["system"])
    assert system.strip() in sent


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        (b"Transfer-Encoding: chunked\r\n", b'5\r\n{"a":\r\nzz-not-a-size\r\n\r\n'),
        (b"Content-Encoding: gzip\r\nContent-Length: 12\r\n", b"not gzip at!"),
    ],
    ids=["broken chunks", "broken gzip"],
)
def test_a_body_that_cannot_be_read_is_a_400(
    proxy: ProxyServer, headers: bytes, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    import socket
    from urllib.parse import urlsplit

    caplog.set_level(logging.DEBUG)
    address = urlsplit(proxy.base_url)
    head = b"POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(head + headers + b"Connection: close\r\n\r\n" + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"400", answer[:300]
    assert "Traceback" not in caplog.text and "zz-not-a-size" not in caplog.text
