"""Bad input never causes a 5xx: schemathesis generates requests from our own OpenAPI schema, valid and
invalid (bounded number of examples, fixed seed), against a real `sleepd serve`."""

from __future__ import annotations

import dataclasses

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from daemon.config import load_config, write_config
from daemon.init import init_data_dir
from daemon.process import ServerProcess

EXAMPLES = 120
FEW = {"POST /v1/sleep": 6}  # each accepted cycle start spawns a child process


@pytest.fixture(scope="module")
def srv(tmp_path_factory, tiny_checkpoint):
    root = tmp_path_factory.mktemp("fuzz")
    ckpt = tiny_checkpoint
    home = root / "home"
    init_data_dir(home, model_path=ckpt)
    cfg = load_config(home / "config.toml")
    server = dataclasses.replace(cfg.server, max_tokens=4, max_prompt_tokens=4096, max_body_bytes=256 * 1024)
    scheduler = dataclasses.replace(cfg.scheduler, enabled=False)
    write_config(
        home / "config.toml", dataclasses.replace(cfg, server=server, scheduler=scheduler), overwrite=True
    )
    with ServerProcess(home).start() as s:
        yield s


def fuzz(srv, op, mode, name, seen, first):
    @settings(
        max_examples=FEW.get(name, EXAMPLES),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def check(case):
        response = case.call(base_url=srv.url, headers=srv.headers, timeout=60)
        if response.status_code not in seen.setdefault(name, set()):
            seen[name].add(response.status_code)
            first.setdefault(name, []).append(f"{response.status_code}: {response.text[:200]}")
        assert response.status_code < 500, (
            f"{name} -> {response.status_code}: {response.text[:300]}\n{case.as_curl_command()}\n"
            f"server log:\n{srv.log_text()[-3000:]}"
        )

    check()


def test_no_5xx_for_any_generated_request(srv):
    schema = schemathesis.openapi.from_url(srv.url + "/openapi.json", headers=srv.headers, timeout=30)
    operations = [result.ok() for result in schema.get_all_operations()]
    names = {f"{op.method.upper()} {op.path}" for op in operations}
    assert {
        "POST /v1/chat/completions",
        "POST /v1/interactions",
        "POST /v1/feedback",
        "POST /v1/sleep",
    } <= names
    seen: dict[str, set[int]] = {}
    first: dict[str, list[str]] = {}  # the first response of each status, for the failure message
    for op in operations:
        name = f"{op.method.upper()} {op.path}"
        has_input = bool(op.body) or any(True for _ in op.iter_parameters())
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if has_input else [GenerationMode.POSITIVE]
        for mode in modes:
            fuzz(srv, op, mode, name, seen, first)
    # The fuzzer reached the handlers, not just the validation: some requests were accepted.
    assert 200 in seen["POST /v1/chat/completions"], first["POST /v1/chat/completions"]
    assert 201 in seen["POST /v1/interactions"], first["POST /v1/interactions"]
    assert 422 in seen["POST /v1/interactions"]
