"""`sleepd demo`: a compressed multi-day run on the embedded default model, end to end.

    result = run_demo(DemoConfig(days=5), on_event=print)

A real `sleepd serve` starts on a free loopback port, in a temporary data directory (or `keep`). Each
simulated day a persona-world user (an evaluation seed: never used in pretraining) talks to it through the
HTTP API (`POST /v1/chat/completions`, the model's own replies); the night is a real sleep cycle
(`POST /v1/sleep` with `wait`); the next morning the day's ground-truth questions are asked in fresh
conversations with no context, with questions about things never told. One row per day: acquisition (the
day's new facts), retention (earlier facts), abstention (things never told), general bits/byte of the
candidate against the base, the gates' decision and, on a rejection, the report's reason in plain words.

The demo's nights use a smaller step budget than the product's nightly default (it is a compressed run;
the budget is recorded in the data directory's config.toml and in every generation's manifest).
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from daemon.config import load_config, write_config
from daemon.init import init_data_dir, open_data_dir
from daemon.process import ServerProcess
from eval.history import write_history
from memory import cycles
from world import WorldConfig, simulate_world
from world.scoring import is_abstention, score_answer
from world.templates import HELDOUT

# A demo day: a few conversations, a few facts, little small talk (the night is the slow part).
DEMO_WORLD = WorldConfig(
    conversations_per_day=(1, 2),
    first_day_reveals=(3, 4),
    reveals_per_day=(2, 3),
    updates_per_day=(0, 1),
    smalltalk_per_conversation=(1, 2),
    recall_prob=0.2,
    abstentions_per_day=3,
    overrides_per_day=0,
)
PHASES = ("talking", "reflecting, tuning and gating", "asking", "done")


@dataclass(frozen=True)
class DemoConfig:
    days: int = 5
    seed: int = 11  # persona world seed (evaluation seeds only)
    steps: int = 120  # the demo night's tuning steps (the product default is larger)
    batch_size: int = 8
    reply_tokens: int = 32  # the model's replies while the user talks
    keep: Path | None = None  # keep the data directory here instead of a temporary one


@dataclass
class DayRow:
    day: int
    acquisition: float | None
    retention: float | None
    abstention: float | None
    general_bpb: float | None
    general_bpb_base: float | None
    status: str
    reason: str = ""
    facts: int = 0
    minutes: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class DemoResult:
    days: list[DayRow] = field(default_factory=list)
    data_dir: str = ""
    report: str = ""
    minutes: float = 0.0

    def to_json(self) -> dict[str, Any]:
        promoted = [d for d in self.days if d.status == "promoted"]

        def mean(xs: list[float | None]) -> float | None:
            vals = [x for x in xs if x is not None]
            return sum(vals) / len(vals) if vals else None

        return {
            "days": [d.to_json() for d in self.days],
            "summary": {
                "nights": len(self.days),
                "promoted": len(promoted),
                "acquisition": mean([d.acquisition for d in self.days]),
                "retention_last": self.days[-1].retention if self.days else None,
                "abstention": mean([d.abstention for d in self.days]),
                "minutes": round(self.minutes, 1),
                "report": self.report,
                "data_dir": self.data_dir,
            },
        }


def _rate(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


class Demo:
    def __init__(self, cfg: DemoConfig, on_event: Callable[[str, dict[str, Any]], None]) -> None:
        self.cfg = cfg
        self.emit = on_event
        self.world = simulate_world(cfg.seed, DEMO_WORLD, days=cfg.days)

    def prepare(self, home: Path) -> None:
        init_data_dir(home)
        cfg = load_config(home / "config.toml")
        tuner = dataclasses.replace(
            cfg.tuner,
            steps=self.cfg.steps,
            batch_size=self.cfg.batch_size,
            eval_every=40,
            checkpoint_every=40,
        )
        write_config(home / "config.toml", dataclasses.replace(cfg, tuner=tuner), overwrite=True)

    def chat(self, client: httpx.Client, messages: list[dict[str, str]], conversation: str | None) -> str:
        headers = {"X-Sleepd-Conversation": conversation} if conversation else {}
        body = {
            "model": "sleepd",
            "messages": messages,
            "max_tokens": self.cfg.reply_tokens,
            "temperature": 0,
        }
        r = client.post("/v1/chat/completions", json=body, headers=headers)
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]

    def talk(self, client: httpx.Client, day: int) -> int:
        """The day's conversations: the user's turns as written, the model's own replies."""
        turns = 0
        for conv in self.world.days[day - 1].conversations:
            history: list[dict[str, str]] = []
            for m in conv.messages:
                if m.role != "user":
                    continue
                history.append({"role": "user", "content": m.content})
                history.append({"role": "assistant", "content": self.chat(client, history, conv.id)})
                turns += 1
        return turns

    def ask(self, client: httpx.Client, day: int) -> dict[str, float | None]:
        """The morning after: every question in a fresh conversation with no context."""
        hits: dict[str, list[bool]] = {"acquisition": [], "update": [], "retention": [], "abstention": []}
        for q in self.world.days[day - 1].questions:
            if q.kind not in hits or q.template_split != HELDOUT:
                continue
            reply = self.chat(client, [{"role": "user", "content": q.question}], None)
            ok = is_abstention(reply) if q.abstain else score_answer(reply, q.answer, q.wrong_answers)
            hits["retention" if q.kind == "retention" else q.kind].append(ok)
        acquired = hits["acquisition"] + hits["update"]
        return {
            "acquisition": _rate(acquired),
            "retention": _rate(hits["retention"]),
            "abstention": _rate(hits["abstention"]),
        }

    def run(self, home: Path) -> DemoResult:
        t0 = time.monotonic()
        result = DemoResult(data_dir=str(home))
        self.emit("setup", {"data_dir": str(home)})
        self.prepare(home)
        with ServerProcess(home).start() as srv:
            client = httpx.Client(base_url=srv.url, headers=srv.headers, timeout=httpx.Timeout(900.0))
            with client:
                for day in range(1, self.cfg.days + 1):
                    start = time.monotonic()
                    facts = sum(1 for e in self.world.days[day - 1].events)
                    self.emit("phase", {"day": day, "phase": "talking", "facts": facts})
                    self.talk(client, day)
                    self.emit("phase", {"day": day, "phase": "reflecting, tuning and gating"})
                    r = client.post("/v1/sleep", json={"wait": True})
                    r.raise_for_status()
                    night = r.json()
                    self.emit("phase", {"day": day, "phase": "asking"})
                    scores = self.ask(client, day)
                    gates = night.get("gates") or {}
                    general = gates.get("general") or {}
                    with open_data_dir(home) as dd:
                        gen = night.get("generation_id")
                        ev = dd.generations.read_eval(gen) if gen is not None else None
                        with dd.db.read() as s:
                            said = (cycles.get_cycle(s, night["cycle_id"]).result or {}).get("verdict", "")
                    meas = (ev or {}).get("measurements", {})
                    row = DayRow(
                        day=day,
                        acquisition=scores["acquisition"],
                        retention=scores["retention"],
                        abstention=scores["abstention"],
                        general_bpb=general.get("value"),
                        general_bpb_base=meas.get("general_bpb_base"),
                        status=night["status"],
                        reason="" if night["status"] == "promoted" else said,
                        facts=facts,
                        minutes=round((time.monotonic() - start) / 60, 2),
                    )
                    result.days.append(row)
                    self.emit("day", row.to_json())
        with open_data_dir(home) as dd:
            result.report = str(write_history(dd))
        result.minutes = (time.monotonic() - t0) / 60
        return result


def run_demo(
    cfg: DemoConfig, on_event: Callable[[str, dict[str, Any]], None] = lambda *_: None
) -> DemoResult:
    """The demo (see the module docstring); everything it creates is removed unless `cfg.keep` is set."""
    demo = Demo(cfg, on_event)
    if cfg.keep is not None:
        home = Path(cfg.keep) / "home"
        if home.exists():
            raise FileExistsError(f"{home} exists: give --keep an empty or new directory")
        Path(cfg.keep).mkdir(parents=True, exist_ok=True)
        return demo.run(home)
    tmp = Path(tempfile.mkdtemp(prefix="sleepd-demo-"))
    try:
        return demo.run(tmp / "home")
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(tmp)
