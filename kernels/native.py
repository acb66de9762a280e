"""Fused WKV-7 forward for the CPU, in C: the recurrence of kernels.reference in one pass per token.

Inference (prefill and decode) needs no gradient, and then the sequential recurrence is the cheapest form
there is: per token and head one pass over the [N, N] state (16 KB at N = 64, resident in L1), about
5 N² flops, where the chunked algorithm needs about 25 batched torch operations per layer. Written in
plain C (no torch headers), compiled once per machine with the system C compiler into the user cache
directory (platformdirs) and called through ctypes (which releases the GIL), with OpenMP over batch x
heads. The build takes a fraction of a second and happens at most once per machine and source version.

`available()` is False when no compiler is found, the build fails, or SLEEPD_NATIVE_KERNEL=0 is set; the
dispatch then uses the chunked torch kernel. The tests compare this kernel with the sequential reference.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import platformdirs
import torch

log = logging.getLogger(__name__)

_SOURCE = r"""
#include <string.h>

/* Inputs r, w (the decay, exp(logw)), k, v, a, b: [B, T, H, N] contiguous; state_in, state_out:
   [B, H, N, N] (value i, key j). Per token: sa = S a;  S = S diag(w) + v k^T + sa b^T;  y = S r
   (kernels/reference.py). The working copy St is the transpose (key j, value i): every product is then a
   sum of rows scaled by one key component, vectorised over i with no horizontal reductions. Head size 64
   (every RWKV-7 release) keeps sa, y and v in registers; other sizes take the generic loop. */

typedef float v16 __attribute__((vector_size(64)));

static inline v16 ld(const float *p) { v16 x; memcpy(&x, p, sizeof x); return x; }
static inline void st(float *p, v16 x) { memcpy(p, &x, sizeof x); }

static void head64(float *St, const float *r, const float *w, const float *k, const float *v,
                   const float *a, const float *b, float *y, long T, long stride) {
    for (long t = 0; t < T; t++, r += stride, w += stride, k += stride, v += stride, a += stride,
                                 b += stride, y += stride) {
        v16 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};  /* sa = S a (old state) */
        for (long j = 0; j < 64; j++) {
            const float *row = St + j * 64;
            const float aj = a[j];
            s0 += ld(row) * aj; s1 += ld(row + 16) * aj; s2 += ld(row + 32) * aj; s3 += ld(row + 48) * aj;
        }
        const v16 v0 = ld(v), v1 = ld(v + 16), v2 = ld(v + 32), v3 = ld(v + 48);
        v16 y0 = {0}, y1 = {0}, y2 = {0}, y3 = {0};
        for (long j = 0; j < 64; j++) {
            float *row = St + j * 64;
            const float wj = w[j], kj = k[j], bj = b[j], rj = r[j];
            const v16 n0 = ld(row) * wj + v0 * kj + s0 * bj;
            const v16 n1 = ld(row + 16) * wj + v1 * kj + s1 * bj;
            const v16 n2 = ld(row + 32) * wj + v2 * kj + s2 * bj;
            const v16 n3 = ld(row + 48) * wj + v3 * kj + s3 * bj;
            st(row, n0); st(row + 16, n1); st(row + 32, n2); st(row + 48, n3);
            y0 += n0 * rj; y1 += n1 * rj; y2 += n2 * rj; y3 += n3 * rj;
        }
        st(y, y0); st(y + 16, y1); st(y + 32, y2); st(y + 48, y3);
    }
}

static void head_any(float *St, const float *r, const float *w, const float *k, const float *v,
                     const float *a, const float *b, float *y, long T, long stride, long N) {
    float sa[N], yt[N];
    for (long t = 0; t < T; t++, r += stride, w += stride, k += stride, v += stride, a += stride,
                                 b += stride, y += stride) {
        for (long i = 0; i < N; i++) { sa[i] = 0.0f; yt[i] = 0.0f; }
        for (long j = 0; j < N; j++)
            for (long i = 0; i < N; i++) sa[i] += St[j * N + i] * a[j];
        for (long j = 0; j < N; j++) {
            float *row = St + j * N;
            for (long i = 0; i < N; i++) {
                const float s = row[i] * w[j] + v[i] * k[j] + sa[i] * b[j];
                row[i] = s;
                yt[i] += s * r[j];
            }
        }
        for (long i = 0; i < N; i++) y[i] = yt[i];
    }
}

void wkv7_forward(const float *r, const float *w, const float *k, const float *v, const float *a,
                  const float *b, const float *state_in, float *y, float *state_out,
                  long B, long T, long H, long N, int threads) {
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long bh = 0; bh < B * H; bh++) {
        const long off = (bh / H) * T * H * N + (bh % H) * N;  /* token 0 of this batch row and head */
        const float *S0 = state_in + bh * N * N;
        float *S1 = state_out + bh * N * N;
        float St[N * N];  /* 16 KB at N = 64: stays in L1 */
        for (long i = 0; i < N; i++)
            for (long j = 0; j < N; j++) St[j * N + i] = S0[i * N + j];
        if (N == 64)
            head64(St, r + off, w + off, k + off, v + off, a + off, b + off, y + off, T, H * N);
        else
            head_any(St, r + off, w + off, k + off, v + off, a + off, b + off, y + off, T, H * N, N);
        for (long i = 0; i < N; i++)
            for (long j = 0; j < N; j++) S1[i * N + j] = St[j * N + i];
    }
}
"""
_FLAGS = ["-O3", "-march=native", "-fopenmp", "-shared", "-fPIC", "-std=gnu99"]
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_failed = False
_disabled = 0  # nesting depth of `disabled()`


def _cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("sleepd")) / "kernels"


def _cpu_signature() -> str:
    """-march=native builds for this CPU: the cache key names it, so a shared home never mixes builds."""
    try:
        text = Path("/proc/cpuinfo").read_text()
        model = next((ln for ln in text.splitlines() if ln.startswith("model name")), "")
        flags = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
        return model + flags
    except OSError:
        return platform.processor()


def _build() -> ctypes.CDLL:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler found (set CC)")
    key = hashlib.sha256("\0".join([_SOURCE, *_FLAGS, cc, platform.machine(), _cpu_signature()]).encode())
    path = _cache_dir() / f"wkv7_{key.hexdigest()[:16]}.so"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
            src = Path(tmp) / "wkv7.c"
            src.write_text(_SOURCE)
            out = Path(tmp) / "wkv7.so"
            proc = subprocess.run([cc, *_FLAGS, str(src), "-o", str(out)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"{cc} failed: {proc.stderr.strip()[:500]}")
            os.replace(out, path)  # atomic: a concurrent build of the same source writes the same bytes
    lib = ctypes.CDLL(str(path))
    f = lib.wkv7_forward
    f.restype = None
    f.argtypes = [ctypes.c_void_p] * 9 + [ctypes.c_long] * 4 + [ctypes.c_int]
    return lib


@contextlib.contextmanager
def disabled():
    """Within this block `available()` is False, so the dispatch uses the torch kernels (benchmarks and
    tests compare the two)."""
    global _disabled
    _disabled += 1
    try:
        yield
    finally:
        _disabled -= 1


def available() -> bool:
    """Builds (once per process; the shared library is cached per machine) and reports whether it works."""
    global _lib, _failed
    if _disabled or os.environ.get("SLEEPD_NATIVE_KERNEL", "1") == "0":
        return False
    if _lib is not None:
        return True
    if _failed:
        return False
    with _lock:
        if _lib is None and not _failed:
            try:
                _lib = _build()
            except Exception as e:  # no compiler, a failed build, an unloadable library: use torch instead
                _failed = True
                log.info("native WKV kernel unavailable (%s); using the chunked torch kernel", e)
    return _lib is not None


def supports(*tensors: torch.Tensor) -> bool:
    t = tensors[0]
    return t.device.type == "cpu" and all(x.dtype == torch.float32 for x in tensors)


def wkv7_native(
    r: torch.Tensor,  # [B, T, H, N]
    logw: torch.Tensor,  # [B, T, H, N]
    k: torch.Tensor,  # [B, T, H, N]
    v: torch.Tensor,  # [B, T, H, N]
    a: torch.Tensor,  # [B, T, H, N]
    b: torch.Tensor,  # [B, T, H, N]
    state: torch.Tensor,  # [B, H, N, N] (value, key)
    *,
    out_state: torch.Tensor | None = None,  # [B, H, N, N] contiguous, receives the final state
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward only, fp32 CPU tensors: y [B, T, H, N] and the final state [B, H, N, N] (`out_state` if
    given, else a new tensor; the input state is never modified)."""
    if not available():
        raise RuntimeError("the native WKV kernel is not available")
    B, T, H, N = r.shape
    w = torch.exp(logw.detach())  # one vectorised pass here; scalar expf in the loop would dominate it
    ins = [x.detach().contiguous() for x in (r, w, k, v, a, b)]
    s_in = state.detach().contiguous()
    y = torch.empty(B, T, H, N, dtype=torch.float32)
    s_out = torch.empty(B, H, N, N, dtype=torch.float32) if out_state is None else out_state
    if not (s_out.is_contiguous() and s_out.shape == (B, H, N, N) and s_out.dtype == torch.float32):
        raise ValueError("out_state must be a contiguous fp32 [B, H, N, N] tensor")
    assert _lib is not None
    _lib.wkv7_forward(
        *(x.data_ptr() for x in ins),
        s_in.data_ptr(),
        y.data_ptr(),
        s_out.data_ptr(),
        B,
        T,
        H,
        N,
        max(1, torch.get_num_threads()),
    )
    return y, s_out
