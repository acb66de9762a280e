"""The HTTP API against a real `sleepd serve` (child process, random free port, real SQLite, tiny real model):
the official `openai` client for chat (streaming and not, both logged), 401/413/422, the sleepd routes."""

from __future__ import annotations

import dataclasses
import json
import os
import signal

import httpx
import openai
import pytest

from daemon.config import load_config, write_config
from daemon.cycle import cycle_result
from daemon.init import init_data_dir, open_data_dir
from daemon.locks import FileLock, cycle_lock_path
from daemon.paths import DataPaths
from daemon.process import ServerProcess
from memory import log as memlog
from memory.schema import Feedback

MAX_TOKENS = 12


def make_home(root, ckpt, *, scheduler=False, **server):
    home = root / "home"
    init_data_dir(home, model_path=ckpt)
    cfg = load_config(home / "config.toml")
    cfg = dataclasses.replace(
        cfg,
        server=dataclasses.replace(cfg.server, **server),
        scheduler=dataclasses.replace(cfg.scheduler, enabled=scheduler),
    )
    write_config(home / "config.toml", cfg, overwrite=True)
    return home


@pytest.fixture(scope="module")
def srv(tmp_path_factory, tiny_checkpoint):
    home = make_home(
        tmp_path_factory.mktemp("api"),
        tiny_checkpoint,
        max_tokens=MAX_TOKENS,
        max_body_bytes=64 * 1024,
    )
    with ServerProcess(home).start() as server:
        yield server
    assert server.proc.returncode == 0, server.log_text()[-2000:]


@pytest.fixture
def client(srv):
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=srv.token, max_retries=0)


def conversation(srv, cid):
    with open_data_dir(srv.paths.root) as dd, dd.db.read() as s:
        return [(m.role, m.content, m.message_id) for m in memlog.get_conversation(s, cid).messages]


def test_health_needs_no_token_and_names_the_served_generation(srv):
    r = httpx.get(srv.url + "/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "generation": 0}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/interactions"),
        ("POST", "/v1/feedback"),
        ("GET", "/v1/generations"),
        ("POST", "/v1/sleep"),
        ("GET", "/v1/sleep"),
        ("GET", "/openapi.json"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic abc", "bearer"])
def test_everything_but_health_needs_the_token(srv, method, path, auth):
    headers = {"Authorization": auth} if auth else {}
    r = httpx.request(method, srv.url + path, headers=headers, content=b'{"x": 1}')
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "token" in r.json()["error"]["message"]


def test_openai_client_without_a_valid_token_gets_401(srv):
    bad = openai.OpenAI(base_url=srv.url + "/v1", api_key="not-the-token", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="sleepd", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_models(client):
    models = client.models.list()
    assert [m.id for m in models.data] == ["sleepd"]
    assert client.models.retrieve("sleepd").id == "sleepd"


def test_non_streaming_chat_is_logged_before_the_reply(srv, client):
    resp = client.chat.completions.create(
        model="sleepd",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        temperature=0,
        max_tokens=8,
        extra_headers={"X-Sleepd-Conversation": "plain-1"},
    )
    assert resp.object == "chat.completion"
    assert resp.choices[0].finish_reason in ("stop", "length")
    assert resp.usage.completion_tokens <= 8 and resp.usage.prompt_tokens > 0
    reply = resp.choices[0].message.content
    # The response arrived, so the exchange is committed: the log has both turns and the reply, whose id is
    # the completion id.
    assert conversation(srv, "plain-1") == [
        ("system", "Be brief.", conversation(srv, "plain-1")[0][2]),
        ("user", "Hello there", conversation(srv, "plain-1")[1][2]),
        ("assistant", reply, resp.id),
    ]
    # Greedy decoding from the same state and prompt is deterministic.
    again = client.chat.completions.create(
        model="sleepd",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        temperature=0,
        max_tokens=8,
    )
    assert again.choices[0].message.content == reply


def test_streaming_chat_is_logged_and_matches_the_stored_reply(srv, client):
    stream = client.chat.completions.create(
        model="sleepd",
        messages=[{"role": "user", "content": "Tell me something"}],
        stream=True,
        stream_options={"include_usage": True},
        temperature=0.8,
        seed=7,
        user="stream-1",
    )
    parts, finish, ids, usage = [], None, set(), None
    for chunk in stream:
        ids.add(chunk.id)
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta.content:
                parts.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    assert finish in ("stop", "length")
    assert len(ids) == 1 and usage is not None and usage.completion_tokens <= MAX_TOKENS
    rows = conversation(srv, "stream-1")
    assert [r[:2] for r in rows] == [("user", "Tell me something"), ("assistant", "".join(parts))]
    assert rows[1][2] == ids.pop()


def test_same_seed_streams_the_same_text(client):
    def run():
        s = client.chat.completions.create(
            model="sleepd", messages=[{"role": "user", "content": "x"}], stream=True, seed=3, temperature=1.0
        )
        return "".join(c.choices[0].delta.content or "" for c in s if c.choices)

    assert run() == run()


def test_repeated_history_is_stored_once(srv, client):
    def say(history):
        r = client.chat.completions.create(
            model="sleepd",
            messages=history,
            temperature=0,
            max_tokens=4,
            extra_headers={"X-Sleepd-Conversation": "dedupe-1"},
        )
        return r.choices[0].message.content

    history = [{"role": "system", "content": "sys"}, {"role": "user", "content": "one"}]
    history.append({"role": "assistant", "content": say(history)})
    history.append({"role": "user", "content": "two"})
    history.append({"role": "assistant", "content": say(history)})
    # A sliding window that dropped old turns but kept the system prompt:
    window = [history[0], *history[3:], {"role": "user", "content": "three"}]
    history.append({"role": "user", "content": "three"})
    history.append({"role": "assistant", "content": say(window)})
    stored = [(role, content) for role, content, _ in conversation(srv, "dedupe-1")]
    assert stored == [(m["role"], m["content"]) for m in history]


def test_interactions_201_ids_kept_and_idempotent(srv):
    body = {
        "conversation_id": "elsewhere-1",
        "messages": [
            {"id": "m1", "role": "user", "content": "I moved to Lisbon."},
            {"role": "assistant", "content": "Noted."},
        ],
        "metadata": {"app": "test"},
    }
    r = httpx.post(srv.url + "/v1/interactions", json=body, headers=srv.headers)
    assert r.status_code == 201
    data = r.json()
    assert data["conversation_id"] == "elsewhere-1"
    assert data["message_ids"][0] == "m1" and data["message_ids"][1].startswith("msg_")
    # A retry of a message with an id adds nothing; different content under the same id is a conflict.
    retry = {"conversation_id": "elsewhere-1", "messages": [body["messages"][0]]}
    r2 = httpx.post(srv.url + "/v1/interactions", json=retry, headers=srv.headers)
    assert r2.status_code == 201 and r2.json()["message_ids"] == ["m1"]
    clash = {"conversation_id": "elsewhere-1", "messages": [{"id": "m1", "role": "user", "content": "other"}]}
    r3 = httpx.post(srv.url + "/v1/interactions", json=clash, headers=srv.headers)
    assert r3.status_code == 409 and "different content" in r3.json()["error"]["message"]
    assert [r[:2] for r in conversation(srv, "elsewhere-1")] == [
        ("user", "I moved to Lisbon."),
        ("assistant", "Noted."),
    ]


def test_feedback_on_a_chat_reply(srv, client):
    resp = client.chat.completions.create(
        model="sleepd", messages=[{"role": "user", "content": "rate me"}], max_tokens=2, user="fb-1"
    )
    r = httpx.post(
        srv.url + "/v1/feedback",
        json={"message_id": resp.id, "rating": 0.5, "note": "fine"},
        headers=srv.headers,
    )
    assert r.status_code == 201
    assert r.json()["conversation_id"] == "fb-1" and r.json()["rating"] == 0.5
    with open_data_dir(srv.paths.root) as dd, dd.db.read() as s:
        fb = s.get(Feedback, r.json()["id"])
        assert (fb.rating, fb.note) == (0.5, "fine")
    missing = httpx.post(
        srv.url + "/v1/feedback", json={"message_id": "nope", "rating": 1}, headers=srv.headers
    )
    assert missing.status_code == 404
    bad = httpx.post(srv.url + "/v1/feedback", json={"message_id": resp.id, "rating": 2}, headers=srv.headers)
    assert bad.status_code == 422 and bad.json()["error"]["message"].startswith("rating:")


def test_generations_route_is_the_gen_list_contract(srv):
    r = httpx.get(srv.url + "/v1/generations", headers=srv.headers)
    assert r.status_code == 200
    rows = r.json()
    assert [sorted(row) for row in rows] == [
        sorted(["id", "parent", "created_at", "status", "current", "pinned"])
    ]
    assert rows[0]["id"] == 0 and rows[0]["current"] is True


@pytest.mark.parametrize(
    ("path", "body", "expect"),
    [
        ("/v1/interactions", b"", "body: missing"),
        ("/v1/interactions", b"{not json", "body: invalid JSON"),
        ("/v1/interactions", b"\xff\xfe", "not valid UTF-8"),
        ("/v1/interactions", b'{"conversation_id": NaN}', "NaN is not valid JSON"),
        ("/v1/interactions", b"[" * 30_000, "nested too deeply"),
        ("/v1/interactions", b'{"conversation_id": "c", "messages": []}', "messages: must not be empty"),
        (
            "/v1/interactions",
            b'{"conversation_id": "c", "messages": [{"role": "bot", "content": "x"}]}',
            "role",
        ),
        ("/v1/interactions", b'{"conversation_id": "\\ud800", "messages": []}', "lone surrogate"),
        ("/v1/chat/completions", b'{"messages": []}', "messages:"),
        ("/v1/chat/completions", b'{"messages": [{"role": "tool", "content": "x"}]}', "messages[0].role"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user"}]}', "messages[0].content: missing"),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "n": 2}', "n:"),
        (
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "x"}], "temperature": 9}',
            "temper",
        ),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "user": ""}', "user:"),
        (
            "/v1/interactions",
            b'{"conversation_id": "c", "messages": [{"role": "user", "content": "x",'
            b' "created_at": "0286-03-30"}]}',
            "year must be 1000 or later",
        ),
        (
            "/v1/interactions",
            b'{"conversation_id": "c", "messages": [{"role": "user", "content": "x",'
            b' "created_at": "0001-01-01T00:00:00+05:00"}]}',
            "out of range",
        ),
        ("/v1/feedback", b'{"message_id": "x", "rating": 0, "extra": 1}', "extra: unknown field"),
        ("/v1/sleep", b'{"wait": "soon"}', "wait:"),
    ],
)
def test_malformed_bodies_get_a_readable_422(srv, path, body, expect):
    r = httpx.post(srv.url + path, content=body, headers={**srv.headers, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert expect in r.json()["error"]["message"]


def test_a_vanishing_temperature_is_greedy(client):
    # 5e-324 is a valid JSON number; logits divided by it overflow, so it must mean greedy decoding.
    tiny = client.chat.completions.create(
        model="sleepd", messages=[{"role": "user", "content": "t"}], temperature=5e-324, max_tokens=5
    )
    greedy = client.chat.completions.create(
        model="sleepd", messages=[{"role": "user", "content": "t"}], temperature=0, max_tokens=5
    )
    assert tiny.choices[0].message.content == greedy.choices[0].message.content


def test_body_over_the_limit_is_413(srv):
    big = json.dumps({"conversation_id": "big", "messages": [{"role": "user", "content": "x" * 70_000}]})
    r = httpx.post(srv.url + "/v1/interactions", content=big, headers=srv.headers)
    assert r.status_code == 413

    def chunks():  # no Content-Length: the limit applies while reading
        yield b'{"conversation_id": "big", "messages": [{"role": "user", "content": "'
        for _ in range(20):
            yield b"y" * 4096
        yield b'"}]}'

    r2 = httpx.post(srv.url + "/v1/interactions", content=chunks(), headers=srv.headers)
    assert r2.status_code == 413
    assert httpx.get(srv.url + "/health").status_code == 200


def test_sleep_starts_one_cycle_at_a_time(srv):
    paths = DataPaths(srv.paths.root)
    # Another process (here: this test) holds the cycle lock, as a running `sleepd sleep --now` would.
    lock = FileLock(cycle_lock_path(paths)).acquire({"child_pid": os.getpid()})
    try:
        r = httpx.post(srv.url + "/v1/sleep", headers=srv.headers)
        assert r.status_code == 409
        assert f"pid {os.getpid()}" in r.json()["error"]["message"]
    finally:
        lock.release()
    r = httpx.post(srv.url + "/v1/sleep", json={"wait": True}, headers=srv.headers, timeout=60)
    assert r.status_code == 200
    result = r.json()
    assert list(result) == [
        "cycle_id",
        "status",
        "generation_id",
        "parent_generation_id",
        "kept",
        "gates",
        "report",
    ]
    assert result["status"] == "skipped" and result["parent_generation_id"] == 0
    with open_data_dir(paths.root) as dd:
        assert cycle_result(dd, result["cycle_id"]) == result
    started = httpx.post(srv.url + "/v1/sleep", headers=srv.headers)
    assert started.status_code == 202 and started.json()["status"] == "started"
    status = httpx.get(srv.url + "/v1/sleep", headers=srv.headers).json()
    assert set(status) == {"running", "last_cycle", "next_run"}


def test_sigterm_stops_cleanly(tmp_path, tiny_checkpoint):
    home = make_home(tmp_path, tiny_checkpoint)
    with ServerProcess(home).start() as server:
        assert server.stop(signal.SIGTERM) == 0
    assert "stopped" in server.log_text()
