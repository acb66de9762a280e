"""Model speed at the RWKV-7 0.1B shape (L12, C768, vocab 65536, random weights, fp32) against the
reference `rwkv` pip package (RWKV_V7_ON=1, cpu fp32), measured in the same run.

    python bench/model.py --json [--prefill-tokens 512] [--decode-tokens 32] [--tune-tokens 512]

Prints {"prefill_tokens_per_s", "rwkv_pip_prefill_tokens_per_s", "prefill_ratio", "decode_tokens_per_s",
"rwkv_pip_decode_tokens_per_s", "decode_ratio", "state_tune_tokens_per_s", "flop_limit_tokens_per_s",
"state_tune_fraction_of_limit", ...}. State tuning = forward + backward to the initial WKV state only,
weights frozen; its limit = measured fp32 matmul FLOP/s / (4 x non-embedding parameters, head included).
Prefill and decode use the C WKV kernel when it builds here (kernels.native); the prefill is also timed
with it turned off ("prefill_torch_kernels_tokens_per_s"), the speed of a machine without a compiler.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

# Run as a script, bench/ would come first on sys.path and bench/model.py would shadow the `model`
# package: put the repository root first instead.
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH]

import torch

from bench.common import emit, machine, matmul_flops, set_threads, timeit
from kernels import native
from model.checkpoint import model_from_state_dict, save_pth
from model.config import RWKV7Config
from model.random_init import random_state_dict
from model.state import State

SHAPE_0_1B = RWKV7Config(vocab_size=65536, n_embd=768, n_layer=12, d_decay=64, d_aaa=64, d_mv=32, d_gate=128)


def state_tune_step(model, tokens: torch.Tensor, init_wkv: torch.nn.Parameter) -> None:
    """One training step's compute: loss over all positions, gradient to the initial WKV state only."""
    cfg = model.config
    B = tokens.shape[0]
    zeros = torch.zeros(cfg.n_layer, B, cfg.n_embd)
    state = State(zeros, init_wkv.expand(-1, B, -1, -1, -1), zeros)
    logits, _ = model(tokens[:, :-1], state)
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), tokens[:, 1:].reshape(-1))
    init_wkv.grad = None
    loss.backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--prefill-tokens", type=int, default=512)
    ap.add_argument("--decode-tokens", type=int, default=32)
    ap.add_argument("--tune-tokens", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    set_threads(args.threads)
    torch.manual_seed(0)
    cfg = SHAPE_0_1B

    sd = random_state_dict(cfg, seed=0)
    ours = model_from_state_dict(sd, source="random 0.1B")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rwkv7-0.1b-random.pth"
        save_pth(sd, path)
        del sd
        os.environ["RWKV_V7_ON"] = "1"
        os.environ["RWKV_CUDA_ON"] = "0"
        # The rwkv package prints a banner and loading lines on stdout; a benchmark's stdout is JSON only.
        with contextlib.redirect_stdout(sys.stderr):
            from rwkv.model import RWKV  # reads the env vars at import

            ref = RWKV(model=str(path.with_suffix("")), strategy="cpu fp32")

    g = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, cfg.vocab_size, (args.prefill_tokens,), generator=g)

    with torch.no_grad():
        t_ours = timeit(lambda: ours(prompt.view(1, -1), last_only=True), repeats=args.repeats)
        t_ref = timeit(lambda: ref.forward(prompt.tolist(), None), repeats=args.repeats)
        with native.disabled():
            t_torch = timeit(lambda: ours(prompt.view(1, -1), last_only=True), repeats=args.repeats)

        _, s0 = ours(prompt[:16].view(1, -1), last_only=True)
        _, rs0 = ref.forward(prompt[:16].tolist(), None)
        dec = prompt[16 : 16 + args.decode_tokens].tolist()

        def decode_ours():
            s = s0
            for tok in dec:
                _, s = ours.step(torch.tensor([tok]), s)

        def decode_ref():
            s = [x.clone() for x in rs0]
            for tok in dec:
                _, s = ref.forward([tok], s)

        t_dec = timeit(decode_ours, repeats=args.repeats)
        t_dec_ref = timeit(decode_ref, repeats=args.repeats)

    tune_tokens = torch.randint(0, cfg.vocab_size, (1, args.tune_tokens + 1), generator=g)
    init_wkv = torch.nn.Parameter(torch.zeros(cfg.n_layer, 1, cfg.n_head, cfg.head_size, cfg.head_size))
    t_tune = timeit(lambda: state_tune_step(ours, tune_tokens, init_wkv), repeats=args.repeats)

    flops = matmul_flops()
    non_emb = cfg.n_params(include_embedding=False)
    limit = flops / (4 * non_emb)
    tune_tps = args.tune_tokens / t_tune
    result = {
        "shape": "L12-C768-V65536 (0.1B), random weights, fp32",
        "prefill_tokens": args.prefill_tokens,
        "prefill_tokens_per_s": round(args.prefill_tokens / t_ours, 1),
        "rwkv_pip_prefill_tokens_per_s": round(args.prefill_tokens / t_ref, 1),
        "prefill_ratio": round(t_ref / t_ours, 3),
        "native_wkv_kernel": native.available(),
        "prefill_torch_kernels_tokens_per_s": round(args.prefill_tokens / t_torch, 1),
        "decode_tokens_per_s": round(len(dec) / t_dec, 2),
        "rwkv_pip_decode_tokens_per_s": round(len(dec) / t_dec_ref, 2),
        "decode_ratio": round(t_dec_ref / t_dec, 3),
        "state_tune_tokens": args.tune_tokens,
        "state_tune_tokens_per_s": round(tune_tps, 1),
        "matmul_gflop_per_s": round(flops / 1e9, 1),
        "non_embedding_params": non_emb,
        "flop_limit_tokens_per_s": round(limit, 1),
        "state_tune_fraction_of_limit": round(tune_tps / limit, 3),
        "machine": machine(),
    }
    emit(result, args.json)


if __name__ == "__main__":
    main()
