"""`sleepd chat`: a terminal chat with the current generation, logged like any other conversation.

Mount with `register(app)`. When a daemon serves this data directory, the chat goes through its API, which
logs the turns and uses the generation it serves. Otherwise (or with `--local`) the model is loaded in
this process, and the turns are written to the database directly. Both log with source "chat" and keep
only new messages (daemon/chatlog.py).

One line of input is one user turn. An empty line is ignored; `/exit` (or end of input) ends the chat.
`--conversation ID` continues a logged conversation, with its history as context. Replies stream to
stdout. The conversation id goes to stderr, so it can be continued later; with `--json`, each turn prints
one JSON line: {"conversation_id", "reply", "reply_id", "generation"}.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TextIO

import typer

from daemon import chatlog
from daemon.cli.common import DataDirOpt, Failure, JsonOpt, resolve
from daemon.init import DataDir, open_data_dir, read_token
from daemon.locks import DaemonInfo, running_daemon
from memory import log as memlog
from memory.errors import InputError, NotFound
from memory.generations import current_generation_id

EXIT_COMMANDS = ("/exit", "/quit")


LocalOpt = Annotated[bool, typer.Option("--local", help="Load the model here even when a daemon runs.")]


@dataclass(frozen=True)
class Turn:
    reply: str
    reply_id: str
    generation: int | None


@dataclass(frozen=True)
class Sampling:
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None


class Backend(Protocol):
    def reply(
        self, messages: list[dict[str, str]], conversation_id: str, on_delta: Callable[[str], None]
    ) -> Turn: ...

    def close(self) -> None: ...


class LocalBackend:
    """The model in this process; writes go straight to the database (no daemon holds it)."""

    def __init__(self, dd: DataDir, sampling: Sampling) -> None:
        from daemon.inference import ModelServer

        self.dd = dd
        self.sampling = sampling
        self.model = ModelServer.load(dd.config.model, dd.generations, actor="cli:chat")

    def reply(
        self, messages: list[dict[str, str]], conversation_id: str, on_delta: Callable[[str], None]
    ) -> Turn:
        from daemon.inference import ReplyStreamer, sampling_config

        with self.dd.db.read() as s:
            if current_generation_id(s) != self.model.served.current_id:
                self.model.reload()  # promoted or rolled back since the last turn
        cfg = self.dd.config.server
        s_cfg = sampling_config(
            max_tokens=min(self.sampling.max_tokens or cfg.max_tokens, cfg.max_tokens),
            temperature=cfg.default_temperature
            if self.sampling.temperature is None
            else self.sampling.temperature,
            top_p=cfg.default_top_p if self.sampling.top_p is None else self.sampling.top_p,
        )
        chat_msgs = [chatlog.ChatMessage(m["role"], m["content"]) for m in messages]
        prompt = self.model.prompt_ids(messages, max_tokens=cfg.max_prompt_tokens)
        with self.dd.db.write() as s:
            chatlog.log_request(s, conversation_id, chat_msgs, source="chat")
        served = self.model.served
        streamer = ReplyStreamer()
        for delta in self.model.generation(prompt, s_cfg, served):
            out = streamer.feed(delta)
            if out:
                on_delta(out)
        tail = streamer.finish()
        if tail:
            on_delta(tail)
        reply_id = f"chatcmpl-{uuid.uuid4().hex}"
        with self.dd.db.write() as s:
            chatlog.log_reply(s, conversation_id, streamer.reply, reply_id, source="chat")
        return Turn(streamer.reply, reply_id, served.generation_id)

    def close(self) -> None:
        pass


class HttpBackend:
    """The running daemon's /v1/chat/completions, streamed."""

    def __init__(self, info: DaemonInfo, token: str, sampling: Sampling) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=info.url, headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(600.0)
        )
        self.sampling = sampling

    def reply(
        self, messages: list[dict[str, str]], conversation_id: str, on_delta: Callable[[str], None]
    ) -> Turn:
        body: dict[str, Any] = {"model": "sleepd", "messages": messages, "stream": True}
        for key in ("max_tokens", "temperature", "top_p"):
            value = getattr(self.sampling, key)
            if value is not None:
                body[key] = value
        headers = {"X-Sleepd-Conversation": conversation_id, "X-Sleepd-Source": "chat"}
        text: list[str] = []
        info: dict[str, Any] = {}
        with self.client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as resp:
            if resp.status_code != 200:
                resp.read()
                raise Failure(f"the daemon answered {resp.status_code}: {_error_message(resp.text)}")
            for data in _sse_data(resp.iter_lines()):
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    raise Failure(f"the daemon reported: {_error_message(json.dumps(event))}")
                for choice in event.get("choices", []):
                    delta = choice.get("delta", {}).get("content")
                    if delta:
                        text.append(delta)
                        on_delta(delta)
                info = event.get("sleepd", info)
        return Turn("".join(text), info.get("reply_id", ""), info.get("generation"))

    def close(self) -> None:
        self.client.close()


def _sse_data(lines: Iterable[str]) -> Iterator[str]:
    for line in lines:
        if line.startswith("data:"):
            yield line[5:].strip()


def _error_message(text: str) -> str:
    try:
        return str(json.loads(text)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return text.strip()[:200]


def load_history(dd: DataDir, conversation_id: str) -> list[dict[str, str]]:
    with dd.db.read() as s:
        try:
            view = memlog.get_conversation(s, conversation_id)
        except NotFound:
            raise InputError(f"no conversation {conversation_id!r} to continue") from None
        return [{"role": m.role, "content": m.content} for m in view.messages]


def chat_loop(
    backend: Backend,
    lines: Iterable[str],
    out: TextIO,
    *,
    conversation_id: str,
    history: list[dict[str, str]],
    as_json: bool = False,
    prompt: Callable[[], None] | None = None,
) -> int:
    """Run turns until `/exit` or the end of `lines`; returns the number of turns."""
    turns = 0
    for line in lines:
        text = line.rstrip("\r\n")
        if text.strip() in EXIT_COMMANDS:
            break
        if not text.strip():
            if prompt:
                prompt()
            continue
        history.append({"role": "user", "content": text})

        def show(delta: str) -> None:
            if not as_json:
                out.write(delta)
                out.flush()

        turn = backend.reply(history, conversation_id, show)
        history.append({"role": "assistant", "content": turn.reply})
        if as_json:
            record = {
                "conversation_id": conversation_id,
                "reply": turn.reply,
                "reply_id": turn.reply_id,
                "generation": turn.generation,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            out.write("\n")
        out.flush()
        turns += 1
        if prompt:
            prompt()
    return turns


def register(app: typer.Typer) -> None:
    app.command("chat")(chat_cmd)


def _stdin_lines(interactive: bool) -> Iterator[str]:
    if not interactive:
        yield from sys.stdin
        return
    while True:
        try:
            yield input()
        except EOFError:
            return


def chat_cmd(
    ctx: typer.Context,
    conversation: Annotated[
        str | None, typer.Option("--conversation", help="Continue this logged conversation.")
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="A system message to start with.")] = None,
    max_tokens: Annotated[
        int | None, typer.Option("--max-tokens", min=1, help="Longest reply in tokens.")
    ] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", min=0.0, max=2.0)] = None,
    top_p: Annotated[float | None, typer.Option("--top-p", min=0.01, max=1.0)] = None,
    local: LocalOpt = False,
    as_json: JsonOpt = False,
    data_dir: DataDirOpt = None,
) -> None:
    """Chat with the current memory generation in the terminal; every turn is logged."""
    opts = resolve(ctx, data_dir, as_json)
    sampling = Sampling(max_tokens=max_tokens, temperature=temperature, top_p=top_p)
    with open_data_dir(opts.data_dir) as dd:
        history = load_history(dd, conversation) if conversation else []
        cid = conversation or memlog.new_conversation_id()
        if system and not conversation:
            history.append({"role": "system", "content": system})
        info = None if local else running_daemon(dd.paths)
        backend: Backend
        if info is not None:
            backend = HttpBackend(info, read_token(dd.paths), sampling)
            where = f"daemon {info.url}"
        else:
            backend = LocalBackend(dd, sampling)
            where = f"local model, generation {backend.model.served.generation_id}"
        interactive = sys.stdin.isatty()
        typer.echo(f"sleepd chat ({where}); conversation {cid}; /exit to end", err=True)

        def prompt() -> None:
            sys.stderr.write("> ")
            sys.stderr.flush()

        if interactive:
            prompt()
        try:
            chat_loop(
                backend,
                _stdin_lines(interactive),
                sys.stdout,
                conversation_id=cid,
                history=history,
                as_json=opts.json,
                prompt=prompt if interactive else None,
            )
        except KeyboardInterrupt:
            sys.stderr.write("\n")
        finally:
            backend.close()
