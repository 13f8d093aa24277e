"""A local stand-in for OpenAI's chat-completions API (tests only, 127.0.0.1), for the songwriter.

It speaks the wire protocol the openai SDK expects and refuses what OpenAI refuses:
`Authorization: Bearer <key>` (401 `invalid_api_key` otherwise; `api_key=None` is a local
server that takes any key, like Ollama), GET /v1/models, POST /v1/chat/completions with a
known model (404 `model_not_found`), well-formed messages, and a `response_format` JSON
schema in the strict subset (every object closed with `additionalProperties: false`, every
property required, no `default`): 400 `invalid_request_error` otherwise, as OpenAI answers.

It cannot write songs, so each answer is scripted by the test (`say`): a plan (sent as the
message's JSON content), raw text (for an answer that is not JSON), a `Refusal` (content
null, `refusal` set), a `CutOff` (the content stops where the length limit hit,
finish_reason "length"), or a function of the request returning one of those (answers that
depend on the idea, for requests arriving in any order). `answer_always` scripts a
function for every request. HTTP faults (429 with Retry-After, 5xx, a malformed body, a reset)
come from tests.support.stub_http's `inject`. Every request is recorded with its JSON body.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from tests.support.stub_http import Reply, StubServer

#: Schema keywords OpenAI's strict mode accepts (a subset of JSON Schema).
STRICT_KEYWORDS = {"type", "properties", "required", "additionalProperties", "enum", "description", "items",
                   "anyOf", "$defs", "$ref", "const", "title", "minimum", "maximum", "pattern", "format"}


@dataclass
class Refusal:
    """The model declines: message.content is null and message.refusal says why."""

    text: str = "I'm sorry, but I can't help with that request."


@dataclass
class CutOff:
    """An answer stopped by the length limit: `text` is what came before the cut."""

    text: str


@dataclass
class ChatRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received: float = field(default_factory=time.monotonic)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.body.get("messages") or []

    def text(self, role: str) -> str:
        """Every message of `role`, joined."""
        return "\n".join(str(m.get("content")) for m in self.messages if m.get("role") == role)


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.param = status, message, code, param


class OpenAIChatServer(StubServer):
    """POST /v1/chat/completions and GET /v1/models, like OpenAI's (see the module docstring)."""

    def __init__(self, api_key: str | None = "sk-test", models: tuple[str, ...] = ("gpt-4o-mini",)) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = models
        self.answers: deque[Any] = deque()
        self.requests: list[ChatRequest] = []
        self.always: Any = None

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def say(self, *answers: Any) -> None:
        """Script the next chat answers, in order (a dict is a plan, a str raw content, Refusal, CutOff)."""
        self.answers.extend(answers)

    def answer_always(self, answer: Any) -> None:
        """Answer every request not scripted by `say` with this (usually a function of the request)."""
        self.always = answer

    @property
    def chats(self) -> list[ChatRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- StubServer hooks
    def record(self, path: str, headers: dict[str, str], body: bytes) -> ChatRequest:
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"_unreadable": body.decode(errors="replace")}
        request = ChatRequest(path, headers, parsed if isinstance(parsed, dict) else {"_not_an_object": parsed})
        self.requests.append(request)
        return request

    def error_body(self, status: int, message: str, code: str | None) -> Any:
        kind = {401: "invalid_request_error", 404: "invalid_request_error", 429: "requests"}.get(
            status, "invalid_request_error" if status < 500 else "server_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}

    def serve(self, request: ChatRequest) -> Reply:
        try:
            if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
                raise ApiError(401, "Incorrect API key provided.", "invalid_api_key")
            if request.path == "/v1/models":
                return Reply(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "test"} for m in self.models]})
            if request.path != "/v1/chat/completions":
                raise ApiError(404, f"Invalid URL (POST {request.path})")
            return Reply(200, self._complete(request.body))
        except ApiError as err:
            body = {"error": {"message": err.message, "type": "invalid_request_error", "param": err.param,
                              "code": err.code}}
            return Reply(err.status, body)

    # -- chat completions
    def _complete(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if not model:
            raise ApiError(400, "you must provide a model parameter", param="model")
        if model not in self.models:
            raise ApiError(404, f"The model `{model}` does not exist or you do not have access to it.",
                           "model_not_found")
        messages = body.get("messages")
        roles = ("system", "user", "assistant", "developer")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and m.get("role") in roles for m in messages):
            raise ApiError(400, "'messages' must be a non-empty list of role/content objects", param="messages")
        problem = response_format_problem(body.get("response_format"))
        if problem:
            raise ApiError(400, f"Invalid schema for response_format: {problem}", param="response_format")
        if not self.answers and self.always is None:
            raise ApiError(500, "the test scripted no answer for this request")
        answer = self.answers.popleft() if self.answers else self.always
        return completion(model, answer(ChatRequest("", {}, body)) if callable(answer) else answer, messages)


def response_format_problem(response_format: Any) -> str | None:
    """Why OpenAI would refuse this response_format, or None (absent or a valid strict schema)."""
    if response_format is None:
        return None
    if not isinstance(response_format, dict) or response_format.get("type") not in ("text", "json_object",
                                                                                     "json_schema"):
        return "type must be text, json_object or json_schema"
    if response_format["type"] != "json_schema":
        return None
    spec = response_format.get("json_schema") or {}
    if not spec.get("name") or not isinstance(spec.get("schema"), dict):
        return "json_schema needs a name and a schema"
    if spec.get("strict") and spec["schema"].get("type") != "object":
        return "the root of a strict schema must be an object"
    return strict_problem(spec["schema"], "root") if spec.get("strict") else None


def strict_problem(schema: dict[str, Any], where: str) -> str | None:
    """The first rule of strict mode `schema` breaks (recursively), or None."""
    unknown = set(schema) - STRICT_KEYWORDS
    if unknown:
        return f"In context={where}, '{sorted(unknown)[0]}' is not permitted."
    if schema.get("type") == "object":
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return f"In context={where}, 'additionalProperties' is required to be supplied and to be false."
        missing = [name for name in properties if name not in (schema.get("required") or [])]
        if missing:
            return f"In context={where}, 'required' is required to include every property. Missing '{missing[0]}'."
        for name, sub in properties.items():
            if (found := strict_problem(sub, f"{where}.{name}")) is not None:
                return found
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        return strict_problem(schema["items"], f"{where}.items")
    return None


def completion(model: str, answer: Any, messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A chat.completion object carrying the scripted answer."""
    content: str | None
    refusal, finish = None, "stop"
    if isinstance(answer, Refusal):
        content, refusal = None, answer.text
    elif isinstance(answer, CutOff):
        content, finish = answer.text, "length"
    elif isinstance(answer, str):
        content = answer
    else:
        content = json.dumps(answer, ensure_ascii=False)
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in messages)
    completion_tokens = len((content or refusal or "").split())
    return {
        "id": f"chatcmpl-test{int(time.time() * 1000)}", "object": "chat.completion", "created": int(time.time()),
        "model": model, "system_fingerprint": "fp_test", "service_tier": "default",
        "choices": [{"index": 0, "logprobs": None, "finish_reason": finish,
                     "message": {"role": "assistant", "content": content, "refusal": refusal, "annotations": []}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }
