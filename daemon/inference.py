"""The served model: weights loaded once, the current generation's state, hot swap, one inference worker.

State and hot swap
    `ModelServer` holds the base model (loaded at start) and a `Served` snapshot: the generation id in
    use and its initial state. `reload()` loads the current generation through the GenerationStore,
    which verifies every sha256 and, when the current generation is corrupt, serves the newest valid
    ancestor (logged at ERROR and recorded as an event). The swap itself is one reference assignment
    under a lock. The model never modifies a state in place, so a generation already running keeps the
    state it started with and the next one uses the new state: nothing waits for a swap, nothing is torn.
    The daemon calls `reload()` from `memory.watcher.CurrentGenerationWatcher` (polling the DB
    pointer), which is how `sleepd gen promote|rollback` in another process or a cycle's promotion
    reaches the served state within about a second, without a restart. If the new generation cannot be
    loaded at all, the old state stays in service (loudly).

Inference serialisation
    One `InferenceWorker` thread runs every generation, one at a time, first come first served; up to
    `[server] max_queued_requests` wait behind it, more get 429. With two CPU cores, a second concurrent
    generation would only halve the speed of both and double the memory traffic; batching requests of
    different lengths through a recurrent model buys little at batch sizes this small. The worker uses
    `[server] inference_threads` torch threads (default: all cores but one), so the event loop and the
    SQLite writer keep a core: logging (`/v1/interactions`, `/v1/feedback`) never waits for a generation.
    A request whose client goes away is cancelled: it is dropped if still queued, or stopped after the
    next token if running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from daemon.config import ModelConfig
from daemon.model_path import load_base_model
from memory.errors import InputError, IntegrityFailure
from memory.generations import GenerationStore
from model.bundle import ModelBundle
from model.chat_format import STOP_STRINGS, format_messages, normalize_content
from model.generate import Generation, GenerationResult, SamplingConfig
from model.rwkv7 import RWKV7
from model.state import State
from tuner.lora import apply_adapter

log = logging.getLogger(__name__)

SERVED_MODEL_ID = "sleepd"  # the model name clients use; the base checkpoint is reported next to it
MIN_TEMPERATURE = 1e-4


@dataclass(frozen=True)
class Served:
    """What the daemon serves right now."""

    generation_id: int  # the generation whose state is in use
    current_id: int  # the DB pointer when it was loaded (differs from generation_id after a fallback)
    state: State = field(repr=False)
    model: RWKV7 = field(repr=False)  # the base model, or a copy with a LoRA generation's adapter merged
    loaded_at: float = 0.0
    fallback_from: tuple[tuple[int, str], ...] = ()

    @property
    def is_fallback(self) -> bool:
        return self.generation_id != self.current_id


class ModelServer:
    """The base model plus the current generation's state (see the module docstring)."""

    def __init__(self, bundle: ModelBundle, store: GenerationStore, *, actor: str = "daemon") -> None:
        self.bundle = bundle
        self.store = store
        self.actor = actor
        self._lock = threading.Lock()
        self._served: Served | None = None

    @classmethod
    def load(cls, model_cfg: ModelConfig, store: GenerationStore, *, actor: str = "daemon") -> ModelServer:
        server = cls(load_base_model(model_cfg), store, actor=actor)
        server.reload()
        return server

    @property
    def served(self) -> Served:
        served = self._served
        if served is None:
            raise RuntimeError("no generation loaded yet")
        return served

    @property
    def model_id(self) -> str:
        return self.bundle.info.model_id

    def reload(self) -> Served:
        """Load the current generation (or its newest valid ancestor) and swap it in.

        Raises (and keeps serving the old state) when nothing in the lineage can be served."""
        loaded = self.store.load_current_state(actor=self.actor)
        model = self.bundle.model
        if loaded.kind == "lora":
            # A private copy of the weights with the adapter merged in: no per-token LoRA cost, and the
            # base model (and any generation still mid-request) is untouched.
            try:
                model = apply_adapter(self.bundle.model, loaded.adapter_dir)
            except Exception as e:
                raise IntegrityFailure(
                    f"generation {loaded.generation_id}: cannot apply its adapter: {e}"
                ) from None
        state = loaded.state if loaded.state is not None else self.bundle.model.zero_state(1)
        state = state.to(dtype=self.bundle.model.dtype)
        try:
            state.check(self.bundle.config)
        except ValueError as e:
            raise IntegrityFailure(
                f"generation {loaded.generation_id}'s state does not fit model {self.model_id}: {e}"
            ) from None
        if state.batch_size != 1:
            raise IntegrityFailure(
                f"generation {loaded.generation_id}: state batch is {state.batch_size}, not 1"
            )
        served = Served(
            generation_id=loaded.generation_id,
            current_id=loaded.current_id,
            state=state,
            model=model,
            loaded_at=time.time(),
            fallback_from=tuple(loaded.fallback_from),
        )
        with self._lock:
            old = self._served
            self._served = served
        if old is None:
            log.info("serving generation %d", served.generation_id)
        elif old.generation_id != served.generation_id:
            log.info("switched from generation %d to %d", old.generation_id, served.generation_id)
        return served

    def on_pointer_change(self, old: int | None, new: int | None) -> None:
        """CurrentGenerationWatcher callback: reload, and keep the old state if that fails."""
        log.info("current generation changed %s -> %s; reloading", old, new)
        try:
            self.reload()
        except Exception as e:
            log.error(
                "COULD NOT LOAD GENERATION %s (%s); still serving generation %s",
                new,
                e,
                self._served.generation_id if self._served else None,
            )

    # ---- prompts and generation -----------------------------------------------------------------
    def prompt_ids(
        self, messages: Sequence[Mapping[str, Any]], *, max_tokens: int | None = None
    ) -> list[int]:
        """The chat transcript of `messages` (model.chat_format) ending in the generation prompt, as token
        ids. Raises InputError for text the tokenizer cannot encode or a prompt over `max_tokens`."""
        try:
            text = format_messages(messages, add_generation_prompt=True)
            ids = self.bundle.tokenizer.encode(text)
        except (ValueError, UnicodeEncodeError) as e:
            raise InputError(f"messages: {e}") from None
        if max_tokens is not None and len(ids) > max_tokens:
            raise InputError(f"messages: the prompt is {len(ids)} tokens, over the limit of {max_tokens}")
        return ids

    def generation(self, prompt_ids: Sequence[int], sampling: SamplingConfig, served: Served) -> Generation:
        return Generation(served.model, self.bundle.tokenizer, list(prompt_ids), served.state, sampling)


def sampling_config(
    *,
    max_tokens: int,
    temperature: float,
    top_p: float,
    stop: Sequence[str] = (),
    seed: int | None = None,
) -> SamplingConfig:
    """Chat sampling: the transcript's own stop strings plus the client's. A temperature so small that
    logits / temperature overflows (5e-324 is a valid JSON number) is greedy decoding, which is its limit."""
    stops = tuple(dict.fromkeys([*STOP_STRINGS, *(s for s in stop if s)]))
    if temperature < MIN_TEMPERATURE:
        temperature = 0.0
    return SamplingConfig(max_tokens=max_tokens, temperature=temperature, top_p=top_p, stop=stops, seed=seed)


# ---- streaming text that equals the stored reply ---------------------------------------------------


class ReplyStreamer:
    """Turns raw generated text into deltas whose concatenation is exactly the reply that gets logged,
    `normalize_content(raw)` (leading space after "Assistant:" dropped, blank lines collapsed, trailing
    whitespace removed).

    The normalization of a prefix that ends in a non-whitespace character is a prefix of the normalization
    of any longer text, so only text up to the last non-whitespace character is released; whitespace is
    held back until something follows it (or dropped at the end, as the stored reply drops it)."""

    def __init__(self) -> None:
        self.raw = ""
        self.sent = ""

    def feed(self, delta: str) -> str:
        self.raw += delta
        end = len(self.raw.rstrip())
        if end == 0:
            return ""
        stable = normalize_content(self.raw[:end])
        out = stable[len(self.sent) :]
        self.sent = stable
        return out

    def finish(self) -> str:
        final = normalize_content(self.raw)
        if not final.startswith(self.sent):  # cannot happen (see above); never stream a wrong reply silently
            log.error("streamed text diverged from the final reply; the log keeps the final reply")
            return ""
        out = final[len(self.sent) :]
        self.sent = final
        return out

    @property
    def reply(self) -> str:
        return normalize_content(self.raw)


# ---- the inference worker -----------------------------------------------------------------------


class QueueFull(Exception):
    """Too many chat requests are waiting for the inference worker (HTTP 429)."""


class WorkerClosed(Exception):
    """The daemon is shutting down."""


_DONE = "done"
_DELTA = "delta"
_ERROR = "error"


class InferenceRun:
    """One queued generation, consumed from the event loop: `async for delta in run.deltas()`, then
    `run.result` and `run.served` (the generation whose state it used)."""

    def __init__(self, prompt_ids: Sequence[int], sampling: SamplingConfig, loop: asyncio.AbstractEventLoop):
        self.prompt_ids = list(prompt_ids)
        self.sampling = sampling
        self.loop = loop
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.cancelled = threading.Event()
        self.result: GenerationResult | None = None
        self.served: Served | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None

    def cancel(self) -> None:
        self.cancelled.set()

    def _post(self, kind: str, value: Any = None) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, (kind, value))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()

    async def deltas(self) -> AsyncIterator[str]:
        while True:
            kind, value = await self.events.get()
            if kind == _DELTA:
                yield value
            elif kind == _DONE:
                return
            else:
                raise value

    async def wait(self) -> GenerationResult:
        async for _ in self.deltas():
            pass
        assert self.result is not None
        return self.result


class InferenceWorker:
    """The single thread that runs generations (see the module docstring)."""

    def __init__(self, server: ModelServer, *, max_queued: int = 32, threads: int = 0) -> None:
        self.server = server
        self.max_queued = max_queued
        self.threads = threads if threads > 0 else max(1, (os.cpu_count() or 2) - 1)
        self._queue: queue.Queue[InferenceRun | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()
        self.busy = False
        self.completed = 0

    def start(self) -> InferenceWorker:
        torch.set_num_threads(self.threads)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="sleepd-inference", daemon=True)
            self._thread.start()
        return self

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def submit(self, run: InferenceRun) -> InferenceRun:
        with self._lock:
            if self._closed:
                raise WorkerClosed("the server is shutting down")
            if self._queue.qsize() >= self.max_queued:
                raise QueueFull(f"{self._queue.qsize()} chat requests are already waiting; retry later")
            self._queue.put(run)
        return run

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop taking work, cancel what waits, let the running generation stop at its next token."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        while True:
            try:
                run = self._queue.get_nowait()
            except queue.Empty:
                break
            if run is not None:
                run.cancel()
                run._post(_ERROR, WorkerClosed("the server is shutting down"))
        self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            if run.cancelled.is_set():
                run._post(_ERROR, WorkerClosed("cancelled"))
                continue
            self.busy = True
            try:
                self._generate(run)
            except BaseException as e:  # reported to that request only; the worker lives on
                log.exception("generation failed")
                run._post(_ERROR, e)
            finally:
                self.busy = False
                self.completed += 1

    def _generate(self, run: InferenceRun) -> None:
        served = self.server.served  # one consistent snapshot for the whole generation
        run.served = served
        run.started_at = time.perf_counter()
        gen = self.server.generation(run.prompt_ids, run.sampling, served)
        it = iter(gen)
        for delta in it:
            if run.cancelled.is_set():
                it.close()
                run._post(_ERROR, WorkerClosed("cancelled"))
                return
            run._post(_DELTA, delta)
        run.result = gen.result
        run.finished_at = time.perf_counter()
        run._post(_DONE)
