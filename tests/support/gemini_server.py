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
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from tests.support.stub_http import Fault, Reply, StubServer

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
    body: dict[str, Any]


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


class GeminiStub(StubServer):
    """The server plus its script. Use as a context manager; `url` is the client's base_url.

    Every scripted answer (errors, blocked images or prompts, and transport faults: slow,
    malformed, truncated answers, resets) is a tests.support.stub_http Fault, used in order.
    """

    def __init__(self, long_side: int = 256) -> None:
        super().__init__()
        self.long_side = long_side
        self.requests: list[Seen] = []
        self.retired: set[str] = set()
        self.draft_images = False

    @property
    def url(self) -> str:
        return self.root_url

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
        self.inject(*[Fault.error(code, body=body)] * times)

    def block_image(self, finish_reason: str = "IMAGE_SAFETY", text: str | None = None) -> None:
        """The next answer is a 200 whose candidate has no image, only `finishReason` (and `text`)."""
        candidate: dict[str, Any] = {"finishReason": finish_reason, "index": 0}
        if text:
            candidate["content"] = {"role": "model", "parts": [{"text": text}]}
        self.inject(Fault.reply(200, {"candidates": [candidate]}))

    def block_prompt(self, block_reason: str = "SAFETY") -> None:
        """The next answer is a 200 with no candidates and `promptFeedback.blockReason`."""
        self.inject(Fault.reply(200, {"promptFeedback": {"blockReason": block_reason}}))

    def retire(self, *models: str) -> None:
        """These model names answer 404 NOT_FOUND, as Google does for retired models."""
        self.retired.update(models)

    # -- StubServer hooks -------------------------------------------------------------------------

    def record(self, path: str, headers: dict[str, str], body: bytes) -> Seen | None:
        match = ROUTE.match(path)
        if match is None:
            return None
        seen = Seen(match["version"], match["model"], headers, json.loads(body or b"{}"))
        with self._lock:
            self.requests.append(seen)
        return seen

    def serve(self, request: Seen | None) -> Reply:
        if request is None:
            return Reply(404, error_body(404, "no such route"))
        answer = self.answer(request)
        return Reply(answer.status, answer.body or {})

    def error_body(self, status: int, message: str, code: str | None) -> dict[str, Any]:
        return error_body(status, message)

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
        return Answer(200, self.image_answer(seen))

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
