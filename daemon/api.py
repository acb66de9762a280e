"""The HTTP API (FastAPI): OpenAI-compatible chat plus sleepd's own routes (docs/ARCHITECTURE.md).

    GET  /health                 {"status": "ok", "generation": ID}  (no token; the generation being served)
    GET  /v1/models              the served model ("sleepd"), with its base checkpoint and generation
    POST /v1/chat/completions    OpenAI-compatible, stream true/false; logged (see daemon/chatlog.py)
    POST /v1/interactions        one import-format conversation -> 201 {"conversation_id", "message_ids"}
    POST /v1/feedback            {"message_id", "rating": -1..1, "note"?, "conversation_id"?} -> 201
    GET  /v1/generations         the `sleepd gen list --json` rows
    POST /v1/sleep               start a cycle: 202 {"status": "started", ...}; {"wait": true}: 200 with the
                                 `sleepd sleep --now --json` result; 409 while one runs
    GET  /v1/sleep               the running cycle (if any), the last one, the next nightly run
    GET  /openapi.json           this API's schema

Every route but /health needs `Authorization: Bearer <token>` (the data directory's `token` file): 401
otherwise, checked before the body is read. Bodies over `[server] max_body_bytes` get 413. A body that is
not JSON, or not the expected shape, gets 422 with a message naming the field. Errors use OpenAI's shape,
`{"error": {"message", "type", "param", "code"}}`, so OpenAI clients show the message. Bad input never
causes a 5xx.

Durability: a write is acknowledged only after its transaction committed (memory.writer.Writer: one
writer thread, group commit, synchronous=FULL). A chat's reply is committed before the response, or before
the final chunk of a stream (the one carrying finish_reason), is sent.

Chat: the prompt is the request's messages in the RWKV transcript format (model.chat_format), run from the
current generation's state. The reply is cut at the transcript's stop strings (and the client's `stop`)
and normalized the way it is stored, so the streamed text, the non-streamed text and the logged reply
are the same string. `max_tokens` is capped at `[server] max_tokens`; `temperature`/`top_p` default to
`[server] default_temperature`/`default_top_p`; `seed` makes sampling reproducible; `n` must be 1.
Unknown OpenAI parameters are accepted and ignored. Inference is serialised through one worker (see
daemon/inference.py); up to `[server] max_queued_requests` chats wait, more get 429.

Conversations: the `X-Sleepd-Conversation` header, else the `user` field, names the conversation. Without
either, each request starts a new one. The id is returned in the `X-Sleepd-Conversation` response header
and in the body's `sleepd` object (with the new message ids, the reply id and the generation used).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from daemon import chatlog
from daemon.config import ServerConfig
from daemon.cycle import CycleBusy, CycleRunner
from daemon.inference import (
    SERVED_MODEL_ID,
    InferenceRun,
    InferenceWorker,
    ModelServer,
    QueueFull,
    ReplyStreamer,
    WorkerClosed,
    sampling_config,
)
from memory import cycles as memcycles
from memory import log as memlog
from memory.db import Database
from memory.errors import Conflict, InputError, NotFound
from memory.generations import generation_list_json
from memory.log import new_conversation_id
from memory.schema import Message
from memory.version import sleepd_version
from memory.writer import Writer, WriterClosed

log = logging.getLogger(__name__)
T = TypeVar("T")

CONVERSATION_HEADER = "x-sleepd-conversation"
SOURCE_HEADER = "x-sleepd-source"
OPEN_PATHS = frozenset({"/health"})
MAX_ID_LENGTH = memlog.MAX_ID_LENGTH


@dataclass
class ApiContext:
    """Everything the routes use; built by daemon.process (or a test)."""

    token: str
    config: ServerConfig
    db: Database
    writer: Writer
    model: ModelServer
    worker: InferenceWorker
    cycles: CycleRunner | None = None
    next_run: Callable[[], Any] | None = None  # -> datetime | None (the scheduler's next nightly run)
    data_dir: Path | None = None
    started_at: float = field(default_factory=time.time)


# ---- errors -----------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, message: str, type_: str, param: str | None = None, headers=None):
        super().__init__(message)
        self.status, self.message, self.type, self.param = status, message, type_, param
        self.headers = headers or {}


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(
    status: int, message: str, type_: str, param: str | None = None, headers=None
) -> JSONResponse:
    return JSONResponse(error_body(message, type_, param), status_code=status, headers=headers)


_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("body",):
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """Pydantic errors as one readable line: `messages[0].role: Input should be 'system', 'user' ..."""
    parts = []
    for err in errors[:3]:
        loc = _loc(tuple(err.get("loc", ())))
        msg = str(err.get("msg", "invalid"))
        if err.get("type") == "missing":
            msg = "missing"
        elif err.get("type") == "extra_forbidden":
            msg = "unknown field"
        parts.append(f"{loc}: {msg}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    first = _loc(tuple(errors[0].get("loc", ()))) if errors else None
    return "; ".join(parts) + more, first


# ---- the guard: token, then body size ----------------------------------------------------------------


class Guard:
    """Pure ASGI middleware: 401 without the bearer token (before reading anything), 413 over the body
    limit (by Content-Length, else while reading); the body, read once here, is replayed to the app."""

    def __init__(self, app: ASGIApp, *, token: str, max_body: int, open_paths: frozenset[str] = OPEN_PATHS):
        self.app = app
        self.expected = f"bearer {token}".encode()
        self.max_body = max_body
        self.open_paths = open_paths

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                # The scheme is case-insensitive; the token is compared in constant time.
                got = value.strip()
                if len(got) > 7 and got[:7].lower() == b"bearer ":
                    return hmac.compare_digest(b"bearer " + got[7:].strip(), self.expected)
                return False
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"] not in self.open_paths and not self._authorized(scope):
            await _send_json(
                send,
                401,
                error_body(
                    "missing or invalid bearer token (Authorization: Bearer <token>)", "authentication_error"
                ),
                extra=[(b"www-authenticate", b"Bearer")],
            )
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_body:
                    await _send_too_large(send, self.max_body)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before sending its body: nothing to answer.
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _send_too_large(send, self.max_body)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> AsgiMessage:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later calls wait for http.disconnect (streaming responses use it)

        await self.app(scope, replay, send)


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] = ()
) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


async def _send_too_large(send: Send, limit: int) -> None:
    await _send_json(
        send,
        413,
        error_body(
            f"request body is larger than {limit} bytes ([server] max_body_bytes)", "request_too_large"
        ),
        extra=[(b"connection", b"close")],
    )


# ---- request bodies ------------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _check_text(obj: Any, depth: int = 0) -> None:
    """Refuse strings that cannot be stored (lone surrogates such as "\\ud800")."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError("body: a string contains an invalid Unicode escape (lone surrogate)") from None
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_text(k, depth + 1)
            _check_text(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_text(v, depth + 1)


def parse_json_body(body: bytes, *, optional: bool = False) -> Any:
    """The request body as JSON; InputError (422) with a readable reason otherwise."""
    if not body.strip():
        if optional:
            return {}
        raise InputError("body: missing (expected a JSON object)")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"body: not valid UTF-8 (byte {e.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise InputError(f"body: invalid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    except RecursionError:
        raise InputError("body: JSON nested too deeply") from None
    except ValueError as e:  # NaN/Infinity, integers with too many digits
        raise InputError(f"body: invalid JSON ({e})") from None
    try:
        _check_text(obj)
    except RecursionError:
        raise InputError("body: JSON nested too deeply") from None
    return obj


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], obj: Any) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as e:
        message, param = validation_message(e.errors(include_url=False))
        raise ApiError(422, message, "invalid_request_error", param) from None


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    name: str | None = Field(default=None, max_length=256)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's chat request; parameters not listed here are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    model: str = Field(default=SERVED_MODEL_ID, max_length=256)
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, allow_inf_nan=False)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    n: int | None = Field(default=None, ge=1, le=1)
    user: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: str = Field(min_length=1, max_length=MAX_ID_LENGTH)
    rating: float = Field(ge=-1.0, le=1.0, allow_inf_nan=False)
    note: str | None = None
    conversation_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)


class SleepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wait: bool = False


# The import format (memory/log.py validates it; this schema documents it for clients and schemathesis).
IMPORT_FORMAT_SCHEMA: dict[str, Any] = {
    "title": "Conversation",
    "type": "object",
    "required": ["conversation_id", "messages"],
    "additionalProperties": False,
    "properties": {
        "conversation_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                    "role": {"type": "string", "enum": ["user", "assistant", "system"]},
                    "content": {"type": "string"},
                    "name": {"type": "string"},
                    "created_at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "metadata": {"type": "object"},
    },
}


def _body_doc(schema_ref: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}},
        }
    }


def _error_doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "Missing or invalid bearer token",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Malformed or invalid body",
        429: "Too many queued chat requests",
        503: "Shutting down",
    }
    return {
        c: {
            "description": text[c],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


# ---- the app -------------------------------------------------------------------------------------------


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="sleepd",
        version=sleepd_version(),
        summary="Long-term memory for an AI agent in an RWKV-7 recurrent state; OpenAI-compatible chat.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_middleware(Guard, token=ctx.token, max_body=ctx.config.max_body_bytes)
    app.state.ctx = ctx
    _install_error_handlers(app)

    async def write(fn: Callable[[Session], T]) -> T:
        fut: Future[T] = ctx.writer.submit(fn)
        return await asyncio.wrap_future(fut)

    @app.get("/health", tags=["service"], responses={200: {"description": "The served generation"}})
    async def health() -> dict[str, Any]:
        """Liveness, and the generation whose state is being served (no token needed)."""
        return {"status": "ok", "generation": ctx.model.served.generation_id}

    @app.get("/v1/models", tags=["openai"], responses=_error_doc(401))
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [_model_card(ctx)]}

    @app.get("/v1/models/{model_id}", tags=["openai"], responses=_error_doc(401, 404))
    async def get_model(model_id: str) -> dict[str, Any]:
        if model_id != SERVED_MODEL_ID:
            raise NotFound(f"no model {model_id!r} (this server serves {SERVED_MODEL_ID!r})")
        return _model_card(ctx)

    @app.post(
        "/v1/chat/completions",
        tags=["openai"],
        openapi_extra=_body_doc("ChatCompletionRequest"),
        responses={
            200: {"description": "chat.completion, or a text/event-stream of chat.completion.chunk"},
            **_error_doc(401, 409, 413, 422, 429, 503),
        },
    )
    async def chat_completions(request: Request):
        """OpenAI-compatible chat completion, logged to the interaction log."""
        req = validate(ChatCompletionRequest, parse_json_body(await request.body()))
        messages = [_chat_message(m, i) for i, m in enumerate(req.messages)]
        cid = _conversation_id(request, req)
        source = _source(request)
        cfg = ctx.config
        asked = req.max_completion_tokens or req.max_tokens or cfg.max_tokens
        stop = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
        if len(stop) > 4:
            raise ApiError(422, "stop: at most 4 stop sequences", "invalid_request_error", "stop")
        sampling = sampling_config(
            max_tokens=min(asked, cfg.max_tokens),
            temperature=cfg.default_temperature if req.temperature is None else req.temperature,
            top_p=cfg.default_top_p if req.top_p is None else req.top_p,
            stop=stop,
            seed=req.seed,
        )
        as_dicts = [{"role": m.role, "content": m.content} for m in messages]
        prompt_ids = await run_in_threadpool(ctx.model.prompt_ids, as_dicts, max_tokens=cfg.max_prompt_tokens)
        if ctx.worker.queued >= ctx.worker.max_queued:
            raise QueueFull(f"{ctx.worker.queued} chat requests are already waiting; retry later")
        logged = await write(lambda s: chatlog.log_request(s, cid, messages, source=source))
        run = ctx.worker.submit(InferenceRun(prompt_ids, sampling, asyncio.get_running_loop()))
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        headers = _conversation_headers(cid)
        if req.stream:
            include_usage = bool(req.stream_options and req.stream_options.include_usage)
            return StreamingResponse(
                _stream(ctx.model, write, run, completion_id, logged, source, include_usage),
                media_type="text/event-stream",
                headers={**headers, "cache-control": "no-cache", "x-accel-buffering": "no"},
            )
        try:
            result = await run.wait()
        finally:
            run.cancel()  # no-op when finished; stops the worker if this request was cancelled
        reply = ReplyStreamer()
        reply.feed(result.text)
        text = reply.reply
        await write(lambda s: chatlog.log_reply(s, cid, text, completion_id, source=source))
        served = run.served
        body = {
            "id": completion_id,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": SERVED_MODEL_ID,
            "system_fingerprint": _fingerprint(served.generation_id if served else None),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": result.finish_reason,
                }
            ],
            "usage": _usage(len(prompt_ids), len(result.token_ids)),
            "sleepd": _sleepd_info(logged, completion_id, served.generation_id if served else None),
        }
        return JSONResponse(body, headers=headers)

    @app.post(
        "/v1/interactions",
        tags=["sleepd"],
        status_code=201,
        openapi_extra=_body_doc("Conversation"),
        responses={201: {"description": "Logged"}, **_error_doc(401, 409, 413, 422)},
    )
    async def post_interaction(request: Request) -> JSONResponse:
        """Log a conversation that happened elsewhere (one import-format line)."""
        conv = parse_conversation(parse_json_body(await request.body()))
        cid, ids = await write(lambda s: memlog.store_conversation(s, conv, source="api"))
        return JSONResponse({"conversation_id": cid, "message_ids": ids}, status_code=201)

    @app.post(
        "/v1/feedback",
        tags=["sleepd"],
        status_code=201,
        openapi_extra=_body_doc("FeedbackRequest"),
        responses={201: {"description": "Recorded"}, **_error_doc(401, 404, 413, 422)},
    )
    async def post_feedback(request: Request) -> JSONResponse:
        """Rate a logged message (-1..1), optionally with a note."""
        req = validate(FeedbackRequest, parse_json_body(await request.body()))

        def add(s: Session) -> dict[str, Any]:
            fb = memlog.add_feedback(s, req.message_id, req.rating, req.note, req.conversation_id)
            msg = s.get(Message, fb.message_pk)
            return {
                "id": fb.id,
                "message_id": req.message_id,
                "conversation_id": msg.conversation_id if msg else req.conversation_id,
                "rating": fb.rating,
                "note": fb.note,
            }

        return JSONResponse(await write(add), status_code=201)

    @app.get("/v1/generations", tags=["sleepd"], responses=_error_doc(401))
    async def list_generations() -> list[dict[str, Any]]:
        """The memory generations, as `sleepd gen list --json` prints them."""

        def read() -> list[dict[str, Any]]:
            with ctx.db.read() as s:
                return generation_list_json(s)

        return await run_in_threadpool(read)

    @app.post(
        "/v1/sleep",
        tags=["sleepd"],
        openapi_extra=_body_doc("SleepRequest", required=False),
        responses={
            200: {"description": "The finished cycle (wait: true)"},
            202: {"description": "Started"},
            **_error_doc(401, 409, 413, 422, 503),
        },
    )
    async def post_sleep(request: Request) -> JSONResponse:
        """Start a sleep cycle now (in a niced child process); 409 while one runs."""
        req = validate(SleepRequest, parse_json_body(await request.body(), optional=True))
        if ctx.cycles is None:
            raise ApiError(503, "this server runs no sleep cycles", "service_unavailable")
        try:
            handle = ctx.cycles.start("api")
        except CycleBusy as e:
            raise ApiError(409, str(e), "conflict_error") from None
        if not req.wait:
            return JSONResponse({"status": "started", **handle.to_dict()}, status_code=202)
        await asyncio.to_thread(handle.wait)
        if handle.result is None:
            raise ApiError(503, handle.error or "the cycle did not finish", "service_unavailable")
        return JSONResponse(handle.result, status_code=200)

    @app.get("/v1/sleep", tags=["sleepd"], responses=_error_doc(401))
    async def get_sleep() -> dict[str, Any]:
        """The running cycle, the last finished one and the next nightly run."""

        def read() -> dict[str, Any] | None:
            with ctx.db.read() as s:
                last = memcycles.list_cycles(s, limit=1)
                return _cycle_row(last[0]) if last else None

        running = ctx.cycles.current if ctx.cycles else None
        nxt = ctx.next_run() if ctx.next_run else None
        return {
            "running": running.to_dict() if running else None,
            "last_cycle": await run_in_threadpool(read),
            "next_run": nxt.isoformat() if nxt else None,
        }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        comps = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ChatCompletionRequest, FeedbackRequest, SleepRequest):
            js = model.model_json_schema(ref_template="#/components/schemas/{model}")
            comps.update(js.pop("$defs", {}))
            comps[model.__name__] = js
        comps["Conversation"] = IMPORT_FORMAT_SCHEMA
        comps["Error"] = {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["message", "type"]}},
        }
        schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        schema["security"] = [{"bearer": []}]
        schema["paths"]["/health"]["get"]["security"] = []
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_req: Request, e: ApiError) -> JSONResponse:
        return error_response(e.status, e.message, e.type, e.param, e.headers)

    @app.exception_handler(NotFound)
    async def not_found(_req: Request, e: NotFound) -> JSONResponse:
        return error_response(404, str(e), "not_found_error")

    @app.exception_handler(Conflict)
    async def conflict(_req: Request, e: Conflict) -> JSONResponse:
        return error_response(409, str(e), "conflict_error")

    @app.exception_handler(InputError)
    async def input_error(_req: Request, e: InputError) -> JSONResponse:
        return error_response(422, str(e), "invalid_request_error")

    @app.exception_handler(QueueFull)
    async def queue_full(_req: Request, e: QueueFull) -> JSONResponse:
        return error_response(429, str(e), "rate_limit_error", headers={"retry-after": "1"})

    @app.exception_handler(WorkerClosed)
    @app.exception_handler(WriterClosed)
    async def closing(_req: Request, e: Exception) -> JSONResponse:
        return error_response(503, f"the server is shutting down ({e})", "service_unavailable")

    @app.exception_handler(RequestValidationError)
    async def request_validation(_req: Request, e: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(e.errors()))
        return error_response(422, message, "invalid_request_error", param)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_req: Request, e: StarletteHTTPException) -> JSONResponse:
        status = 422 if e.status_code == 400 else e.status_code
        return error_response(
            status, str(e.detail), _STATUS_TYPES.get(status, "invalid_request_error"), headers=e.headers
        )


def parse_conversation(obj: Any) -> memlog.ConversationIn:
    """memory.log's import-format validation, plus two guards on `created_at` that it lacks: a time that
    leaves the datetime range when converted to UTC (OverflowError there), and years before 1000, which the
    storage's fixed-width time text cannot hold yet (they would be written unreadable)."""
    try:
        conv = memlog.parse_conversation(obj)
    except OverflowError:
        raise InputError("messages: a created_at is out of range once converted to UTC") from None
    for i, m in enumerate(conv.messages):
        if m.created_at is not None and m.created_at.year < 1000:
            raise InputError(f"messages[{i}].created_at: the year must be 1000 or later")
    return conv


# ---- chat helpers --------------------------------------------------------------------------------------


def _chat_message(m: ChatMessageIn, index: int) -> chatlog.ChatMessage:
    if m.content is None:
        raise ApiError(
            422, f"messages[{index}].content: missing", "invalid_request_error", f"messages[{index}]"
        )
    content = m.content if isinstance(m.content, str) else "".join(p.text for p in m.content)
    role = "system" if m.role == "developer" else m.role
    return chatlog.ChatMessage(role=role, content=content, name=m.name)


def _valid_id(value: str, where: str) -> str:
    if not value.strip():
        raise ApiError(422, f"{where}: must not be empty", "invalid_request_error", where)
    if len(value) > MAX_ID_LENGTH:
        raise ApiError(
            422, f"{where}: longer than {MAX_ID_LENGTH} characters", "invalid_request_error", where
        )
    return value


def _conversation_id(request: Request, req: ChatCompletionRequest) -> str:
    header = request.headers.get(CONVERSATION_HEADER)
    if header is not None:
        return _valid_id(header, "X-Sleepd-Conversation header")
    if req.user is not None:
        return _valid_id(req.user, "user")
    return new_conversation_id()


def _source(request: Request) -> str:
    value = request.headers.get(SOURCE_HEADER, "api").strip().lower()
    if value not in ("api", "chat"):
        raise ApiError(422, "X-Sleepd-Source header: expected api or chat", "invalid_request_error")
    return value


def _conversation_headers(cid: str) -> dict[str, str]:
    # Header values must be printable ASCII; any other id is still in the body's `sleepd` object.
    if cid.isascii() and cid.isprintable():
        return {"X-Sleepd-Conversation": cid}
    return {}


def _fingerprint(generation_id: int | None) -> str | None:
    return None if generation_id is None else f"sleepd-gen-{generation_id}"


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _sleepd_info(logged: chatlog.LoggedRequest, reply_id: str, generation_id: int | None) -> dict[str, Any]:
    return {
        "conversation_id": logged.conversation_id,
        "message_ids": logged.message_ids,
        "reply_id": reply_id,
        "generation": generation_id,
    }


def _model_card(ctx: ApiContext) -> dict[str, Any]:
    return {
        "id": SERVED_MODEL_ID,
        "object": "model",
        "created": int(ctx.started_at),
        "owned_by": "sleepd",
        "base_model": ctx.model.model_id,
        "generation": ctx.model.served.generation_id,
    }


def _cycle_row(c: Any) -> dict[str, Any]:
    return {
        "cycle_id": c.id,
        "status": c.status,
        "trigger": c.trigger,
        "created_at": c.created_at.isoformat(),
        "finished_at": c.finished_at.isoformat() if c.finished_at else None,
        "generation_id": c.candidate_generation_id,
        "parent_generation_id": c.parent_generation_id,
        "report": c.report_path,
        "error": c.error,
    }


async def _stream(
    model: ModelServer,
    write: Callable[[Callable[[Session], Any]], Any],
    run: InferenceRun,
    completion_id: str,
    logged: chatlog.LoggedRequest,
    source: str,
    include_usage: bool,
) -> AsyncIterator[str]:
    created = int(time.time())
    cid = logged.conversation_id
    default_served = model.served  # until the worker picks the run up

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        served = run.served or default_served
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": SERVED_MODEL_ID,
            "system_fingerprint": _fingerprint(served.generation_id if served else None),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    streamer = ReplyStreamer()
    try:
        yield chunk({"role": "assistant", "content": ""})
        try:
            async for delta in run.deltas():
                out = streamer.feed(delta)
                if out:
                    yield chunk({"content": out})
            tail = streamer.finish()
            if tail:
                yield chunk({"content": tail})
            result = run.result
            if result is None:  # the worker finished without a result: a server error, said in the stream
                raise RuntimeError("the inference worker returned no result")
            reply = streamer.reply
            await write(lambda s: chatlog.log_reply(s, cid, reply, completion_id, source=source))
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the status line is sent already: report in the stream, without [DONE]
            log.error("chat stream %s failed: %s", completion_id, e)
            err = error_body(f"generation failed: {e}", "server_error")
            yield f"data: {json.dumps(err)}\n\n"
            return
        served = run.served
        gen_id = served.generation_id if served else None
        yield chunk({}, result.finish_reason, sleepd=_sleepd_info(logged, completion_id, gen_id))
        if include_usage:
            usage = _usage(len(run.prompt_ids), len(result.token_ids))
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": SERVED_MODEL_ID,
                "choices": [],
                "usage": usage,
            }
            yield f"data: {json.dumps(body)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        run.cancel()  # the client went away (or we are done): stop generating for nobody
