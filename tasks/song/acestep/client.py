"""HTTP client for the ACE-Step 1.5 REST API, written to shared/acestep-api.md.

One method per route. The quirks are handled here, each on purpose:
- the key travels only as `Authorization: Bearer` (never `ai_token` in a body, never in a
  URL), on every request including audio downloads; it is never logged;
- HTTP status first, then the envelope's `code`/`error` (some routes fail in-band with 200);
- a 500 may be text/plain, and a chat-completion 500 carries a whole traceback: only its
  last line reaches the message;
- `result` is a JSON *string* holding a list; `/v1/models` has two shapes;
- 401 is permanent and said in one line; 429 and 5xx stay `httpx.HTTPStatusError`, so
  `mvflow.errors.is_transient` retries them, and a submit also retries 429 itself;
- except where the answer says the failure is deterministic: an upload answered 500 (builds
  before the multipart fix) raises UploadsRejected, never retried; a chat completion whose 500
  carries a traceback failed on the server (AceStepJobFailed, or AceStepLmUnavailable when the
  LM is missing) and the server's own 504 `Generation timeout` (its job keeps running) is
  AceStepGenerationTimeout: resending either would start another GPU job for nothing. A 504
  that is not the server's own (a proxy's) stays transient.
A server is not trusted with the disk or the memory: every answer is read with a size cap
(JSON answers MAX_JSON_BYTES; audio `max_download_bytes`, a setting), a download must say
it is audio (an HTML error page is not) and decode as audio before it is renamed into
place, and a `file` URL on another host is refused (the local file name never comes from
the server, so a `../../x` path cannot escape the song's folder).
Request bodies are built elsewhere (acestep.payload) as pure functions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from mvflow.errors import (
    AceStepAuthError,
    AceStepDownloadError,
    AceStepError,
    AceStepGenerationTimeout,
    AceStepJobFailed,
    AceStepLmUnavailable,
    AceStepSlowDownload,
    UploadsRejected,
    is_transient,
)
from mvflow.files import atomic_path
from mvflow.models import FileArtifact

log = logging.getLogger("mvflow.acestep")

#: Largest JSON answer read (a status or result is a few kB; a hostile server may send gigabytes).
MAX_JSON_BYTES = 16 * 1024 * 1024
#: Default cap of one audio download: a 10-minute 48 kHz stereo WAV is about 115 MB.
DEFAULT_MAX_DOWNLOAD_MB = 512.0
#: Content types a download may have: audio, or the generic binary types servers fall back to.
BINARY_TYPES = ("application/octet-stream", "binary/octet-stream", "")

MIME_BY_SUFFIX = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".ogg": "audio/ogg",
                  ".m4a": "audio/mp4", ".aac": "audio/aac", ".opus": "audio/ogg"}
#: The detail of the server's own completion timeout (upstream openrouter_adapter.py, ACESTEP_GENERATION_TIMEOUT).
SERVER_GENERATION_TIMEOUT = "Generation timeout"


def auth_message(key_sent: bool) -> str:
    """The one line a user sees for a 401: whether the key was missing or wrong, and the fix."""
    if key_sent:
        return "ACE-Step rejected the API key (401): set ACESTEP_API_KEY to the server's key"
    return "ACE-Step needs an API key (401): set ACESTEP_API_KEY to the server's key"


def error_detail(response: httpx.Response, limit: int = 300) -> str:
    """A short, single-line reason from an error response: FastAPI `detail`, or the last line of text."""
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list) and detail:  # 422 validation errors
            detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
        text = str(detail)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    line = lines[-1] if lines else f"HTTP {response.status_code}"  # a traceback ends with the exception
    return line if len(line) <= limit else line[: limit - 3] + "..."


def parse_result(raw: Any) -> list[dict]:
    """`result` of /query_result: a JSON string holding a list (tolerate an already-parsed list)."""
    if raw in (None, ""):
        return []
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except (ValueError, RecursionError):
        raise AceStepError(f"ACE-Step /query_result gave a result that is not JSON: {str(raw)[:80]!r}") from None
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise AceStepError(f"ACE-Step /query_result gave a result that is not a list: {str(raw)[:80]}")
    return [entry for entry in value if isinstance(entry, dict)]


def detail_of(response: httpx.Response) -> str | None:
    """FastAPI's JSON `detail` as text, or None when the body is not such JSON (a proxy's HTML page, plain text)."""
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def is_server_generation_timeout(response: httpx.Response) -> bool:
    """A 504 from ACE-Step itself (JSON detail 'Generation timeout'), not from a proxy in front of it."""
    return response.status_code == 504 and detail_of(response) == SERVER_GENERATION_TIMEOUT


def completion_failure(response: httpx.Response) -> AceStepError | None:
    """The permanent error a failed chat completion is, or None for one a retry may cure.

    A 500 whose `detail` holds a traceback is the job's own failure on the server (it ran and
    failed); the server's own 504 means its job is still running. Plain-text 500s and a proxy's
    504 are left to the transient path.
    """
    detail = detail_of(response)
    if response.status_code == 500 and detail and "Traceback" in detail:
        reason = error_detail(response)
        from mvflow.song.acestep.server_info import is_lm_missing

        if is_lm_missing(detail):
            return AceStepLmUnavailable(
                f"ACE-Step's LM is not loaded, and this request needs it ({reason}): start the server with "
                "ACESTEP_INIT_LLM=true, or use --no-thinking without --use-format, -d or --random")
        return AceStepJobFailed(f"ACE-Step could not generate the song: {reason}")
    if is_server_generation_timeout(response):
        return AceStepGenerationTimeout(
            "ACE-Step's own generation timeout passed (ACESTEP_GENERATION_TIMEOUT, 600 s by default, counted from "
            "when the request was queued); the job keeps running on the server, but completion mode cannot "
            "fetch it, so it is not sent again: use --api-mode native (no server deadline), a shorter song, "
            "or raise ACESTEP_GENERATION_TIMEOUT on the server")
    return None


def model_names(body: Any) -> list[str]:
    """/v1/models in either shape: OpenRouter `{"object":"list","data":[{"id"}]}` or the native envelope."""
    if isinstance(body, dict) and body.get("object") == "list":
        return [str(m["id"]).removeprefix("acestep/") for m in body.get("data") or [] if "id" in m]
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, dict):
        return [str(m["name"]) for m in data.get("models") or [] if "name" in m]
    raise AceStepError("ACE-Step /v1/models answered in a shape this client does not know")


def form_value(value: Any) -> str:
    """Multipart fields are strings: booleans as true/false, containers as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


@dataclass
class TaskState:
    """One item of /query_result: status 0/1/2 is the truth, progress/stage are hints."""

    task_id: str
    status: int
    entries: list[dict] = field(default_factory=list)
    progress_text: str = ""

    @property
    def looks_unknown(self) -> bool:
        """Status 0 with an empty result: what the server answers for ids it does not know."""
        return self.status == 0 and not self.entries

    @property
    def progress(self) -> float:
        values = [e.get("progress") for e in self.entries if isinstance(e.get("progress"), (int, float))]
        return float(values[0]) if values else 0.0

    @property
    def stage(self) -> str:
        stages = [str(e["stage"]) for e in self.entries if e.get("stage")]
        return stages[0] if stages else ("unknown task" if self.looks_unknown else "")

    @property
    def error(self) -> str | None:
        """The job's error text (newer servers only; older ones give no reason)."""
        errors = [str(e["error"]) for e in self.entries if e.get("error")]
        return errors[0] if errors else None


class AceStepClient:
    """Talks to one ACE-Step server. Use as a context manager, or call close()."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, download_timeout: float = 600.0,
                 max_download_bytes: int = int(DEFAULT_MAX_DOWNLOAD_MB * 1024 * 1024)) -> None:
        self.base_url = base_url.rstrip("/")
        self.download_timeout = download_timeout
        self.max_download_bytes = max_download_bytes
        self._key_sent = bool(api_key)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout,
                                  transport=transport, follow_redirects=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ---- response handling -------------------------------------------------------------

    def _send(self, method: str, url: str, limit: int = MAX_JSON_BYTES, what: str | None = None,
              **kwargs: Any) -> httpx.Response:
        """One request whose answer is read into memory, but never more than `limit` bytes of it."""
        with self._http.stream(method, url, **kwargs) as response:
            body = read_capped(response, limit, f"ACE-Step {what or url}")
        headers = [(k, v) for k, v in response.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
        return httpx.Response(response.status_code, headers=headers, content=body, request=response.request)

    def _check(self, response: httpx.Response, what: str, permanent: type[AceStepError] = AceStepError) -> None:
        """Raise for an HTTP error: 401 one line, 429/5xx transient HTTPStatusError, other 4xx permanent."""
        code = response.status_code
        if code < 400:
            return
        if code == 401:
            raise AceStepAuthError(auth_message(self._key_sent))
        message = f"ACE-Step {what} answered {code}: {error_detail(response)}"
        if code == 429 or code >= 500:
            raise httpx.HTTPStatusError(message, request=response.request, response=response)
        raise permanent(message)

    def _json(self, response: httpx.Response, what: str) -> Any:
        self._check(response, what)
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
            raise AceStepError(f"ACE-Step {what} did not answer JSON: {response.text[:80]!r}") from None

    def _envelope(self, response: httpx.Response, what: str) -> Any:
        """The `data` of an enveloped answer; in-band failures (HTTP 200, code 500) raise."""
        body = self._json(response, what)
        if not isinstance(body, dict) or "data" not in body:
            raise AceStepError(f"ACE-Step {what} answered without the usual envelope")
        code = body.get("code")
        if body.get("error") or (code is not None and code != 200):
            raise AceStepError(f"ACE-Step {what} failed (code {code}): {body.get('error') or 'no reason given'}")
        return body["data"]

    # ---- routes --------------------------------------------------------------------------

    def health(self) -> dict:
        return self._envelope(self._send("GET", "/health"), "/health") or {}

    def models(self) -> list[str]:
        return model_names(self._json(self._send("GET", "/v1/models"), "/v1/models"))

    def stats(self) -> dict:
        return self._envelope(self._send("GET", "/v1/stats"), "/v1/stats") or {}

    def model_inventory(self) -> dict | None:
        """/v1/model_inventory (later releases): DiT and LM models; None when the server has no such route."""
        response = self._send("GET", "/v1/model_inventory")
        if response.status_code == 404:
            return None
        return self._envelope(response, "/v1/model_inventory") or {}

    def lora(self, action: str, body: dict | None = None) -> dict | None:
        """A LoRA route (later releases): `status` (GET), `load`, `unload`, `toggle`, `scale` (POST).

        None when the server has no LoRA routes (404); a refusal (400, or in-band code 400) raises.
        """
        method = "GET" if action == "status" else "POST"
        response = self._send(method, f"/v1/lora/{action}", **({"json": body} if method == "POST" else {}))
        if response.status_code == 404:
            return None
        return self._envelope(response, f"/v1/lora/{action}") or {}

    def format_input(self, prompt: str, lyrics: str = "", param_obj: dict | None = None,
                     temperature: float | None = None) -> dict:
        """The LM's rewrite of caption/lyrics plus metas (needs the LM on the server)."""
        body: dict[str, Any] = {"prompt": prompt, "lyrics": lyrics, "param_obj": param_obj or {}}
        if temperature is not None:
            body["temperature"] = temperature
        return self._envelope(self._send("POST", "/format_input", json=body), "/format_input") or {}

    def create_sample(self, query: str, instrumental: bool = False, vocal_language: str | None = None,
                      temperature: float | None = None) -> dict | None:
        """Newer servers' POST /v1/create_sample: the LM writes caption, lyrics and metas from a description.

        None when the server has no such route (404: releases up to at least f30aee4); it needs the LM.
        """
        body: dict[str, Any] = {"query": query, "instrumental": instrumental,
                                "vocal_language": vocal_language or "unknown"}
        if temperature is not None:
            body["temperature"] = temperature
        response = self._send("POST", "/v1/create_sample", json=body)
        if response.status_code == 404:
            return None
        data = self._envelope(response, "/v1/create_sample")
        if not isinstance(data, dict):
            raise AceStepError("ACE-Step /v1/create_sample answered without a sample")
        return data

    def create_random_sample(self, sample_type: str = "custom_mode") -> dict:
        """One of the server's bundled examples, returned unchanged (shape depends on sample_type)."""
        data = self._envelope(self._send("POST", "/create_random_sample", json={"sample_type": sample_type}),
                              "/create_random_sample")
        if not isinstance(data, dict):
            raise AceStepError("ACE-Step /create_random_sample returned no example")
        return data

    def release_task(self, payload: dict, files: dict[str, Path] | None = None) -> dict:
        """Submit once. JSON, unless there are files to upload (then multipart)."""
        if not files:
            return self._envelope(self._send("POST", "/release_task", json=payload), "/release_task")
        handles = {name: path.open("rb") for name, path in files.items()}
        try:
            parts = {name: (path.name, handles[name], MIME_BY_SUFFIX.get(path.suffix.lower(), "audio/mpeg"))
                     for name, path in files.items()}
            data = {k: form_value(v) for k, v in payload.items() if v is not None}
            response = self._send("POST", "/release_task", data=data, files=parts)
        finally:
            for fh in handles.values():
                fh.close()
        if response.status_code == 500:  # builds before the multipart fix answer every upload with a 500
            raise UploadsRejected(f"ACE-Step answered the upload with 500 ({error_detail(response)})")
        return self._envelope(response, "/release_task (upload)")

    def submit(self, payload: dict, files: dict[str, Path] | None = None, retries: int = 5,
               delay: float = 1.0, max_delay: float = 30.0) -> str:
        """release_task, retrying 'queue full' (429) with doubling pauses; returns the task id."""
        for attempt in range(retries + 1):
            try:
                data = self.release_task(payload, files)
                break
            except httpx.HTTPStatusError as exc:
                if exc.response.status_code != 429 or attempt == retries:
                    raise
                pause = min(max_delay, delay * 2**attempt)
                log.info("ACE-Step queue is full (429); retrying the submit in %.1f s", pause)
                time.sleep(pause)
        task_id = data.get("task_id") if isinstance(data, dict) else None
        if not task_id:
            raise AceStepError("ACE-Step /release_task answered without a task_id")
        return str(task_id)

    def query_result(self, task_ids: list[str]) -> list[TaskState]:
        data = self._envelope(self._send("POST", "/query_result", json={"task_id_list": list(task_ids)}),
                              "/query_result")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise AceStepError(f"ACE-Step /query_result answered something that is not a list of tasks: "
                               f"{str(data)[:80]}")
        try:
            return [TaskState(task_id=str(item.get("task_id", "")), status=int(item.get("status", 0)),
                              entries=parse_result(item.get("result")),
                              progress_text=str(item.get("progress_text", "")))
                    for item in data]
        except (TypeError, ValueError):
            raise AceStepError(f"ACE-Step /query_result gave a status that is not a number: {str(data)[:80]}") from None

    def query_one(self, task_id: str) -> TaskState:
        states = [s for s in self.query_result([task_id]) if s.task_id == task_id]
        return states[0] if states else TaskState(task_id=task_id, status=0)

    def download(self, file_url: str, dest: Path, attempts: int = 3) -> FileArtifact:
        """Fetch one `file` URL (relative `/v1/audio?path=...`, joined as is) with the auth header.

        Downloads are idempotent, so a dropped connection or a 5xx is retried here a few times.
        """
        self._same_origin(file_url)
        attempt = 1
        while True:
            try:
                return self._download_once(file_url, dest)
            except Exception as exc:
                if attempt >= attempts or not is_transient(exc):
                    raise
            time.sleep(0.5 * attempt)
            attempt += 1

    def _download_once(self, file_url: str, dest: Path) -> FileArtifact:
        """One GET into a temporary file, renamed only when complete and audio; the whole of it within
        download_timeout and max_download_bytes."""
        deadline = time.monotonic() + self.download_timeout
        with self._http.stream("GET", file_url) as response:
            if response.status_code >= 400:
                response.read()
                if response.status_code in (403, 404):
                    raise AceStepDownloadError(f"ACE-Step could not serve {file_url} "
                                               f"({response.status_code}: {error_detail(response)})")
                self._check(response, "/v1/audio")
            check_audio_type(response, file_url)
            with atomic_path(dest) as tmp:
                with tmp.open("wb") as fh:
                    for chunk in capped_chunks(response, self.max_download_bytes, f"ACE-Step audio {file_url}"):
                        fh.write(chunk)
                        if time.monotonic() > deadline:
                            raise AceStepSlowDownload(f"ACE-Step sent the audio too slowly: not complete after "
                                                      f"{self.download_timeout:g} s")
                verify_audio(tmp, f"ACE-Step audio {file_url}")
        return FileArtifact.from_path(dest)

    def _same_origin(self, file_url: str) -> None:
        """Never send the key to another host: an absolute `file` URL must point at this server."""
        parts = urlsplit(file_url)
        if parts.scheme or parts.netloc:
            base = urlsplit(self.base_url)
            if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
                raise AceStepError(f"ACE-Step returned an audio URL on another host: {parts.netloc}")

    def chat_completion(self, body: dict, timeout: float | None = None) -> dict:
        """POST /v1/chat/completions (blocking, non-streaming); the OpenAI-style answer, no envelope."""
        request_timeout = httpx.Timeout(self._http.timeout.connect, read=timeout) if timeout else None
        kwargs = {"timeout": request_timeout} if request_timeout else {}
        limit = self.max_download_bytes * 4 // 3 + MAX_JSON_BYTES  # the audio comes inline, as base64
        response = self._send("POST", "/v1/chat/completions", limit=limit, what="/v1/chat/completions",
                              json=body, **kwargs)
        if (failure := completion_failure(response)) is not None:
            raise failure
        body = self._json(response, "/v1/chat/completions")
        if not isinstance(body, dict) or not body.get("choices"):
            raise AceStepError("ACE-Step /v1/chat/completions answered without choices")
        return body


# ---- reading what a server sends, within bounds ----------------------------------------------

def _too_big(what: str, limit: int) -> AceStepError:
    return AceStepError(f"{what} is larger than {limit / 1024 / 1024:.0f} MB; refused "
                        "(raise acestep_max_download_mb if the server really makes files that big)")


def capped_chunks(response: httpx.Response, limit: int, what: str) -> Iterator[bytes]:
    """The body's (decoded) chunks, raising once more than `limit` bytes arrived or were announced.

    Counting decoded bytes also stops a small gzip body that inflates to gigabytes.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_big(what, limit)
    total = 0
    for chunk in response.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise _too_big(what, limit)
        yield chunk


def read_capped(response: httpx.Response, limit: int, what: str) -> bytes:
    return b"".join(capped_chunks(response, limit, what))


def check_audio_type(response: httpx.Response, file_url: str) -> None:
    """Refuse a download whose Content-Type says it is not audio (an HTML error page, JSON ...)."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not (content_type.startswith("audio/") or content_type in BINARY_TYPES):
        raise AceStepDownloadError(f"ACE-Step sent {content_type} instead of audio for {file_url}")


def verify_audio(path: Path, what: str) -> None:
    """Refuse bytes that do not decode as audio with at least one sample."""
    from mvflow.audio import audio_duration

    try:
        seconds = audio_duration(path)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise AceStepDownloadError(f"{what} is not playable audio ({path.stat().st_size} bytes that do not decode)")
