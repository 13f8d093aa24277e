"""The `openai` songwriter: a chat model through the openai SDK, with structured output.

It talks to OpenAI itself or to any server that speaks OpenAI's chat-completions protocol:
Ollama (http://localhost:11434/v1), a llama.cpp server (:8080/v1), vLLM (:8000/v1), LM Studio
(:1234/v1). Which server, key and model (`endpoint`, `SongwriterOptions`):

- `songwriter_base_url` (--songwriter-url, MVFLOW_SONGWRITER_BASE_URL, mvflow.toml) names a
  server of your own; its key, if it needs one, is MVFLOW_SONGWRITER_API_KEY (or the Secret
  block `songwriter_key_block`). OPENAI_API_KEY is never sent there.
- otherwise OpenAI (or OPENAI_BASE_URL / openai_base_url, like the transcriber) with OPENAI_API_KEY.
- the model is `songwriter_model` (--songwriter-model), else gpt-4o-mini on OpenAI, else the one
  model a local server lists (several: an error naming them).

The request asks for JSON matching the plan's schema (response_format json_schema, strict),
which OpenAI enforces and the local servers above turn into constrained decoding. The
answer is read the way the real API answers: a refusal (`message.refusal`) fails at once, an
answer cut off at the length limit or not JSON goes to the repair round-trip, a 429/5xx or a
dropped connection is transient (the step retries, after the server's Retry-After), a
rejected key or a missing model is one line naming the fix. The SDK's own retries are off:
the step's retry policy is the one place that retries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mvflow.errors import PermanentError, SongwriterError
from mvflow.lyrics.cloud import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    connection_error,
    not_json_error,
    openai_message,
    retry_after_seconds,
    status_error,
)
from mvflow.models import SongIdea, SongwriterOptions
from mvflow.registry import Check
from mvflow.settings import api_key, base_url, key_source
from mvflow.songwriting.checks import MAX_SYLLABLES, budget_hint, draft_schema
from mvflow.songwriting.prompt import constraints_text, fields_text, fill, load_template
from mvflow.songwriting.providers import Answer, Conversation, Songwriter
from mvflow.songwriting.sheet import SECTIONS

if TYPE_CHECKING:
    from mvflow.models import SongRequest
    from mvflow.settings import Settings

DEFAULT_MODEL = "gpt-4o-mini"
#: Local servers need no key, but the SDK refuses to send a request without one; this word goes
#: instead, and only ever to a base URL the user configured (Ollama's own docs do the same).
KEYLESS = "no-key"
TEMPERATURE = 0.8
#: Seconds a doctor check or a model listing may take.
PROBE_TIMEOUT = 10.0
SCHEMA_NAME = "song_plan"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


@dataclass(frozen=True)
class Endpoint:
    """Where the songwriter's requests go (None: OpenAI's public API), and which configured key they carry."""

    url: str | None
    key_from: str
    source: str

    @property
    def service(self) -> str:
        """How messages name the server."""
        return "OpenAI" if self.url is None else f"the songwriter server {self.url}"


def endpoint(settings: Settings) -> Endpoint:
    """songwriter_base_url with its own key, else OpenAI (or OPENAI_BASE_URL) with OPENAI_API_KEY."""
    if settings.songwriter_base_url:
        return Endpoint(settings.songwriter_base_url.rstrip("/"), "songwriter", "songwriter_base_url")
    url = base_url("openai")
    return Endpoint(url.rstrip("/") if url else None, "openai", "OPENAI_BASE_URL" if url else "OpenAI")


def client(url: str | None, key_from: str | None, timeout: float = REQUEST_TIMEOUT):  # noqa: ANN201 - openai.OpenAI
    """An SDK client for the songwriter's server, with the key read now (never stored anywhere)."""
    import openai

    key = api_key(key_from) if key_from else None
    return openai.OpenAI(api_key=key or KEYLESS, base_url=url, max_retries=0,
                         timeout=openai.Timeout(timeout, connect=CONNECT_TIMEOUT))


class OpenAISongwriter(Songwriter):
    name = "openai"
    description = "an OpenAI chat model, or any OpenAI-compatible server at songwriter_base_url"
    sdk = "openai"

    def configured(self, settings: Settings, request: SongRequest | None) -> tuple[bool, str]:
        """Usable with a base URL (a local server may need no key) or with OPENAI_API_KEY for OpenAI."""
        where = endpoint(settings)
        model = settings.songwriter_model or (DEFAULT_MODEL if where.url is None else "the server's model")
        if where.url is not None:
            return True, f"{where.url} ({where.source}), model {model}; {key_source(where.key_from)}"
        if api_key("openai") is not None:
            return True, f"OpenAI, model {model}; {key_source('openai')}"
        return False, "set OPENAI_API_KEY, or songwriter_base_url for a local OpenAI-compatible server"

    def options(self, settings: Settings, request: SongRequest | None) -> SongwriterOptions:
        where = endpoint(settings)
        key_set = api_key(where.key_from) is not None
        if where.url is None and not key_set:
            raise PermanentError("songwriter openai needs OPENAI_API_KEY, or songwriter_base_url (--songwriter-url) "
                                 "for a local OpenAI-compatible server such as Ollama")
        model = settings.songwriter_model or (DEFAULT_MODEL if where.url is None else served_model(where))
        return SongwriterOptions(provider=self.name, model=model, base_url=where.url,
                                 key_from=where.key_from if key_set else None,
                                 prompt=str(settings.songwriter_prompt or ""))

    def conversation(self, idea: SongIdea, options: SongwriterOptions) -> Conversation:
        return ChatConversation(idea, options)

    def checks(self, settings: Settings) -> list[Check]:
        """The SDK imports and the configuration; for a server of your own, also whether it answers and
        serves the model (OpenAI itself is not called: the key's presence is what can be checked for free)."""
        try:
            import openai
        except ImportError as exc:
            return [self.row(False, f"openai cannot be imported: {exc}")]
        ok, why = self.configured(settings, None)
        rows = [self.row(ok, f"openai {openai.__version__}; {why}")]
        where = endpoint(settings)
        if where.url is not None:
            rows.append(_server_row(where, settings.songwriter_model))
        return rows


def served_model(where: Endpoint) -> str:
    """The one model a local server lists (GET /models); none or several is an error saying what to set."""
    models = list_models(where)
    if len(models) == 1:
        return models[0]
    listed = ", ".join(models[:8]) or "none"
    raise PermanentError(f"{where.service} serves {len(models)} models ({listed}): choose one with "
                         "--songwriter-model (or songwriter_model in mvflow.toml)")


def list_models(where: Endpoint) -> list[str]:
    """The model ids the server lists; a server that cannot be asked is one clear line."""
    import openai

    try:
        return [model.id for model in client(where.url, where.key_from, PROBE_TIMEOUT).models.list()]
    except openai.APIStatusError as exc:
        raise PermanentError(f"{where.service} did not list its models (HTTP {exc.status_code}: "
                             f"{openai_message(exc)}): set --songwriter-model") from None
    except openai.APIConnectionError as exc:
        raise PermanentError(f"cannot reach {where.service} to list its models ({type(exc).__name__}): is it "
                             "running, and is the URL right (it usually ends in /v1)?") from None


def _server_row(where: Endpoint, model: str | None) -> Check:
    """Doctor: the server answers GET /models, and serves the configured model."""
    try:
        models = list_models(where)
    except PermanentError as exc:
        return Check("songwriter: openai server", False, str(exc))
    if model and model not in models:
        return Check("songwriter: openai server", False,
                     f"{where.url} does not serve {model!r} (it serves {', '.join(models[:8]) or 'nothing'})")
    return Check("songwriter: openai server", bool(models), f"{where.url} serves {', '.join(models[:8]) or 'nothing'}")


class ChatConversation(Conversation):
    """System and user messages from the prompt template; the repair adds the answer and its problems."""

    def __init__(self, idea: SongIdea, options: SongwriterOptions) -> None:
        self.idea = idea
        self.options = options
        self.template = load_template(options.prompt or None)
        self.values = {
            "idea": idea.idea, "constraints": constraints_text(idea), "budget": budget_hint(idea),
            "tags": ", ".join(f"[{name}]" for name in SECTIONS), "max_syllables": str(MAX_SYLLABLES),
            "fields": fields_text(), "problems": "",
        }
        self.messages: list[dict[str, str]] = [
            {"role": "system", "content": fill(self.template.system, self.values, "system")},
            {"role": "user", "content": fill(self.template.user, self.values, "user")},
        ]
        self.last_content = ""

    def first(self) -> Answer:
        return self._ask()

    def repair(self, problems: list[str]) -> Answer:
        listed = "\n".join(f"- {problem}" for problem in problems)
        self.messages += [{"role": "assistant", "content": self.last_content},
                          {"role": "user", "content": fill(self.template.repair, {**self.values, "problems": listed},
                                                           "repair")}]
        return self._ask()

    def _ask(self) -> Answer:
        completion = self._create()
        choices = completion.choices or []
        if not choices:
            raise not_json_error(self._service(), self._key_name(), "an answer without choices")
        choice = choices[0]
        self.last_content = choice.message.content or ""
        refusal = getattr(choice.message, "refusal", None)
        if refusal or choice.finish_reason == "content_filter":
            raise SongwriterError(f"{self._service()} ({self.options.model}) refused to write this song: "
                                  f"{(refusal or 'its content filter stopped the answer').strip()}")
        if choice.finish_reason == "length":
            return Answer(None, ["the answer was cut off at the model's length limit before the plan was complete: "
                                 "write a shorter plan (fewer sections and lines)"])
        return read_answer(self.last_content)

    def _create(self) -> Any:
        """One chat completion; SDK errors become permanent or transient faults (mvflow.lyrics.cloud)."""
        import openai

        sdk = client(self.options.base_url, self.options.key_from)
        try:
            return sdk.chat.completions.create(
                model=self.options.model, messages=self.messages, temperature=TEMPERATURE, seed=self.idea.seed,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": draft_schema()}},
            )
        except openai.APIStatusError as exc:
            raise self._status_fault(exc) from exc
        except openai.APIConnectionError as exc:
            timed_out = isinstance(exc, openai.APITimeoutError)
            raise connection_error(self._service(), str(sdk.base_url), exc, timed_out) from exc
        except (json.JSONDecodeError, openai.APIResponseValidationError) as exc:
            raise not_json_error(self._service(), self._key_name(), str(exc)) from exc

    def _status_fault(self, exc: Any) -> Exception:
        if exc.status_code == 404:
            return PermanentError(f"{self._service()} has no model {self.options.model!r} (HTTP 404: "
                                  f"{openai_message(exc)}): set --songwriter-model to one it serves, and check "
                                  "that the base URL ends in /v1")
        retry_after = retry_after_seconds(exc.response.headers)
        return status_error(self._service(), self._key_name(), exc.status_code, openai_message(exc),
                            getattr(exc, "code", None), retry_after)

    def _service(self) -> str:
        return Endpoint(self.options.base_url, self._key_name(), "").service

    def _key_name(self) -> str:
        """The key a 401 should name: this server's (songwriter) or OpenAI's."""
        return self.options.key_from or ("openai" if self.options.base_url is None else "songwriter")


def read_answer(content: str) -> Answer:
    """The JSON object in an answer's text (a ```json fence around it is tolerated), or why it is unreadable."""
    text = content.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    if not text:
        return Answer(None, ["the answer was empty"])
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Answer(None, [f"the answer is not valid JSON ({exc.msg} at character {exc.pos}): answer with the "
                             "JSON object only"])
    if not isinstance(data, dict):
        return Answer(None, ["the answer must be one JSON object with the plan's fields"])
    return Answer(data)


SONGWRITER = OpenAISongwriter()
