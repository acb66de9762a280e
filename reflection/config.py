"""ReflectionConfig: every knob of the nightly reflection pass, in one frozen dataclass.

It is the `[reflection]` section of config.toml (the salience weights are the nested `[reflection.salience]`
table) and is recorded verbatim, through `to_dict()`, in every decision batch and generation manifest, so a
kept or dropped item can always be explained with the weights that decided it.

How the scores combine (policy.py): each segment gets a logit

    salience_logit                                   (salience.py's logistic model; w_salience scales it)
  + w_surprise  * (surprise percentile - 0.5)        (per-token loss under the current generation, no context)
  - w_known     * known                              (the generation predicts it much better than the base)
  + w_judge     * clip(judge logit - batch median)   (the model's P(Yes) to "worth remembering?")
  - w_redundant * redundancy                         (similarity to the bank; 0 below related_cosine)
  + w_update    * [states a new value for a known slot]
  - w_restated  * [restates a value the bank already holds]

and score = sigmoid(logit). The model scorers switch themselves off (weight 0, with a reason in the report)
when the model cannot do the job: surprise when the model's mean loss is near uniform guessing, the judge
when it cannot tell fixed worth-keeping anchors from fixed small-talk anchors. So a random test model, or a
weak default model, cannot make selection worse than salience alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from reflection.budget import BudgetConfig
from reflection.redact import RedactionConfig
from reflection.salience import SalienceConfig
from reflection.segments import SegmentConfig


@dataclass(frozen=True)
class ReflectionConfig:
    # ---- budget -------------------------------------------------------------------------------------
    budget_fraction: float | None = field(
        default=0.3,
        metadata={"help": "Keep at most this fraction of the day's message tokens.", "min": 0.0, "max": 1.0},
    )
    budget_max_tokens: int | None = field(
        default=None,
        metadata={"help": "Absolute cap on kept tokens; with both set, the smaller budget wins.", "min": 0},
    )
    budget_min_tokens: int = field(
        default=32,
        metadata={
            "help": "The fraction budget is at least this many tokens (a quiet day keeps its fact).",
            "min": 0,
        },
    )
    budget_strategy: Literal["density", "score"] = field(
        default="density", metadata={"help": "Greedy order: score per token (density) or score."}
    )
    capacity_facts: int | None = field(
        default=12,
        metadata={
            "help": "Stated facts one night learns at most; they go before anything else, and the rest wait "
            "(deferred) for the next night. Measured by bench/capacity.py. Empty: no limit.",
            "min": 1,
        },
    )
    min_score: float = field(
        default=0.05,
        metadata={"help": "Segments scoring at or below this are never kept.", "min": 0.0, "max": 1.0},
    )
    # ---- segments and redaction ------------------------------------------------------------------------
    split_small_talk: bool = field(
        default=True,
        metadata={"help": "Split greetings and questions to the listener off a message; keep only the rest."},
    )
    pair_short_replies: bool = field(
        default=False, metadata={"help": "Fold a short assistant reply into the user turn before it."}
    )
    include_system: bool = field(default=False, metadata={"help": "Consider system messages (never kept)."})
    redact_emails: bool = field(default=True, metadata={"help": "Mask e-mail addresses."})
    redact_phones: bool = field(default=True, metadata={"help": "Mask phone numbers."})
    # ---- weights ----------------------------------------------------------------------------------------
    w_salience: float = field(default=1.0, metadata={"help": "Scale of the salience logit."})
    w_surprise: float = field(default=0.5, metadata={"help": "Weight of the surprise percentile."})
    w_known: float = field(default=2.0, metadata={"help": "Penalty when the state already predicts it."})
    w_judge: float = field(default=0.5, metadata={"help": "Weight of the model judge (logit units)."})
    w_redundant: float = field(default=2.0, metadata={"help": "Penalty for similarity to the bank."})
    w_update: float = field(default=3.0, metadata={"help": "Bonus for a new value of a known slot."})
    w_restated: float = field(default=1.0, metadata={"help": "Penalty for restating a known slot value."})
    # ---- surprise ---------------------------------------------------------------------------------------
    surprise: bool = field(default=True, metadata={"help": "Run the surprise scorer (needs the model)."})
    surprise_max_loss_ratio: float = field(
        default=0.85,
        metadata={
            "help": "Surprise switches off when the mean loss exceeds this share of ln(vocab): the model "
            "predicts no better than guessing, so its loss says nothing about the text.",
            "min": 0.0,
            "max": 2.0,
        },
    )
    known_threshold: float = field(
        default=0.3,
        metadata={
            "help": "Relative loss drop vs the base state at which a segment counts as known.",
            "min": 0.0,
        },
    )
    max_segment_tokens: int = field(
        default=256, metadata={"help": "Model scorers read at most this many tokens of a segment.", "min": 8}
    )
    batch_tokens: int = field(
        default=4096, metadata={"help": "Padded tokens per model forward (memory vs speed).", "min": 64}
    )
    # ---- judge ------------------------------------------------------------------------------------------
    judge: bool = field(default=True, metadata={"help": "Ask the model whether a segment is worth keeping."})
    judge_min_margin: float = field(
        default=0.1,
        metadata={
            "help": "The judge counts only if its mean P(Yes) on fixed worth-keeping anchors exceeds that "
            "on fixed small-talk anchors by this much.",
            "min": 0.0,
            "max": 1.0,
        },
    )
    judge_endpoint: str = field(
        default="",
        metadata={
            "help": "OpenAI-compatible base URL for a remote judge (e.g. http://127.0.0.1:8080/v1); empty: "
            "local model only. Only redacted text is sent."
        },
    )
    judge_model: str = field(default="", metadata={"help": "Model name for the remote judge."})
    judge_api_key_env: str = field(
        default="", metadata={"help": "Name of the environment variable holding the remote judge's key."}
    )
    judge_timeout_s: float = field(
        default=10.0, metadata={"help": "Per-request timeout of the remote judge.", "min": 0.1}
    )
    judge_remote_max_segments: int = field(
        default=300, metadata={"help": "At most this many segments go to the remote judge.", "min": 0}
    )
    # ---- novelty / dedupe -------------------------------------------------------------------------------
    embeddings: bool = field(default=True, metadata={"help": "Use MiniLM embeddings for novelty and dedupe."})
    duplicate_cosine: float = field(
        default=0.92,
        metadata={"help": "Cosine at or above which two texts are the same memory (merged).", "min": 0.0},
    )
    related_cosine: float = field(
        default=0.75,
        metadata={
            "help": "Cosine above which similarity to the bank starts to count as redundancy.",
            "min": 0.0,
        },
    )
    embedding_cache: bool = field(
        default=True, metadata={"help": "Cache bank embeddings under <data dir>/cache/."}
    )
    # ---- probes -----------------------------------------------------------------------------------------
    cloze_per_item: int = field(default=2, metadata={"help": "Cloze probes per memory item.", "min": 0})
    qa_train_per_fact: int = field(
        default=3,
        metadata={
            "help": "Self-study questions (train phrasings) per stated fact; one more is held out.",
            "min": 0,
        },
    )
    qa_from_model: bool = field(
        default=True, metadata={"help": "Let the model write QA probes (validated; templates otherwise)."}
    )
    qa_model_max_items: int = field(
        default=24, metadata={"help": "At most this many items get a model-written question.", "min": 0}
    )
    qa_model_give_up_after: int = field(
        default=4,
        metadata={"help": "Stop asking the model after this many rejected questions in a row.", "min": 1},
    )
    # ---- nested -----------------------------------------------------------------------------------------
    salience: SalienceConfig = field(default_factory=SalienceConfig)

    def __post_init__(self) -> None:
        if self.budget_fraction is None and self.budget_max_tokens is None:
            raise ValueError("reflection needs budget_fraction, budget_max_tokens, or both")
        if self.related_cosine > self.duplicate_cosine:
            raise ValueError("related_cosine must not exceed duplicate_cosine")

    # ---- views for the component modules ------------------------------------------------------------------
    def budget_config(self) -> BudgetConfig:
        return BudgetConfig(
            self.budget_fraction,
            self.budget_max_tokens,
            self.budget_strategy,
            self.min_score,
            self.budget_min_tokens,
        )

    def redaction_config(self) -> RedactionConfig:
        return RedactionConfig(emails=self.redact_emails, phones=self.redact_phones)

    def segment_config(self) -> SegmentConfig:
        return SegmentConfig(include_system=self.include_system, pair_short_replies=self.pair_short_replies)

    @property
    def remote_judge(self) -> bool:
        return bool(self.judge_endpoint and self.judge_model)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for decisions, reports and the generation manifest (no secrets: the key's env var
        name is recorded, never its value)."""
        return dataclasses.asdict(self)

    def with_budget(self, fraction: float | None = None, max_tokens: int | None = None) -> ReflectionConfig:
        """A copy with another budget (the CLI's --budget-fraction / --max-tokens)."""
        return dataclasses.replace(
            self,
            budget_fraction=fraction if fraction is not None else self.budget_fraction,
            budget_max_tokens=max_tokens if max_tokens is not None else self.budget_max_tokens,
        )
