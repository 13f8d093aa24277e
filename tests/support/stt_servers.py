"""Local stand-ins for OpenAI's and ElevenLabs' speech-to-text APIs (tests only, 127.0.0.1).

They speak the real wire formats: multipart uploads in, the services' JSON out (OpenAI's
verbose_json with words and segments; ElevenLabs' Scribe words with "spacing" and
"audio_event" items; forced alignment's characters/words/loss), the services' auth headers
and error bodies. Built on the standard library, so the tests need no extra packages.

They cannot recognise speech, so the test supplies the words (a script). What stays honest
is the timing: the server decodes the audio the client actually uploaded
(mvflow.audio.decode_audio), finds the bursts of sound by their energy, and gives the i-th
word the i-th burst's start and end. A client that uploads the wrong bytes, or loses time
re-encoding, gets times that do not match the audio the test built.

Every request is recorded (path, headers, form fields, uploaded files, raw body) so tests
can assert what the client sent; `fail_next` and `inject` (tests.support.stub_http) script errors and
faults.
"""

from __future__ import annotations

import collections
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from mvflow.audio import decode_audio
from tests.support.stub_http import Reply, StubServer

ANALYSIS_RATE = 16000
#: (word, start, end) in seconds.
Timed = tuple[str, float, float]


# --------------------------------------------------------------------------- requests


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Recorded:
    """One request as the server saw it."""

    path: str
    headers: dict[str, str]
    body: bytes
    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    status: int = 0
    answer: Any = None
    received: float = field(default_factory=time.monotonic)

    def value(self, name: str) -> str | None:
        """The last value of a text form field (None when absent)."""
        values = self.fields.get(name)
        return values[-1] if values else None


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, list[str]], dict[str, Upload]]:
    """Split a multipart/form-data body into text fields and file parts (byte-exact)."""
    match = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not match:
        return {}, {}
    fields: dict[str, list[str]] = collections.defaultdict(list)
    files: dict[str, Upload] = {}
    for chunk in body.split(b"--" + match.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        data = data.removesuffix(b"\r\n")
        headers = _part_headers(head.decode("utf-8", "replace"))
        disposition = headers.get("content-disposition", "")
        name = _param(disposition, "name")
        filename = _param(disposition, "filename")
        if filename is not None:
            files[name] = Upload(filename, headers.get("content-type", ""), data)
        else:
            fields[name].append(data.decode("utf-8"))
    return dict(fields), files


def _part_headers(head: str) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in head.split("\r\n") if ":" in line)
    return {k.strip().lower(): v.strip() for k, v in pairs}


def _param(header: str, name: str) -> str | None:
    match = re.search(rf'(?:^|;)\s*{name}="([^"]*)"', header)
    return match.group(1) if match else None


# --------------------------------------------------------------------------- timing from the audio


def speech_bursts(
    samples: np.ndarray,
    sample_rate: int,
    frame_s: float = 0.02,
    rel_threshold: float = 0.08,
    min_gap_s: float = 0.15,
    min_burst_s: float = 0.06,
) -> list[tuple[float, float]]:
    """(start, end) seconds of each stretch of sound, found by frame energy.

    A frame is loud when its RMS exceeds `rel_threshold` of the loudest frame; quiet gaps
    shorter than `min_gap_s` (stop consonants inside a word) do not split a burst.
    """
    hop = max(1, int(frame_s * sample_rate))
    n = len(samples) // hop
    if n == 0:
        return []
    rms = np.sqrt(np.mean(samples[: n * hop].reshape(n, hop) ** 2, axis=1))
    loud = rms > max(float(rms.max()) * rel_threshold, 1e-4)
    bursts: list[list[float]] = []
    for i in np.flatnonzero(loud):
        start, end = i * frame_s, (i + 1) * frame_s
        if bursts and start - bursts[-1][1] < min_gap_s:
            bursts[-1][1] = end
        else:
            bursts.append([start, end])
    return [(round(float(s), 3), round(float(e), 3)) for s, e in bursts if e - s >= min_burst_s]


def upload_bursts(upload: Upload) -> tuple[list[tuple[float, float]], float]:
    """Bursts of sound in an uploaded file, and its duration; decoded like any audio file."""
    suffix = Path(upload.filename).suffix or ".bin"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{suffix}"
        path.write_bytes(upload.data)
        samples = decode_audio(path, sample_rate=ANALYSIS_RATE)
    return speech_bursts(samples, ANALYSIS_RATE), len(samples) / ANALYSIS_RATE


# --------------------------------------------------------------------------- the server


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeSttServer(StubServer):
    """A speech-to-text stub on 127.0.0.1 (free port) that records requests and answers JSON.

    Subclasses define `routes` (path -> handler(Recorded) -> JSON), `authorised(headers)`
    and `error_body(status, message, code)` in their service's own format. Faults (HTTP errors
    with headers, slow, malformed, truncated answers, resets) come from tests.support.stub_http.
    """

    def __init__(self, api_key: str, words: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__()
        self.api_key = api_key
        self.words = list(words)
        self.requests: list[Recorded] = []

    # -- what subclasses provide
    routes: ClassVar[dict[str, str]] = {}

    def authorised(self, headers: dict[str, str]) -> bool:
        raise NotImplementedError

    # -- StubServer hooks
    def record(self, path: str, headers: dict[str, str], body: bytes) -> Recorded:
        fields, files = parse_multipart(body, headers.get("content-type", ""))
        request = Recorded(path, headers, body, fields, files)
        self.requests.append(request)
        return request

    def serve(self, request: Recorded) -> Reply:
        try:
            if not self.authorised(request.headers):
                raise ApiError(401, "Invalid API key", "invalid_api_key")
            route = self.routes.get(request.path)
            if route is None:
                raise ApiError(404, f"no route {request.path}")
            return Reply(200, getattr(self, route)(request))
        except ApiError as err:
            return Reply(err.status, self.error_body(err.status, err.message, err.code))

    def answered(self, request: Recorded, reply: Reply) -> None:
        request.status, request.answer = reply.status, reply.body

    # -- shared by the services
    def timed_script(self, upload: Upload | None, words: list[str]) -> tuple[list[Timed], float]:
        """`words` on the uploaded audio's bursts (i-th word, i-th burst), and the audio's duration."""
        if upload is None:
            raise ApiError(400, "file is required")
        bursts, duration = upload_bursts(upload)
        return [(w, s, e) for w, (s, e) in zip(words, bursts)], duration


# --------------------------------------------------------------------------- OpenAI


class OpenAISttServer(FakeSttServer):
    """POST /v1/audio/transcriptions like OpenAI's: `Authorization: Bearer <key>`, verbose_json.

    `include_words=False` answers without a words list (a server that ignores word
    granularity), to exercise the client's segment fallback.
    """

    routes: ClassVar[dict[str, str]] = {"/v1/audio/transcriptions": "_transcriptions"}
    include_words = True

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def error_body(self, status: int, message: str, code: str | None) -> Any:
        kind = "invalid_request_error" if status < 500 else "server_error"
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def _transcriptions(self, request: Recorded) -> Any:
        if request.value("model") != "whisper-1":
            raise ApiError(400, f"Invalid model {request.value('model')!r}", "invalid_model")
        granularities = request.fields.get("timestamp_granularities[]", [])
        if granularities and request.value("response_format") != "verbose_json":
            raise ApiError(400, "timestamp_granularities requires response_format=verbose_json")
        timed, duration = self.timed_script(request.files.get("file"), self.words)
        text = " ".join(w for w, _, _ in timed)
        answer: dict[str, Any] = {
            "task": "transcribe", "language": request.value("language") or "english",
            "duration": round(duration, 3), "text": text,
            "usage": {"type": "duration", "seconds": int(np.ceil(duration))},
        }
        if "segment" in granularities or not granularities:
            answer["segments"] = _openai_segments(timed)
        if "word" in granularities and self.include_words:
            answer["words"] = [{"word": w, "start": s, "end": e} for w, s, e in timed]
        return answer


def _openai_segments(timed: list[Timed], max_gap: float = 0.6) -> list[dict]:
    """Whisper-style segments: consecutive words, split where the pause exceeds `max_gap`."""
    groups: list[list[Timed]] = []
    for item in timed:
        if groups and item[1] - groups[-1][-1][2] <= max_gap:
            groups[-1].append(item)
        else:
            groups.append([item])
    return [
        {
            "id": i, "seek": 0, "start": g[0][1], "end": g[-1][2], "text": " " + " ".join(w for w, _, _ in g),
            "tokens": list(range(50364, 50364 + len(g))), "temperature": 0.0, "avg_logprob": -0.2,
            "compression_ratio": 1.1, "no_speech_prob": 0.01,
        }
        for i, g in enumerate(groups)
    ]


# --------------------------------------------------------------------------- ElevenLabs


class ElevenLabsSttServer(FakeSttServer):
    """POST /v1/speech-to-text (Scribe) and /v1/forced-alignment like ElevenLabs': `xi-api-key` header."""

    routes: ClassVar[dict[str, str]] = {
        "/v1/speech-to-text": "_speech_to_text", "/v1/forced-alignment": "_forced_alignment",
    }
    models = ("scribe_v1", "scribe_v2")

    @property
    def base_url(self) -> str:
        return self.root_url

    def authorised(self, headers: dict[str, str]) -> bool:
        return headers.get("xi-api-key") == self.api_key

    def error_body(self, status: int, message: str, code: str | None) -> Any:
        if status == 422:
            return {"detail": [{"loc": ["body", code or "file"], "msg": message, "type": "missing"}]}
        return {"detail": {"status": code or "error", "message": message}}

    def _speech_to_text(self, request: Recorded) -> Any:
        model = request.value("model_id")
        if model is None:
            raise ApiError(422, "Field required", "model_id")
        if model not in self.models:
            raise ApiError(400, f"model {model!r} is not a speech-to-text model", "invalid_model_id")
        timed, duration = self.timed_script(request.files.get("file"), self.words)
        items: list[dict] = []
        for i, (w, s, e) in enumerate(timed):
            if i:
                items.append(_scribe_item(" ", items[-1]["end"], s, "spacing"))
            items.append(_scribe_item(w, s, e, "word"))
        if request.value("tag_audio_events") != "false":
            items.append(_scribe_item("(music)", items[-1]["end"] if items else 0.0, duration, "audio_event"))
        return {
            "language_code": request.value("language_code") or "eng", "language_probability": 0.97,
            "text": " ".join(w for w, _, _ in timed), "words": items, "transcription_id": "tr-test",
        }

    def _forced_alignment(self, request: Recorded) -> Any:
        text = request.value("text")
        if not text:
            raise ApiError(422, "Field required", "text")
        words = text.split()
        timed, _ = self.timed_script(request.files.get("file"), words)
        last = timed[-1][2] if timed else 0.0
        timed += [(w, last, last) for w in words[len(timed):]]  # alignment places every word
        answer = [{"text": w, "start": s, "end": e, "loss": 0.4} for w, s, e in timed]
        return {"characters": _characters(timed), "words": answer, "loss": 0.4}


def _scribe_item(text: str, start: float, end: float, kind: str) -> dict:
    item = {"text": text, "start": start, "end": end, "type": kind}
    return {**item, "speaker_id": "speaker_0", "logprob": -0.05}


def _characters(timed: list[Timed]) -> list[dict]:
    """Per-character times: each word's span shared among its letters, spaces between words."""
    chars: list[dict] = []
    for i, (w, s, e) in enumerate(timed):
        if i:
            chars.append({"text": " ", "start": chars[-1]["end"], "end": s})
        step = (e - s) / len(w)
        chars += [{"text": c, "start": s + k * step, "end": s + (k + 1) * step} for k, c in enumerate(w)]
    return chars
