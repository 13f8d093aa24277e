"""`mvflow engine serve` (a development tool for tests and offline use): an ACE-Step-compatible HTTP server.

It behaves as shared/acestep-api.md describes, so a client tested against it meets the
real server's shapes and traps: the envelope, integer statuses, `result` as a JSON string,
relative `/v1/audio` URLs, the parameter aliases, 401 rules (body `ai_token` first, then
the header; `/v1/audio` and `/v1/stats` header only; `/health`, `/v1/models` and chat
completions open), a bounded queue answering 429, `/v1/audio` confined to its folder (403).
Upstream's defects are kept by default and each has a switch (devserver.behaviour): broken
multipart/urlencoded submits, ignored seeds, failures without error text in the disk cache,
results that outlive a restart, the LM's length replacing the request's in simple mode.
`upstream="latest"` serves the later releases' API instead (devserver.newer).

The LM is a small rule-based stand-in (devserver.lm) for format/description/sample modes
and analysis-only jobs; `thinking` is accepted and changes nothing. Its routes are upstream's:
/format_input, and with `upstream="latest"` /v1/create_sample (the LM writes caption, lyrics
and metas from a description; f30aee4 has no such route, so a client falls back to an
analysis-only job there). Switched off (`lm=False`, a server started without its LM), every
request that needs the LM fails as upstream's does without one: the LM routes answer 503,
jobs fail with status 2, and the later releases' /health says `llm_initialized: false`.

With faults enabled (`--faults`), `POST /_faults` changes the FaultPlan at runtime and
`GET /_uploads` lists the temporary files uploads left behind.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import queue
import random
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import ValidationError

from mvflow.errors import ChatRequestError, UnparsableBody, validation_line
from mvflow.models import Song, SongRequest
from mvflow.song.devserver import chat as acestep_chat
from mvflow.song.devserver import lm as acestep_lm
from mvflow.song.devserver import results
from mvflow.song.devserver.behaviour import LM_MISSING_FORMAT, Behaviour
from mvflow.song.devserver.jobs import FaultPlan, Faults, Generator, Job, JobStore, SongMaker, Worker
from mvflow.song.devserver.newer import LoraState, register_newer_routes
from mvflow.song.devserver.params import LM_BACKENDS, as_object, parse_release_params, to_float, to_int
from mvflow.song.devserver.plan import LM_MODEL, PRIMARY_MODEL

UPLOAD_FIELDS = {"src_audio": "src_audio", "ctx_audio": "src_audio", "reference_audio": "reference_audio",
                 "ref_audio": "reference_audio"}
AUDIO_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
               ".opus": "audio/ogg", ".aac": "audio/aac"}
GATEWAY_504 = ("<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
               "<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n")
UNSUPPORTED = ("Unsupported Content-Type: {}; use application/json, application/x-www-form-urlencoded, "
               "or multipart/form-data")


def default_audio_dir() -> Path:
    return Path(tempfile.gettempdir()) / "mvflow-acestep" / "api_audio"


def local_engine(request: SongRequest, out_dir: Path) -> Song:
    """The built-in engine, imported when the first job runs (it pulls in espeak-ng)."""
    from mvflow.song.builtin.engine import generate_local_song

    return generate_local_song(request, out_dir)


def default_results_dir(audio_dir: Path) -> Path:
    """The disk cache of results beside the audio folder (upstream: .cache/acestep/local_redis)."""
    return Path(audio_dir).parent / f"{Path(audio_dir).name}-results"


@dataclass
class ServerConfig:
    api_key: str | None = None
    audio_dir: Path = field(default_factory=default_audio_dir)
    queue_maxsize: int = 200
    faults: FaultPlan | None = None
    admin: bool = False
    generation_timeout: float = 600.0
    generator: Generator | None = None
    examples_dir: Path | None = None
    behaviour: Behaviour = field(default_factory=Behaviour)
    results_dir: Path | None = None  # the disk cache; None: beside the audio folder


def envelope(data: Any, code: int = 200, error: str | None = None) -> dict:
    return {"data": data, "code": code, "error": error, "timestamp": int(time.time() * 1000), "extra": None}


def plain_500() -> PlainTextResponse:
    """What an unhandled exception looks like upstream: text/plain, not JSON."""
    return PlainTextResponse("Internal Server Error", status_code=500)


def queue_full() -> JSONResponse:
    return JSONResponse({"detail": "Server busy: queue is full"}, status_code=429)


class Auth:
    """The key rules of §3.3. The key is compared in constant time and never logged."""

    def __init__(self, key: str | None, body_token: bool = True) -> None:
        self.key = key or None
        self.body_token = body_token

    def _matches(self, token: str) -> bool:
        return hmac.compare_digest(token.encode(), self.key.encode()) if self.key else True

    @staticmethod
    def _header_token(request: Request) -> str | None:
        value = request.headers.get("authorization")
        if value is None:
            return None
        return value[7:] if value[:7].lower() == "bearer " else value

    def header_only(self, request: Request) -> None:
        if not self.key:
            return
        token = self._header_token(request)
        if token is None:
            raise HTTPException(401, "Missing Authorization header")
        if not self._matches(token):
            raise HTTPException(401, "Invalid API key")

    def body_or_header(self, body: dict, request: Request) -> None:
        """A body `ai_token` is checked first and decides; otherwise the header (later releases: the
        header only)."""
        if not self.key:
            return
        if not self.body_token:
            self.header_only(request)
            return
        token = body.get("ai_token")
        if token not in (None, ""):
            if not self._matches(str(token)):
                raise HTTPException(401, "Invalid ai_token")
            return
        header = self._header_token(request)
        if header is None:
            raise HTTPException(401, "Missing ai_token or Authorization header")
        if not self._matches(header):
            raise HTTPException(401, "Invalid API key")


class TransportFaults:
    """ASGI middleware for the faults below the routes, on every route but /_faults:
    slow_requests (answer only after slow_seconds), drop_connections (start an answer,
    then cut the connection) and, on /v1/chat/completions, proxy_504 (a gateway's HTML 504,
    as the proxy in front of a hosted server answers: nothing reaches the server)."""

    def __init__(self, app: Any, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] == "/_faults":
            await self.app(scope, receive, send)
            return
        if self.faults.take("slow_requests"):
            await asyncio.sleep(float(self.faults.value("slow_seconds")))
        if scope["path"] == "/v1/chat/completions" and self.faults.take("proxy_504"):
            await PlainTextResponse(GATEWAY_504, status_code=504, media_type="text/html")(scope, receive, send)
            return
        if self.faults.take("drop_connections"):
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})
            await send({"type": "http.response.body", "body": b'{"data":', "more_body": True})
            raise ConnectionAbortedError("injected fault: connection dropped")
        await self.app(scope, receive, send)


class AceStepService:
    """State shared by the routes: job store, worker, faults, folders."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.behaviour = config.behaviour
        self.auth = Auth(config.api_key, body_token=config.behaviour.body_token_authenticates)
        self.faults = Faults(config.faults)
        self.audio_dir = Path(config.audio_dir).resolve()
        self.audio_dir.mkdir(parents=True, exist_ok=True)
        self._scratch = tempfile.TemporaryDirectory(prefix="mvflow-acestep-")
        self.work_dir = Path(self._scratch.name)
        self.store = JobStore(config.queue_maxsize)
        self.cache = (results.ResultCache(config.results_dir or default_results_dir(self.audio_dir))
                      if self.behaviour.diskcache else None)
        self.lora = LoraState()
        maker = SongMaker(config.generator or local_engine, self.audio_dir, self.work_dir, self.faults, self.store,
                          self.behaviour, self.cache, self.lora.active)
        self.worker = Worker(self.store, maker)

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        """Stop like a killed process: the running job ends where it is, nothing more is written."""
        self.store.forget_unfinished()
        self.worker.stop()
        self._scratch.cleanup()

    def health(self) -> dict:
        """/health: status, service and version; later releases add the models and the LM."""
        data = {"status": "ok", "service": "ACE-Step API", "version": "1.0"}
        if self.behaviour.newer_api:
            data.update({"models_initialized": True, "llm_initialized": self.behaviour.lm,
                         "loaded_model": PRIMARY_MODEL, "loaded_lm_model": LM_MODEL if self.behaviour.lm else None,
                         "gpus": [], "gpu_mapping": {}, "device_map": {}})
        return data

    def submit_fault(self) -> Response | None:
        """The injected answers of a submit (500, then 429), when a fault is armed."""
        if self.faults.take("fail_submit_500"):
            return plain_500()
        if self.faults.take("fail_submit_429"):
            return queue_full()
        return None

    def enqueue(self, job: Job) -> int | None:
        """Queue a job; None when the queue is full."""
        try:
            return self.store.add(job)
        except queue.Full:
            for upload in job.uploads.values():
                upload.unlink(missing_ok=True)
            return None

    def leaked_uploads(self) -> list[str]:
        """Temporary upload files no job owns (what a failed upload leaves on the server)."""
        owned = {p.name for p in self.store.upload_paths()}
        folder = self.work_dir / "uploads"
        return sorted(p.name for p in folder.glob("*") if p.name not in owned) if folder.is_dir() else []

    def save_upload(self, data: bytes, suffix: str) -> Path:
        folder = self.work_dir / "uploads"
        folder.mkdir(exist_ok=True)
        path = folder / f"{uuid.uuid4()}{suffix if suffix.startswith('.') else '.' + suffix}"
        path.write_bytes(data)
        return path

    def server_path(self, value: str | None) -> Path | None:
        """A `*_path` parameter: only files inside the audio folder are allowed (as newer servers do)."""
        if not value:
            return None
        path = Path(value).resolve()
        if not path.is_relative_to(self.audio_dir) or not path.is_file():
            raise HTTPException(400, f"audio path not allowed: {value} (upload the file, or use a file "
                                     "this server generated)")
        return path

    def query_item(self, task_id: str) -> dict:
        """The disk cache's record first (it outlives restarts), else the in-memory store, else unknown."""
        with_error = not self.faults.value("fail_without_error")
        cached = self.cache.get(task_id) if self.cache is not None else None
        if cached is not None:
            return results.query_item(task_id, cached if with_error else results.without_error(cached),
                                      self.store.last_log)
        job = self.store.get(task_id)
        if job is None:
            return {"task_id": task_id, "result": "[]", "status": 0}
        return {"task_id": task_id, "status": job.status,
                "result": json.dumps(job.store_entries(with_error), ensure_ascii=False),
                "progress_text": self.store.last_log}

    def examples(self, sample_type: str) -> list[Path]:
        folder = self.config.examples_dir or Path(str(resources.files("mvflow.templates").joinpath("acestep_examples")))
        simple = sample_type in ("", "simple_mode")
        found = []
        for path in sorted(Path(folder).glob("*.json")):
            data = json.loads(path.read_text(encoding="utf-8"))
            if ("description" in data) == simple:
                found.append(path)
        return found


FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


def is_form_body(request: Request) -> bool:
    """A multipart or urlencoded body (or key=value text without a Content-Type): what f30aee4 cannot take."""
    return request.headers.get("content-type", "").lower().startswith(FORM_TYPES)


async def read_body(request: Request) -> tuple[dict, dict[str, tuple[bytes, str]]]:
    """The body of a body-reading route as a dict (JSON, multipart or urlencoded) plus uploaded files."""
    ctype = request.headers.get("content-type", "").lower()
    if "json" in ctype:
        return _json_object(await request.body(), strict=True), {}
    if ctype.startswith(FORM_TYPES):
        form = await request.form()
        fields: dict[str, Any] = {}
        files: dict[str, tuple[bytes, str]] = {}
        for name, value in form.multi_items():
            if isinstance(value, str):
                fields[name] = value
            elif name in UPLOAD_FIELDS:
                files[UPLOAD_FIELDS[name]] = (await value.read(), Path(value.filename or "a.mp3").suffix or ".mp3")
        return fields, files
    raw = await request.body()
    if raw.lstrip()[:1] in (b"{", b"["):
        return _json_object(raw, strict=False), {}
    if b"=" in raw:
        return dict(parse_qsl(raw.decode(errors="replace"))), {}
    raise HTTPException(415, UNSUPPORTED.format(ctype or "(missing)"))


def _json_object(raw: bytes, strict: bool) -> dict:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        if strict:
            raise UnparsableBody() from None
        raise HTTPException(400, "Invalid JSON body (hint: set 'Content-Type: application/json')") from None
    if not isinstance(value, dict):
        raise HTTPException(400, "JSON payload must be an object")
    return value


def create_app(config: ServerConfig) -> FastAPI:
    """The FastAPI app; the worker thread starts and stops with the app's lifespan."""
    service = AceStepService(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(title="ACE-Step API (mvflow built-in engine)", lifespan=lifespan)
    app.state.service = service

    @app.exception_handler(UnparsableBody)
    async def _unparsable(_request: Request, _exc: UnparsableBody) -> Response:
        return plain_500()

    _native_routes(app, service)
    _helper_routes(app, service)
    _chat_route(app, service)
    if service.behaviour.newer_api:
        register_newer_routes(app, envelope, service.auth.header_only, service.lora, service.behaviour.lm)
    if config.admin:
        _admin_routes(app, service)
    app.add_middleware(TransportFaults, faults=service.faults)
    return app


def _native_routes(app: FastAPI, service: AceStepService) -> None:
    @app.get("/health")
    async def health() -> dict:
        return envelope(service.health())

    @app.post("/release_task")
    async def release_task(request: Request) -> Any:
        body, files = await read_body(request)
        service.auth.body_or_header(body, request)
        if (injected := service.submit_fault()) is not None:
            return injected
        if not service.behaviour.uploads_work and await sent_as_form(request):
            # f30aee4 saves the uploads, then its request builder raises TypeError (reference_audio_path
            # given twice, api_server.py:2178+2245): a plain 500, and the saved files are never removed.
            for data, suffix in files.values():
                service.save_upload(data, suffix)
            return plain_500()
        params = parse_release_params(body)
        if params["lm_backend"] not in LM_BACKENDS:
            return plain_500()
        uploads = _uploads(service, params, files)
        task_id = str(uuid.uuid4())
        if service.faults.take("forget_submits"):
            return envelope({"task_id": task_id, "status": "queued", "queue_position": 1})
        position = service.enqueue(Job(task_id=task_id, params=params, uploads=uploads))
        if position is None:
            return queue_full()
        return envelope({"task_id": task_id, "status": "queued", "queue_position": position})

    @app.post("/query_result")
    async def query_result(request: Request) -> Any:
        body, _ = await read_body(request)
        service.auth.body_or_header(body, request)
        if service.faults.take("fail_query_500"):
            return plain_500()
        ids = body.get("task_id_list")
        if isinstance(ids, str):
            try:
                ids = json.loads(ids)
            except ValueError:
                ids = [ids]
        ids = ids if isinstance(ids, list) else []
        return envelope([service.query_item(str(task_id)) for task_id in ids])

    @app.get("/v1/audio")
    async def audio(request: Request, path: str = Query(...)) -> Response:
        service.auth.header_only(request)
        if service.faults.take("fail_download_500"):
            return plain_500()
        file = Path(path).resolve()
        if not file.is_relative_to(service.audio_dir):
            raise HTTPException(403, "Access denied: path outside allowed directory")
        if not file.is_file():
            raise HTTPException(404, "Audio file not found")
        media_type = AUDIO_TYPES.get(file.suffix.lower(), "audio/mpeg")
        if service.faults.take("trickle_downloads"):
            return StreamingResponse(_trickle(file), media_type=media_type,
                                     headers={"content-length": str(file.stat().st_size)})
        return FileResponse(file, media_type=media_type)

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{
            "id": f"acestep/{PRIMARY_MODEL}", "name": f"ACE-Step {PRIMARY_MODEL}", "created": int(time.time()),
            "input_modalities": ["text", "audio"], "output_modalities": ["audio", "text"], "context_length": 4096,
            "max_output_length": 300, "pricing": {"prompt": "0", "completion": "0", "request": "0", "image": "0"},
            "description": "mvflow built-in engine behind the ACE-Step API", "architecture": None}]}

    @app.get("/v1/stats")
    async def stats(request: Request) -> dict:
        service.auth.header_only(request)
        return envelope(service.store.stats())


async def _trickle(file: Path, chunk: int = 1024, pause: float = 0.1) -> AsyncIterator[bytes]:
    """The trickle_downloads fault: a file sent so slowly that no single read times out."""
    data = file.read_bytes()
    for start in range(0, len(data), chunk):
        yield data[start:start + chunk]
        await asyncio.sleep(pause)


async def sent_as_form(request: Request) -> bool:
    """Multipart, urlencoded, or key=value text without a Content-Type: every body f30aee4 reads as a form."""
    if is_form_body(request):
        return True
    if "json" in request.headers.get("content-type", "").lower():
        return False
    return (await request.body()).lstrip()[:1] not in (b"{", b"[")  # read_body already cached the body


def _uploads(service: AceStepService, params: dict, files: dict[str, tuple[bytes, str]]) -> dict[str, Path]:
    """Uploaded parts win over `*_path` fields; paths must point into the audio folder."""
    uploads = {name: service.save_upload(data, suffix) for name, (data, suffix) in files.items()}
    for name, key in (("src_audio", "src_audio_path"), ("reference_audio", "reference_audio_path")):
        if name not in uploads and (path := service.server_path(params[key])) is not None:
            copy = service.save_upload(path.read_bytes(), path.suffix)  # the job deletes its inputs
            uploads[name] = copy
    return uploads


async def _lm_request(service: AceStepService, request: Request) -> dict:
    """The body of a request to an LM route, after auth; 503 as upstream's when the LM is not loaded."""
    body, _ = await read_body(request)
    service.auth.body_or_header(body, request)
    if not service.behaviour.lm:
        raise HTTPException(503, LM_MISSING_FORMAT)
    return body


def _helper_routes(app: FastAPI, service: AceStepService) -> None:
    @app.post("/format_input")
    async def format_input(request: Request) -> dict:
        body = await _lm_request(service, request)
        extra = as_object(body.get("param_obj"))
        metas = {"bpm": to_int(extra.get("bpm"), None), "key_scale": extra.get("key_scale") or extra.get("key"),
                 "time_signature": extra.get("time_signature"), "duration": to_float(extra.get("duration"), None),
                 "language": extra.get("language")}
        return envelope(acestep_lm.format_song(str(body.get("prompt") or ""), str(body.get("lyrics") or ""), metas))

    if service.behaviour.newer_api:
        _create_sample_route(app, service)

    @app.post("/create_random_sample")
    async def create_random_sample(request: Request) -> dict:
        body, _ = await read_body(request)
        service.auth.body_or_header(body, request)
        choices = service.examples(str(body.get("sample_type") or "simple_mode"))
        if not choices:
            return envelope(None, 500, "No example data available")
        return envelope(json.loads(random.choice(choices).read_text(encoding="utf-8")))


def _create_sample_route(app: FastAPI, service: AceStepService) -> None:
    """Newer upstream's POST /v1/create_sample: the LM writes caption, lyrics and metas from `query`."""

    @app.post("/v1/create_sample")
    async def create_sample(request: Request) -> dict:
        body = await _lm_request(service, request)
        query = str(body.get("query") or "")
        if str(body.get("instrumental", "")).lower() in ("true", "1", "yes"):
            query = f"{query}, instrumental"
        language = str(body.get("vocal_language") or "unknown")
        written = acestep_lm.sample_song(query, random.randrange(2**32), "en" if language == "unknown" else language)
        return envelope({"caption": written["caption"], "lyrics": written["lyrics"], "bpm": written["bpm"],
                         "keyscale": written["key_scale"], "duration": written["duration"],
                         "timesignature": written["time_signature"], "vocal_language": written["vocal_language"]})


def _chat_route(app: FastAPI, service: AceStepService) -> None:
    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Any:
        try:
            body = await request.json()
            raw, audio = acestep_chat.chat_params(body)
        except ValueError as exc:  # bad JSON or ChatRequestError
            detail = str(exc) if isinstance(exc, ChatRequestError) else f"Invalid request format: {exc}"
            raise HTTPException(400, detail) from None
        if (injected := service.submit_fault()) is not None:
            return injected
        params = parse_release_params(raw)
        job = Job(task_id=str(uuid.uuid4()), params=params, uploads=_chat_uploads(service, params, audio))
        if service.enqueue(job) is None:
            return queue_full()
        model = str(body["model"])
        if body.get("stream"):
            return StreamingResponse(_stream(service, job, model), media_type="text/event-stream")
        finished = await asyncio.to_thread(job.done.wait, service.config.generation_timeout)
        if not finished:
            raise HTTPException(504, "Generation timeout")
        if job.status != 1:
            raise HTTPException(500, job.traceback or job.error or "generation failed")
        return acestep_chat.completion(model, _content(job), _audio(job))


def _chat_uploads(service: AceStepService, params: dict, audio: list[tuple[bytes, str]]) -> dict[str, Path]:
    """For edit tasks audio[0] is the source and audio[1] the reference; otherwise audio[0] is the reference."""
    names = ("src_audio", "reference_audio") if params["task_type"] in acestep_chat.EDIT_TASKS else ("reference_audio",)
    return {name: service.save_upload(data, fmt) for name, (data, fmt) in zip(names, audio)}


def _content(job: Job) -> str:
    return acestep_chat.metadata_markdown(job.plan, job.plan.lyrics.strip().lower() in ("", "[inst]",
                                                                                      "[instrumental]"))


def _audio(job: Job) -> list[dict] | None:
    if not job.audio_paths:
        return None
    return [acestep_chat.audio_item(job.audio_paths[0].read_bytes(), job.plan.audio_format)]


async def _stream(service: AceStepService, job: Job, model: str) -> AsyncIterator[str]:
    """§10.3: role chunk, heartbeats every 2 s, metadata, audio, finish, [DONE]."""
    chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    yield acestep_chat.chunk(chunk_id, model, {"role": "assistant", "content": "Generating music"})
    waited = 0.0
    while not await asyncio.to_thread(job.done.wait, 2.0):
        waited += 2.0
        if waited >= service.config.generation_timeout:
            break
        yield acestep_chat.chunk(chunk_id, model, {"content": "."})
    if job.status == 1:
        yield acestep_chat.chunk(chunk_id, model, {"content": "\n\n" + _content(job)})
        yield acestep_chat.chunk(chunk_id, model, {"audio": _audio(job)})
        yield acestep_chat.chunk(chunk_id, model, {}, "stop")
    else:
        yield acestep_chat.chunk(chunk_id, model, {"content": f"\n\nError: {job.traceback or 'Generation timeout'}"})
        yield acestep_chat.chunk(chunk_id, model, {}, "error")
    yield "data: [DONE]\n\n"


def _admin_routes(app: FastAPI, service: AceStepService) -> None:
    @app.get("/_faults")
    async def get_faults(request: Request) -> dict:
        service.auth.header_only(request)
        return service.faults.snapshot().model_dump()

    @app.get("/_uploads")
    async def leaked_uploads(request: Request) -> dict:
        """The temporary files uploads left behind (f30aee4 never removes those of a failed submit)."""
        service.auth.header_only(request)
        return {"leaked": service.leaked_uploads()}

    @app.post("/_faults")
    async def set_faults(request: Request) -> dict:
        """Change the FaultPlan (partial JSON); `{"forget_now": true}` forgets unfinished jobs."""
        service.auth.header_only(request)
        changes = await request.json()
        forgotten = service.store.forget_unfinished() if changes.pop("forget_now", False) else 0
        try:
            plan = service.faults.update(changes)
        except ValidationError as exc:
            raise HTTPException(400, validation_line(exc, "{message}")) from None
        return {**plan.model_dump(), "forgotten": forgotten}


# ---- running it ---------------------------------------------------------------------------------

def _uvicorn_server(config: ServerConfig, log_level: str, host: str = "127.0.0.1", port: int = 8001) -> Any:
    import uvicorn

    return uvicorn.Server(uvicorn.Config(create_app(config), host=host, port=port, log_level=log_level,
                                         lifespan="on", timeout_graceful_shutdown=2))


def serve(host: str = "127.0.0.1", port: int = 8001, config: ServerConfig | None = None) -> None:
    """Run the server in the foreground until interrupted."""
    _uvicorn_server(config or ServerConfig(), "info", host, port).run()


def free_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready socket on `port` (0: a free one), bound now so no other process can take it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def start_in_thread(api_key: str | None = None, audio_dir: Path | None = None, queue_maxsize: int = 200,
                    faults: FaultPlan | None = None, admin: bool = True, generator: Generator | None = None,
                    examples_dir: Path | None = None, generation_timeout: float = 600.0, port: int = 0,
                    behaviour: Behaviour | None = None) -> tuple[str, Callable[[], None]]:
    """Start a server on 127.0.0.1 in a background thread: (base_url, stop).

    `port` 0 picks a free port; a given port with the same `audio_dir` restarts "the same server":
    like upstream it forgets its queued jobs, and with the disk cache remembers the rest.
    """
    config = ServerConfig(api_key=api_key, audio_dir=audio_dir or default_audio_dir(), queue_maxsize=queue_maxsize,
                          faults=faults, admin=admin, generator=generator, examples_dir=examples_dir,
                          generation_timeout=generation_timeout, behaviour=behaviour or Behaviour())
    server = _uvicorn_server(config, "warning")
    sock = free_socket(port=port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="acestep-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the built-in ACE-Step server did not start")
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(15)
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}", stop
