"""Text generation from any State: greedy or temperature/top-k/top-p sampling, stop strings, a token
budget, and a streaming iterator.

The prompt is prefilled with the parallel form (one forward over all prompt tokens), then tokens are
decoded one at a time with the recurrent form. Streaming yields text as soon as it is certain: complete
UTF-8 characters only, and never the beginning of what may still become a stop string.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch

from model.chat_format import find_stop, stop_holdback
from model.rwkv7 import RWKV7
from model.state import State
from model.tokenizer import EOD_ID, StreamDecoder, TrieTokenizer

GREEDY_BELOW = 1e-4


@dataclass(frozen=True)
class SamplingConfig:
    max_tokens: int = 256
    temperature: float = 1.0  # 0 means greedy
    top_p: float = 1.0
    top_k: int = 0  # 0 means no top-k cut
    stop: tuple[str, ...] = ()
    seed: int | None = None
    stop_on_eod: bool = True  # token 0 (end of document) ends the reply

    def __post_init__(self) -> None:
        if self.max_tokens < 0:
            raise ValueError("max_tokens must be >= 0")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError("top_k must be >= 0")


@dataclass
class GenerationResult:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" (stop string or end of document) | "length"
    prompt_tokens: int
    state: State = field(repr=False)  # after the prompt and every sampled token (stop-string ones included)


def invalid_token_mask(tokenizer: TrieTokenizer, n_logits: int) -> torch.Tensor | None:
    """[V] bool mask of logit rows the tokenizer cannot decode (padding rows of the embedding), or None."""
    bad = [i for i in tokenizer.unassigned_ids() if i < n_logits]
    bad += range(tokenizer.vocab_size, n_logits)
    if not bad:
        return None
    mask = torch.zeros(n_logits, dtype=torch.bool)
    mask[torch.tensor(bad)] = True
    return mask


def sample_token(logits: torch.Tensor, cfg: SamplingConfig, generator: torch.Generator | None) -> int:
    """One token id from a [V] logits vector."""
    if cfg.temperature < GREEDY_BELOW:  # a vanishing temperature is greedy (and would overflow the division)
        return int(torch.argmax(logits))
    logits = logits.float() / cfg.temperature
    if cfg.top_k:
        kth = torch.topk(logits, min(cfg.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if cfg.top_p < 1.0:
        sorted_p, order = torch.sort(probs, descending=True)
        # Keep the smallest prefix whose mass reaches top_p (the token that crosses the line stays).
        drop = (torch.cumsum(sorted_p, dim=-1) - sorted_p) >= cfg.top_p
        drop[0] = False  # the most likely token always stays (rounding can push a tiny top_p below 0)
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        probs = torch.zeros_like(probs).scatter_(0, order, sorted_p)
    return int(torch.multinomial(probs, 1, generator=generator))


class Generation:
    """Iterate to receive text deltas; afterwards `result` holds the full outcome.

    gen = Generation(model, tok, prompt, state, cfg)
    for delta in gen: print(delta, end="")
    gen.result.finish_reason
    """

    def __init__(
        self,
        model: RWKV7,
        tokenizer: TrieTokenizer,
        prompt: str | Sequence[int],
        state: State | None = None,
        config: SamplingConfig = SamplingConfig(),
    ) -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.prompt_ids = tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        if not self.prompt_ids:
            raise ValueError("the prompt must contain at least one token")
        self.state = state if state is not None else model.zero_state(1)
        if self.state.batch_size != 1:
            raise ValueError("generation runs at batch 1")
        self.result: GenerationResult | None = None

    def __iter__(self) -> Iterator[str]:
        cfg = self.config
        generator = torch.Generator().manual_seed(cfg.seed) if cfg.seed is not None else None
        decoder = StreamDecoder(self.tokenizer)
        ids: list[int] = []
        text = ""  # everything decoded so far
        sent = 0  # characters of `text` already yielded
        finish = "length"
        cut_at_stop = False
        invalid = invalid_token_mask(self.tokenizer, self.model.config.vocab_size)
        with torch.no_grad():
            logits, state = self.model(torch.tensor([self.prompt_ids]), self.state, last_only=True)
            logits = logits[0]
            while len(ids) < cfg.max_tokens:
                if invalid is not None:
                    logits = logits.masked_fill(invalid, float("-inf"))
                tok = sample_token(logits, cfg, generator)
                if tok == EOD_ID and cfg.stop_on_eod:
                    finish = "stop"
                    break
                ids.append(tok)
                logits, state = self.model.step(torch.tensor([tok]), state)
                logits = logits[0]
                text += decoder.feed(tok)
                cut = find_stop(text, cfg.stop) if cfg.stop else -1
                if cut >= 0:
                    text = text[:cut]
                    finish, cut_at_stop = "stop", True
                    break
                safe = len(text) - (stop_holdback(text, cfg.stop) if cfg.stop else 0)
                if safe > sent:
                    yield text[sent:safe]
                    sent = safe
            if not cut_at_stop:
                text += decoder.flush()  # a dangling partial character becomes U+FFFD
        if len(text) > sent:
            yield text[sent:]
        self.result = GenerationResult(text, ids, finish, len(self.prompt_ids), state)


def generate(
    model: RWKV7,
    tokenizer: TrieTokenizer,
    prompt: str | Sequence[int],
    state: State | None = None,
    config: SamplingConfig = SamplingConfig(),
) -> GenerationResult:
    gen = Generation(model, tokenizer, prompt, state, config)
    for _ in gen:
        pass
    assert gen.result is not None
    return gen.result


@torch.no_grad()
def generate_greedy_batch(
    model: RWKV7,
    tokenizer: TrieTokenizer,
    prompts: Sequence[str],
    state: State | None = None,
    config: SamplingConfig = SamplingConfig(temperature=0.0),
    batch_size: int = 16,
) -> list[str]:
    """Greedy replies to many prompts, each from `state`: what `generate(...).text` gives one by one, with
    the decode steps of up to `batch_size` prompts run together (evaluation asks hundreds of questions, and
    at batch 1 a small model's decode step is all overhead). Prompts are prefilled one by one (a recurrent
    state cannot be padded), then stepped as a batch until each stops."""
    if config.temperature >= GREEDY_BELOW:
        raise ValueError("generate_greedy_batch is greedy: use temperature 0")
    invalid = invalid_token_mask(tokenizer, model.config.vocab_size)
    start = state if state is not None else model.zero_state(1)
    out: list[str] = []
    for i in range(0, len(prompts), batch_size):
        chunk = prompts[i : i + batch_size]
        logits_rows, states = [], []
        for p in chunk:
            ids = tokenizer.encode(p)
            if not ids:
                raise ValueError("the prompt must contain at least one token")
            lg, st = model(torch.tensor([ids]), start, last_only=True)
            logits_rows.append(lg[0])
            states.append(st)
        logits = torch.stack(logits_rows)  # [B, V]
        batch_state = State.cat(states)
        decoders = [StreamDecoder(tokenizer) for _ in chunk]
        texts = [""] * len(chunk)
        done = [False] * len(chunk)
        cut_at_stop = [False] * len(chunk)
        for _ in range(config.max_tokens):
            if invalid is not None:
                logits = logits.masked_fill(invalid, float("-inf"))
            toks = logits.argmax(-1)  # [B]
            for b, t in enumerate(toks.tolist()):
                if done[b]:
                    continue
                if t == EOD_ID and config.stop_on_eod:
                    done[b] = True
                    continue
                texts[b] += decoders[b].feed(t)
                cut = find_stop(texts[b], config.stop) if config.stop else -1
                if cut >= 0:
                    texts[b], done[b], cut_at_stop[b] = texts[b][:cut], True, True
            if all(done):
                break
            logits, batch_state = model.step(toks, batch_state)
        for b in range(len(chunk)):
            if not cut_at_stop[b]:
                texts[b] += decoders[b].flush()  # a dangling partial character, as generate() does
        out += texts
    return out
