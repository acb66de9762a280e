"""Live switch: with a real `sleepd serve` running, `sleepd gen rollback` / `promote` (another process)
changes the state /v1/chat/completions uses within seconds, without a restart, and /health reports the new
id. A corrupt current generation is served from its newest valid ancestor after a restart, loudly.

The check needs no logprobs: greedy replies computed here from each generation's state must differ from
each other, and the server must reproduce exactly the one of the generation it claims to serve. A freshly
initialised random RWKV-7 barely lets its initial state reach the output (fast in-context erasure, a small
gate and output projection), so every greedy reply would be the same. The test model is therefore a random
RWKV-7 whose weights let the state persist and matter: no decay, no in-context removal, larger gate and
output projection. It is still a real checkpoint, served by the real code."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import httpx
import torch

from daemon.config import load_config, write_config
from daemon.inference import sampling_config
from daemon.init import init_data_dir, open_data_dir
from daemon.process import ServerProcess
from memory.events import list_events
from model.bundle import BYTE_TOKENS, TINY_CONFIG, load_bundle
from model.chat_format import format_messages, normalize_content
from model.checkpoint import model_from_state_dict, save_safetensors
from model.generate import generate
from model.random_init import random_state_dict
from model.state import State
from model.tokenizer import write_vocab_file

MESSAGES = [{"role": "user", "content": "What do you remember?"}]
MAX_TOKENS = 10


def memory_sensitive_checkpoint(directory):
    sd = random_state_dict(TINY_CONFIG, seed=0)
    for key in sd:
        if key.endswith(("att.w0", "att.a0")):
            sd[key] = torch.full_like(sd[key], -20.0)  # decay w ~ 1 and in-context learning rate ~ 0
        elif key.endswith("att.output.weight"):
            sd[key] = sd[key] * 10
        elif key.endswith("att.g2"):
            sd[key] = sd[key] * 30
    path = directory / "tiny-memory.safetensors"
    directory.mkdir(parents=True, exist_ok=True)
    save_safetensors(model_from_state_dict(sd), path, {"model_id": "tiny-memory"})
    write_vocab_file(BYTE_TOKENS[: TINY_CONFIG.vocab_size - 1], path.with_name(path.stem + ".vocab.txt"))
    return path


def greedy(bundle, state):
    prompt = format_messages(MESSAGES, add_generation_prompt=True)
    cfg = sampling_config(max_tokens=MAX_TOKENS, temperature=0.0, top_p=1.0)
    return normalize_content(generate(bundle.model, bundle.tokenizer, prompt, state, cfg).text)


def memory_state(config, seed):
    g = torch.Generator().manual_seed(seed)
    s = State.zeros(config)
    s.wkv.copy_(torch.randn(s.wkv.shape, generator=g))
    return s


def sleepd(*args):
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def ask(srv):
    r = httpx.post(
        srv.url + "/v1/chat/completions",
        json={"messages": MESSAGES, "temperature": 0, "max_tokens": MAX_TOKENS},
        headers=srv.headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    return body["choices"][0]["message"]["content"], body["sleepd"]["generation"]


def wait_for_generation(srv, gen_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        got = httpx.get(srv.url + "/health").json()["generation"]
        if got == gen_id:
            return time.monotonic() - (deadline - timeout)
        assert time.monotonic() < deadline, f"/health still reports {got}, not {gen_id}"
        time.sleep(0.05)


def test_rollback_and_promote_switch_the_served_state_without_restart(tmp_path):
    ckpt = memory_sensitive_checkpoint(tmp_path / "model")
    home = tmp_path / "home"
    init_data_dir(home, model_path=ckpt)
    cfg = load_config(home / "config.toml")
    server_cfg = dataclasses.replace(cfg.server, switch_poll_seconds=0.2, max_tokens=MAX_TOKENS)
    write_config(
        home / "config.toml",
        dataclasses.replace(
            cfg, server=server_cfg, scheduler=dataclasses.replace(cfg.scheduler, enabled=False)
        ),
        overwrite=True,
    )
    bundle = load_bundle(ckpt)
    with open_data_dir(home) as dd:
        base = dd.generations.read_manifest(0)["base_model"]
        dd.generations.create_generation(
            state=memory_state(bundle.config, 1),
            parent_id=0,
            base_model_id=base["id"],
            base_model_sha256=base["sha256"],
        )
        dd.generations.promote(1, reason="test setup")
    expect = {
        0: greedy(bundle, State.zeros(bundle.config)),
        1: greedy(bundle, memory_state(bundle.config, 1)),
    }
    assert expect[0] != expect[1], "the two states must lead to different greedy replies"

    with ServerProcess(home).start() as srv:
        pid = srv.pid
        assert httpx.get(srv.url + "/health").json() == {"status": "ok", "generation": 1}
        assert ask(srv) == (expect[1], 1)

        res = sleepd("--data-dir", str(home), "gen", "rollback", "--reason", "live switch test")
        assert res.returncode == 0, res.stderr
        assert wait_for_generation(srv, 0) < 8.0  # within seconds (0.2 s polling; the machine is shared)
        assert ask(srv) == (expect[0], 0)

        res = sleepd("--data-dir", str(home), "gen", "promote", "1")
        assert res.returncode == 0, res.stderr
        wait_for_generation(srv, 1)
        assert ask(srv) == (expect[1], 1)
        assert srv.pid == pid and srv.proc.poll() is None  # never restarted
        assert "switched from generation 1 to 0" in srv.log_text()

    # Corrupt the current generation's state: a restarted daemon serves its parent, and says so.
    state_file = home / "generations" / "1" / "state.safetensors"
    data = bytearray(state_file.read_bytes())
    data[-5] ^= 0xFF
    state_file.write_bytes(bytes(data))
    with ServerProcess(home).start() as srv:
        assert httpx.get(srv.url + "/health").json()["generation"] == 0
        assert ask(srv) == (expect[0], 0)
        assert "CURRENT GENERATION 1 IS NOT USABLE" in srv.log_text()
    with open_data_dir(home) as dd, dd.db.read() as s:
        events = list_events(s, action="generation.load_fallback")
        assert events and events[0].details["current"] == 1 and events[0].details["served"] == 0
