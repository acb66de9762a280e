"""Pretraining recipe for sleepd's embedded default model.

    python -m pretrain --out model/default            # the shipped model (about an hour, 2 CPU cores)
    python -m pretrain --smoke --out /tmp/smoke        # the same pipeline in under two minutes

Data, mixed by tokens (`chat_fraction`):
- persona-world chats (world.pretrain_data): a user states facts, then asks about every one of them;
  the model learns the chat format and in-context recall (and "I don't know." for facts never given);
- general English text from the shipped corpus (see corpus/__init__.py for sources and licences).
Documents are packed into fixed-length rows separated by the end-of-document token 0, so later documents
in a row start from a non-zero state, as chats will when a memory state is loaded. A chat is never cut
across two rows (see `packed_rows`).

The tokenizer is the RWKV world trie restricted to the most frequent world tokens of the training mix
(model.tokenizer.build_subset_vocab): same algorithm, 4096 ids, so emb + head stay small.

Everything is seeded: the same config gives the same tokenizer, batches and weights.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from corpus import general_documents, heldout_general_text
from eval.metrics import ANSWER_SAMPLING
from model.bpb import bits_per_byte
from model.chat_format import format_messages
from model.checkpoint import save_safetensors
from model.config import RWKV7Config
from model.fileio import atomic_write_json
from model.generate import generate
from model.rwkv7 import RWKV7
from model.tokenizer import EOD_ID, TrieTokenizer, build_subset_vocab, world_tokenizer, write_vocab_file
from world.pretrain_data import (
    ChatConfig,
    PersonaChat,
    RecallItem,
    everyday_eval_items,
    incontext_eval_items,
    iter_pretrain_chats,
    make_chat,
    no_context_items,
    pretrain_texts,
)
from world.scoring import is_abstention, score_answer, truncated
from world.templates import HELDOUT


@dataclass(frozen=True)
class PretrainConfig:
    # shape
    n_layer: int = 6
    n_embd: int = 256
    vocab_size: int = 4096  # ids 0..4095: EOD + 4095 world tokens (all 256 single bytes included)
    d_decay: int = 32
    d_aaa: int = 32
    d_mv: int = 16
    d_gate: int = 64
    # optimisation
    seq_len: int = 1024
    batch_size: int = 4
    # None: as many steps as fit in max_minutes, measured on the first steps (the cosine schedule then
    # ends on time); a number: exactly that many (the run is reproducible bit for bit).
    steps: int | None = None
    # hard wall-clock cap; training stops early and keeps the last weights. 150 minutes (2.7x the previous
    # recipe's 55) buys the general text the chats cost: 75% chats gave 2.32 bits/byte in 55 minutes. This
    # mix at 120 minutes (research_log.md, 2026-12-08): 2.20 bits/byte, but persona recall 0.69 and the
    # everyday held-out set 0.05, so it did not ship.
    max_minutes: float = 150.0
    lr: float = 1e-3
    lr_final: float = 2e-5
    warmup_steps: int = 60
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    betas: tuple[float, float] = (0.9, 0.99)
    compile: bool = True  # torch.compile the training step (about 1.35x faster; compiling takes ~1 min)
    # data
    # Chats are where recall is learnt; general text pays for it (measured at full size, BENCHMARKS.md:
    # 60% chats with 15% unanswerable questions gave recall 0.563 and 2.02 bits/byte, 75% with 8% gave
    # 0.625 and 2.19, both with the removal init a0 = -5; with the reference init, 75%/8% gave 0.770 and
    # 2.24, 75%/4% gave 0.798 and 2.32, and 85%/4% gave 0.852 and 2.58: the chat share sets how fast
    # recall is learnt in the hour, and costs general text).
    chat_fraction: float = 0.75
    chat_ask_stated: bool = True  # every stated fact is asked (world.pretrain_data.ChatConfig)
    # Share of questions about facts the chat never gave ("I don't know." is the answer). At 15% the model
    # withheld about 36% of the answers it had; fewer makes it answer more often and abstain less (at 4%
    # it still abstains on 86% of never-given facts in a chat, but on 41% of questions with no chat at
    # all). The model card reports these rates.
    chat_abstain: float = 0.04
    chat_questions: tuple[int, int] = (2, 4)  # questions per chat when chat_ask_stated is off
    # Everyday facts per chat besides the persona ones (a named parrot, a purchase, where an uncle lives;
    # world/everyday.py), each asked about, with "I don't know." for near neighbours: the model then
    # answers about facts outside the persona relations, which is what the nightly memory can learn.
    chat_everyday: tuple[int, int] = (1, 3)
    # Chats with no facts at all, whose every question gets "I don't know.": with nothing to answer from,
    # the model should not name a value (the previous recipe guessed on 59% of such questions).
    chat_no_facts: float = 0.08
    # Values of the "train" split only (pools.value_split), so the card can score values never seen.
    chat_value_split: str | None = "train"
    answer_weight: float = 5.0  # loss weight of answer tokens (in-context recall is the scarce signal)
    answer_weight_value_only: bool = False  # weight only the recalled value inside an answer
    repeat_fraction: float = 0.4  # share of general documents given as a passage read twice
    repeat_max_tokens: int = 48
    repeat_weight: float = 4.0  # loss weight of the second reading
    # Curriculum: the first tokens are only passages read twice. Copying from context forms quickly when
    # it is most of the signal and not at all when diluted (measured on the tiny preset: copy-loss ratio
    # 0.73 after 600 steps of pure repeats, 0.99 after 1,000 steps of a mix with 60% repeats), and
    # in-context recall is built on it. 0 turns it off.
    copy_warmup_tokens: int = 1_200_000
    # Tokenizer sample, weighted like the mix (see build_tokenizer).
    tokenizer_sample_chats: int = 8000
    tokenizer_sample_general: int = 2000
    # Initialisation (see init_for_training). None: RWKV-LM's reference removal rate. It learns associative
    # recall 1.5-2.5x sooner on bench/init_ablation.py, and at full size it gave in-context recall 0.770
    # against 0.625 with -5 (the same recipe otherwise; BENCHMARKS.md).
    init_removal_logit: float | None = None
    # output
    save_dtype: str = "float32"  # the shipped file's dtype (bfloat16 halves it); training runs in fp32
    # evaluation
    eval_seeds: int = 100  # evaluation personas (seeds 0..eval_seeds-1, never used in training)
    eval_every: int = 400  # steps between progress evaluations (answer-token accuracy, copying); 0: none
    heldout_chars: int = 200_000
    seed: int = 0
    threads: int = 2

    @classmethod
    def smoke(cls) -> PretrainConfig:
        return cls(
            n_layer=2,
            n_embd=64,
            vocab_size=512,
            d_decay=8,
            d_aaa=8,
            d_mv=8,
            d_gate=16,
            seq_len=128,
            batch_size=4,
            steps=30,
            max_minutes=1.5,
            warmup_steps=5,
            compile=False,  # compiling alone would take most of the smoke budget
            tokenizer_sample_chats=100,
            tokenizer_sample_general=100,
            eval_seeds=4,
            eval_every=30,
            heldout_chars=5_000,
            copy_warmup_tokens=4_000,
            threads=1,  # tiny matrices: a second thread only adds barrier waits
        )

    @classmethod
    def tiny(cls) -> PretrainConfig:
        """L2/C128: small enough for the test suite, trained enough that its state matters (a fixture)."""
        return cls(
            n_layer=2,
            n_embd=128,
            vocab_size=1024,
            d_decay=16,
            d_aaa=16,
            d_mv=8,
            d_gate=32,
            seq_len=256,
            batch_size=16,
            steps=1500,
            max_minutes=25.0,
            warmup_steps=30,
            lr=2e-3,
            chat_fraction=0.5,
            chat_ask_stated=False,
            chat_abstain=0.15,
            # The committed test fixture was trained with persona chats only.
            chat_everyday=(0, 0),
            chat_no_facts=0.0,
            chat_value_split=None,
            tokenizer_sample_chats=1000,
            tokenizer_sample_general=1000,
            eval_seeds=30,
            eval_every=300,
            copy_warmup_tokens=2_000_000,
            init_removal_logit=-5.0,
            save_dtype="float32",
            heldout_chars=50_000,
        )

    def model_config(self) -> RWKV7Config:
        return RWKV7Config(
            vocab_size=self.vocab_size,
            n_embd=self.n_embd,
            n_layer=self.n_layer,
            head_size=64 if self.n_embd >= 64 else self.n_embd,
            d_decay=self.d_decay,
            d_aaa=self.d_aaa,
            d_mv=self.d_mv,
            d_gate=self.d_gate,
        )


# ---- initialisation ------------------------------------------------------------------------------------


def init_for_training(model: RWKV7, seed: int, removal_logit: float | None = None) -> None:
    """RWKV-7's training initialisation (BlinkDL RWKV-LM train code): token-shift mixes graded by layer,
    spread decay biases, small LoRAs, orthogonal projections, zero output and ffn value matrices (each
    block starts as identity), tiny embeddings.

    removal_logit: None keeps RWKV-LM's in-context removal rate 0.5 (a0 = 0, k_a = 1); a number starts the
    delta-rule removal nearly off instead (a0 = removal_logit, k_a = 0). Which one a small model learns
    faster with depends on the task (bench/init_ablation.py: copying a sequence from context, and
    associative recall of key-value pairs); the recipe's default is in PretrainConfig."""
    from model.random_init import random_state_dict  # same structure as the parity fixtures

    cfg = model.config
    sd = random_state_dict(cfg, seed=seed)
    g = torch.Generator().manual_seed(seed + 1)
    sd["emb.weight"] = (torch.rand(cfg.vocab_size, cfg.n_embd, generator=g) * 2 - 1) * 1e-4
    for i in range(cfg.n_layer):
        sd[f"blocks.{i}.att.output.weight"].zero_()
        sd[f"blocks.{i}.ffn.value.weight"].zero_()
        sd[f"blocks.{i}.att.w2"].zero_()
        sd[f"blocks.{i}.att.a0"].fill_(0.0 if removal_logit is None else removal_logit)
        sd[f"blocks.{i}.att.k_a"].fill_(1.0 if removal_logit is None else 0.0)
        sd[f"blocks.{i}.att.r_k"].fill_(-0.04)
        sd[f"blocks.{i}.att.k_k"].fill_(0.85)
        sd[f"blocks.{i}.att.v0"].fill_(1.0)
    sd["head.weight"] = (
        sd["head.weight"] * (0.5 / max(sd["head.weight"].std().item(), 1e-8)) * cfg.n_embd**-0.5
    )
    model.load_state_dict(sd)


# ---- data ---------------------------------------------------------------------------------------------


def chat_config(cfg: PretrainConfig) -> ChatConfig:
    return ChatConfig(
        questions=cfg.chat_questions,
        ask_stated=cfg.chat_ask_stated,
        abstain_prob=cfg.chat_abstain,
        everyday=cfg.chat_everyday,
        no_facts_prob=cfg.chat_no_facts,
        value_split=cfg.chat_value_split,
    )


def build_tokenizer(cfg: PretrainConfig) -> list[bytes]:
    """The subset vocabulary, chosen from a fixed sample of both data sources.

    The sample is weighted like the training mix: chats are short and their values (names, places, dishes)
    are spread over large pools, so a sample with few chats leaves those words to single bytes (a name of
    4-8 tokens), which is what in-context recall then has to copy."""
    rng = random.Random(cfg.seed)
    chats = list(pretrain_texts(count=cfg.tokenizer_sample_chats, config=chat_config(cfg)))
    general = [
        doc for _, doc in zip(range(cfg.tokenizer_sample_general), general_documents(rng), strict=False)
    ]
    return build_subset_vocab(chats + general, cfg.vocab_size - 1, world_tokenizer())


def answer_tokens(
    chat: PersonaChat, tok: TrieTokenizer, value_only: bool = False
) -> tuple[list[int], list[list[int]]]:
    """A chat's tokens, and for each of its questions the positions of the tokens of the assistant's reply
    (with `value_only`, of the recalled value inside it; whole replies to abstention questions). A token
    belongs to an answer when any of its bytes fall inside it."""
    messages = chat.messages
    text = format_messages(messages)
    spans = []  # byte spans of the answers, in order
    first_answer = len(chat.context) + 1  # replies to questions are every second message after the context
    offset = len(format_messages(messages[:first_answer]).encode())
    for q, i in zip(chat.questions, range(first_answer, len(messages), 2), strict=False):
        start = offset + len(b"Assistant: ")
        reply = messages[i]["content"]
        at = reply.find(q.answer) if value_only and not q.abstain else -1
        if at >= 0:
            begin = start + len(reply[:at].encode())
            spans.append((begin, begin + len(q.answer.encode())))
        else:
            spans.append((start, start + len(reply.encode())))
        if i + 1 < len(messages):
            offset += len(format_messages(messages[i : i + 2]).encode())
    ids = tok.encode(text)
    positions: list[list[int]] = [[] for _ in spans]
    pos = j = 0
    for n, t in enumerate(ids):
        end = pos + len(tok.token_bytes(t))
        while j < len(spans) and spans[j][1] <= pos:
            j += 1
        if j < len(spans) and spans[j][0] < end:
            positions[j].append(n)
        pos = end
    return ids, positions


def chat_tokens(
    chat: PersonaChat, tok: TrieTokenizer, answer_weight: float, value_only: bool = False
) -> tuple[list[int], list[float]]:
    """A chat's tokens with loss weights: `answer_weight` on the assistant's replies to the questions (the
    in-context recall the model must learn), 1 elsewhere. With `value_only`, only the recalled value is
    weighted: the reply's wording is learnt from the plain weight."""
    ids, positions = answer_tokens(chat, tok, value_only)
    weights = [1.0] * len(ids)
    for answer in positions:
        for n in answer:
            weights[n] = answer_weight
    return ids, weights


@dataclass(frozen=True)
class Document:
    ids: list[int]  # ends with EOD
    weights: list[float]  # loss weight of each token
    chat: bool  # a persona chat (never split across rows) or general text (may be cut anywhere)


def documents(cfg: PretrainConfig, tok: TrieTokenizer) -> Iterator[Document]:
    """Endless, seeded stream of training documents, each followed by EOD."""
    rng = random.Random(cfg.seed + 17)
    chats = iter_pretrain_chats(config=chat_config(cfg))  # seeds >= 1_000_000 only
    general = general_documents(random.Random(cfg.seed + 29))
    n_chat = n_general = n_warmup = 0  # the mix is counted after the warmup, or it would open with chats only
    while True:
        warmup = n_warmup < cfg.copy_warmup_tokens  # first phase: passages read twice, nothing else
        # Keep the token mix near chat_fraction whatever the document lengths are.
        is_chat = not warmup and (n_chat <= cfg.chat_fraction * (n_chat + n_general) or rng.random() < 0.01)
        if is_chat:
            ids, weights = chat_tokens(next(chats), tok, cfg.answer_weight, cfg.answer_weight_value_only)
            n_chat += len(ids)
        else:
            ids = tok.encode(next(general))
            if (warmup or rng.random() < cfg.repeat_fraction) and len(ids) > 16:
                # A passage read twice: the second copy is predictable only by copying from context, the
                # skill that in-context recall needs (repeated text is what forms induction in LMs).
                n = min(len(ids), rng.randint(24, cfg.repeat_max_tokens))
                start = rng.randrange(0, len(ids) - n + 1)
                window = ids[start : start + n]
                sep = tok.encode("\n\n")
                ids = window + sep + window
                weights = [1.0] * (n + len(sep)) + [cfg.repeat_weight] * n
            else:
                weights = [1.0] * len(ids)
            if warmup:
                n_warmup += len(ids)
            else:
                n_general += len(ids)
        yield Document([*ids, EOD_ID], [*weights, 1.0], is_chat)


def pack_rows(docs: Iterator[Document], row_len: int, max_held: int = 8) -> Iterator[tuple[list, list]]:
    """Rows of `row_len` tokens filled with whole documents. Every row starts from the zero state, so a chat
    cut in two would leave its questions without the facts they ask about and teach the model to answer
    from nothing (a confident made-up value): a chat that does not fit in the room left waits for the
    next row, and the room is filled with general text, which may be cut anywhere. Chats longer than a
    row are cut (the default shapes make them rare); if `max_held` chats wait with no general text in
    sight, the room is padded with EOD at loss weight 0."""
    waiting: list[Document] = []  # chats held back for the next row, in order
    while True:
        ids: list = []
        weights: list = []
        held: list[Document] = []
        while len(ids) < row_len:
            room = row_len - len(ids)
            if len(held) >= max_held:
                ids += [EOD_ID] * room
                weights += [0.0] * room
                break
            doc = waiting.pop(0) if waiting else next(docs)
            if doc.chat and room < len(doc.ids) <= row_len:
                held.append(doc)
                continue
            ids += doc.ids[:room]
            weights += doc.weights[:room]
        waiting = held + waiting
        yield ids, weights


def packed_rows(cfg: PretrainConfig, tok: TrieTokenizer) -> Iterator[tuple[list[int], list[float]]]:
    """Rows of seq_len + 1 tokens of the training mix (`pack_rows`)."""
    return pack_rows(documents(cfg, tok), cfg.seq_len + 1)


def batches(cfg: PretrainConfig, tok: TrieTokenizer) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """[B, seq_len + 1] token batches of packed rows, with the loss weight of each token."""
    rows = packed_rows(cfg, tok)
    while True:
        batch = [next(rows) for _ in range(cfg.batch_size)]
        tokens = torch.tensor([r for r, _ in batch], dtype=torch.long)
        weights = torch.tensor([w for _, w in batch], dtype=torch.float32)
        yield tokens, weights


# ---- evaluation ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecallOutcome:
    item: RecallItem
    reply: str
    correct: bool
    abstained: bool  # the reply says "I don't know." (whether or not that is right)
    truncated: bool = False  # the value came out cut off ("Tarra" for "Tarragona"): a miss


@torch.no_grad()
def recall_outcomes(model: RWKV7, tok: TrieTokenizer, items: Iterable[RecallItem]) -> list[RecallOutcome]:
    """Greedy answers to the items' prompts, each scored against its ground truth."""
    out = []
    for item in items:
        reply = generate(model, tok, item.prompt, config=ANSWER_SAMPLING).text
        ok = score_answer(reply, item.answer, item.wrong_answers)
        cut = not item.abstain and not ok and truncated(reply, item.answer)
        out.append(RecallOutcome(item, reply, ok, is_abstention(reply), cut))
    return out


def summarise_recall(outcomes: Iterable[RecallOutcome]) -> dict[str, float]:
    """Accuracy on questions that have an answer, with the misses split into abstentions ("I don't
    know.") and wrong values, and accuracy on the abstention questions."""
    correct = answered = abstained = abstain_ok = abstain_n = cut = 0
    for o in outcomes:
        if o.item.abstain:
            abstain_n += 1
            abstain_ok += o.correct
        else:
            answered += 1
            correct += o.correct
            abstained += not o.correct and o.abstained
            cut += o.truncated
    return {
        "accuracy": correct / max(answered, 1),
        "abstained_on_answerable": abstained / max(answered, 1),
        "wrong_value": (answered - correct - abstained) / max(answered, 1),
        "truncated_value": cut / max(answered, 1),
        "abstention_accuracy": abstain_ok / max(abstain_n, 1),
        "items": answered,
        "abstention_items": abstain_n,
    }


def recall_accuracy(model: RWKV7, tok: TrieTokenizer, items: Iterable[RecallItem]) -> dict[str, float]:
    """`summarise_recall` of the model's answers to `items`."""
    return summarise_recall(recall_outcomes(model, tok, items))


# ---- training -----------------------------------------------------------------------------------------


def lr_at(step: int, cfg: PretrainConfig, total_steps: int) -> float:
    """Linear warmup, then cosine from lr to lr_final over the run's total_steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: RWKV7, cfg: PretrainConfig) -> torch.optim.Optimizer:
    # Weight decay on the big matrices only (projections, FFN, head), as RWKV training does.
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        big = p.dim() == 2 and min(p.shape) > 64 and not name.startswith("emb")
        (decay if big else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, eps=1e-8)


@torch.no_grad()
def copy_loss_ratio(model: RWKV7, tok: TrieTokenizer, text: str, window: int = 96, n: int = 8) -> float:
    """Mean loss on the second reading of a held-out passage over the first: near 1 means the model cannot
    copy from its context (no induction); well below 1 means it can."""
    ids = tok.encode(text)
    first = second = 0.0
    for i in range(n):
        w = ids[i * window * 2 : i * window * 2 + window]
        if len(w) < window:
            break
        seq = torch.tensor([[EOD_ID, *w, *w]])
        logits, _ = model(seq[:, :-1])
        nll = F.cross_entropy(logits[0], seq[0, 1:], reduction="none")
        first += nll[:window].mean().item()
        second += nll[window:].mean().item()
    return second / first if first else float("nan")


def evaluate(model: RWKV7, tok: TrieTokenizer, cfg: PretrainConfig, heldout: str) -> dict[str, float]:
    model.eval()
    items = incontext_eval_items(range(cfg.eval_seeds))
    everyday = everyday_eval_items(range(cfg.eval_seeds))
    res = {
        "heldout_bits_per_byte": bits_per_byte(model, tok, heldout),
        "copy_loss_ratio": copy_loss_ratio(model, tok, heldout),
        "in_context": recall_accuracy(model, tok, items),
        "no_context": recall_accuracy(model, tok, no_context_items(items)),
        "everyday": recall_accuracy(model, tok, everyday),
    }
    model.train()
    return res


@torch.no_grad()
def answer_token_accuracy(model: RWKV7, tok: TrieTokenizer, seeds: range) -> float:
    """Teacher-forced share of recalled values whose every token is the model's top prediction, on held-out
    chats (the eval personas and phrasings). Cheap enough to follow during training (one forward pass per
    chat, no generation), and it moves before greedy recall does."""
    model.eval()
    ok = total = 0
    for seed in seeds:
        chat = make_chat(seed, split=HELDOUT, ask_all=True)
        ids, answers = answer_tokens(chat, tok, value_only=True)
        seq = torch.tensor([[EOD_ID, *ids]])
        logits, _ = model(seq[:, :-1])
        hit = (logits[0].argmax(-1) == seq[0, 1:]).tolist()
        for q, answer in zip(chat.questions, answers, strict=True):
            if not q.abstain:
                total += 1
                ok += all(hit[n] for n in answer)
    model.train()
    return ok / max(total, 1)


def pretrain(cfg: PretrainConfig, out_dir: Path, log=print) -> dict:
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.time()

    vocab = build_tokenizer(cfg)
    vocab_path = out_dir / "vocab.txt"
    write_vocab_file(vocab, vocab_path)
    tok = TrieTokenizer.from_file(vocab_path, padded_vocab_size=cfg.vocab_size)
    log(json.dumps({"event": "tokenizer", "tokens": len(vocab), "seconds": round(time.time() - t0, 1)}))

    model = RWKV7(cfg.model_config())
    init_for_training(model, cfg.seed, cfg.init_removal_logit)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    opt = make_optimizer(model, cfg)
    heldout = heldout_general_text(cfg.heldout_chars)
    data = batches(cfg, tok)

    def step_loss(inputs: torch.Tensor, targets: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        logits, _ = model(inputs)
        nll = F.cross_entropy(logits.reshape(-1, cfg.vocab_size), targets.reshape(-1), reduction="none")
        w = w.reshape(-1)
        return (nll * w).sum() / w.sum()

    loss_fn = torch.compile(step_loss) if cfg.compile else step_loss

    history: list[dict] = []
    train_start = time.time()
    total_steps = cfg.steps
    calibrate_from = (0, 0.0)  # (step, time) where the speed measurement for an open-ended run starts
    tokens_seen = 0
    step = 0
    while total_steps is None or step < total_steps:
        elapsed = time.time() - train_start
        if elapsed / 60 > cfg.max_minutes:
            log(json.dumps({"event": "time_budget_reached", "step": step}))
            break
        if total_steps is None and step == 5:  # the first steps include compiling: measure after them
            calibrate_from = (step, elapsed)
        if total_steps is None and step == 25:
            per_step = (elapsed - calibrate_from[1]) / (step - calibrate_from[0])
            # 5% of the time is left for the progress evaluations (eval_every), so the run ends on its
            # schedule rather than on the wall-clock cap.
            total_steps = step + int(0.95 * (cfg.max_minutes * 60 - elapsed) / per_step)
            log(json.dumps({"event": "planned_steps", "steps": total_steps, "seconds_per_step": per_step}))
        lr = lr_at(step, cfg, total_steps or 10**9)
        batch, weights = next(data)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = loss_fn(batch[:, :-1], batch[:, 1:], weights[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        tokens_seen += batch[:, 1:].numel()
        step += 1
        if step % 20 == 0 or step == total_steps:
            log(
                json.dumps(
                    {
                        "event": "step",
                        "step": step,
                        "loss": round(loss.item(), 4),
                        "lr": lr,
                        "tokens": tokens_seen,
                        "tokens_per_s": round(tokens_seen / max(time.time() - train_start, 1e-9)),
                    }
                )
            )
        if cfg.eval_every and step % cfg.eval_every == 0 and step != total_steps:
            ev = {
                "step": step,
                "tokens": tokens_seen,
                "answer_token_accuracy": answer_token_accuracy(model, tok, range(min(cfg.eval_seeds, 40))),
                "copy_loss_ratio": copy_loss_ratio(model, tok, heldout),
            }
            history.append(ev)
            log(json.dumps({"event": "eval", **ev}))

    train_minutes = (time.time() - train_start) / 60
    model.eval()
    model.requires_grad_(False)
    # Evaluate what ships: the weights as saved (bf16 by default) and read back in fp32.
    dtype = getattr(torch, cfg.save_dtype)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())
    final = evaluate(model, tok, cfg, heldout)
    final["answer_token_accuracy"] = answer_token_accuracy(model, tok, range(cfg.eval_seeds))
    log(json.dumps({"event": "final_eval", **final}))
    card = {
        "model_id": "sleepd-rwkv7-default",
        "architecture": "RWKV-7 (x070)",
        "config": cfg.model_config().to_dict(),
        "parameters": n_params,
        "pretrain_config": asdict(cfg),
        "tokens_seen": tokens_seen,
        "steps": step,
        "planned_steps": total_steps,
        "train_minutes": round(train_minutes, 1),
        "total_minutes": round((time.time() - t0) / 60, 1),
        "threads": cfg.threads,
        "final_eval": final,
        "history": history,
    }
    save_safetensors(model, out_dir / "model.safetensors", {"model_id": card["model_id"]}, dtype=dtype)
    atomic_write_json(out_dir / "training.json", card)
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description="Pretrain sleepd's default RWKV-7 model.")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument(
        "--smoke", action="store_true", help="tiny model, a few steps: the pipeline in < 2 minutes"
    )
    ap.add_argument("--preset", choices=["default", "tiny", "smoke"], default="default")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--max-minutes", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--threads", type=int, help="torch threads (default 2)")
    ap.add_argument("--no-compile", action="store_true", help="train without torch.compile")
    args = ap.parse_args()
    preset = "smoke" if args.smoke else args.preset
    cfg = {"default": PretrainConfig, "tiny": PretrainConfig.tiny, "smoke": PretrainConfig.smoke}[preset]()
    overrides = {
        k: v
        for k, v in {
            "steps": args.steps,
            "max_minutes": args.max_minutes,
            "seed": args.seed,
            "threads": args.threads,
            "compile": False if args.no_compile else None,
        }.items()
        if v is not None
    }
    cfg = replace(cfg, **overrides)
    card = pretrain(cfg, args.out, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(
        json.dumps(
            {k: card[k] for k in ("parameters", "tokens_seen", "train_minutes", "final_eval")}, indent=2
        )
    )


if __name__ == "__main__":
    main()
