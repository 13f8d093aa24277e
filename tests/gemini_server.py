"""A local stand-in for the Gemini REST API, so tests drive the real google-genai client.

It answers `POST /{version}/models/{model}:generateContent` on 127.0.0.1 (a free port, served
from a thread) the way generativelanguage.googleapis.com does: a candidate whose parts carry
`inlineData` with a real PNG in the requested aspect ratio, or Google's error envelope
`{"error": {"code", "message", "status", "details"}}`. Tests script what the next answers are
(429 twice, a safety block, ...) and read back every request it received.
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from PIL import Image, ImageDraw

ROUTE = re.compile(r"^/(?P<version>[^/]+)/models/(?P<model>[^/:]+):generateContent$")

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class Seen:
    """One request as the server received it."""

    version: str
    model: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]

    @property
    def generation_config(self) -> dict[str, Any]:
        return self.body.get("generationConfig", {})

    @property
    def image_config(self) -> dict[str, Any]:
        return self.generation_config.get("imageConfig", {})

    @property
    def prompt(self) -> str:
        return " ".join(p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", []))


@dataclass
class Answer:
    status: int
    body: dict[str, Any] | None = None  # None: a successful image answer built for the request


def png_for(
    aspect: str, long_side: int, color: tuple[int, int, int] = (40, 90, 160)
) -> tuple[bytes, tuple[int, int]]:
    """A real PNG in `aspect` ("16:9"), with a white circle in the middle so shape can be checked."""
    w_ratio, h_ratio = (float(x) for x in aspect.split(":"))
    scale = long_side / max(w_ratio, h_ratio)
    size = (round(w_ratio * scale), round(h_ratio * scale))
    image = Image.new("RGB", size, color)
    r = min(size) // 4
    cx, cy = size[0] // 2, size[1] // 2
    ImageDraw.Draw(image).ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue(), size


def error_body(code: int, message: str, details: list[dict] | None = None) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": STATUS_NAMES.get(code, "UNKNOWN"),
            "details": details or [],
        }
    }


class GeminiStub:
    """The server plus its script. Use as a context manager; `url` is the client's base_url."""

    def __init__(self, long_side: int = 256) -> None:
        self.long_side = long_side
        self.requests: list[Seen] = []
        self.retired: set[str] = set()
        self.draft_images = False
        self._queue: deque[Answer] = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- the script -----------------------------------------------------------------------------

    def fail(
        self, code: int, times: int = 1, message: str | None = None, retry_delay: str | None = None
    ) -> None:
        """The next `times` answers are HTTP `code` errors (a RetryInfo detail if `retry_delay`, e.g. '7s')."""
        details = (
            [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
            if retry_delay
            else []
        )
        body = error_body(code, message or f"scripted {STATUS_NAMES.get(code, code)}", details)
        self._push(*[Answer(code, body)] * times)

    def block_image(self, finish_reason: str = "IMAGE_SAFETY", text: str | None = None) -> None:
        """The next answer is a 200 whose candidate has no image, only `finishReason` (and `text`)."""
        candidate: dict[str, Any] = {"finishReason": finish_reason, "index": 0}
        if text:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        self._push(Answer(200, {"candidates": [candidate]}))

    def block_prompt(self, block_reason: str = "SAFETY") -> None:
        """The next answer is a 200 with no candidates and `promptFeedback.blockReason`."""
        self._push(Answer(200, {"promptFeedback": {"blockReason": block_reason}}))

    def retire(self, *models: str) -> None:
        """These model names answer 404 NOT_FOUND, as Google does for retired models."""
        self.retired.update(models)

    def _push(self, *answers: Answer) -> None:
        with self._lock:
            self._queue.extend(answers)

    # -- answering ------------------------------------------------------------------------------

    def answer(self, seen: Seen) -> Answer:
        if seen.model in self.retired:
            return Answer(
                404,
                error_body(
                    404,
                    f"models/{seen.model} is not found for API version "
                    f"{seen.version}, or is not supported for generateContent.",
                ),
            )
        with self._lock:
            scripted = self._queue.popleft() if self._queue else Answer(200)
        return scripted if scripted.body is not None else Answer(200, self.image_answer(seen))

    def image_answer(self, seen: Seen) -> dict[str, Any]:
        aspect = seen.image_config.get("aspectRatio", "1:1")
        data, _ = png_for(aspect, self.long_side)
        parts = [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(data).decode()}}]
        if self.draft_images:  # thinking models send draft images flagged as thoughts first
            draft, _ = png_for(aspect, self.long_side, color=(255, 0, 0))
            parts.insert(
                0,
                {
                    "inlineData": {"mimeType": "image/png", "data": base64.b64encode(draft).decode()},
                    "thought": True,
                },
            )
        return {
            "candidates": [
                {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
            ],
            "modelVersion": seen.model,
        }

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                match = ROUTE.match(self.path.split("?")[0])
                length = int(self.headers.get("content-length", 0))
                raw = self.rfile.read(length)
                if match is None:
                    self._send(404, error_body(404, f"no route {self.path}"))
                    return
                seen = Seen(
                    match["version"],
                    match["model"],
                    {k.lower(): v for k, v in self.headers.items()},
                    json.loads(raw or b"{}"),
                )
                with stub._lock:
                    stub.requests.append(seen)
                answer = stub.answer(seen)
                self._send(answer.status, answer.body or {})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json; charset=UTF-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        return Handler
