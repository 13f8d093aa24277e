"""The `gemini` cover provider: one image from a Gemini image model through the google-genai SDK.

Every way a call can go wrong ends as one of three things, so the step and Prefect can act on it:
- `PermanentError` (or `GeminiBlocked`, a subclass): retrying cannot help (bad request, bad
  key, content blocked, no model left). Its message is one line for the user, never the key.
- `GeminiUnavailable`: still failing after a few backed-off tries (429, 5xx, network). It carries
  `status_code` and is a TransientError, so `mvflow.errors.is_transient` lets Prefect retry
  the step later.
- a 404 for a model means Google retired that name: the next model in the fallback list is tried.

The SDK's own retries stay off (its default): retrying here keeps the delays visible, bounded
and injectable in tests. `MVFLOW_GEMINI_BASE_URL` (or `base_url`) points the client at another
server that speaks the Gemini REST API, e.g. the local one the tests run.
"""

from __future__ import annotations

import io
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx
from google import genai
from google.genai import errors, types
from PIL import Image

from mvflow.cover.prompt import cover_prompt
from mvflow.cover.user_image import fit_image, to_rgb
from mvflow.errors import GeminiBlocked, GeminiUnavailable, ModelNotFound, PermanentError
from mvflow.rates import api_call_slot
from mvflow.settings import api_key as configured_key
from mvflow.settings import base_url as configured_base_url

log = logging.getLogger(__name__)


def _transport_errors() -> tuple[type[Exception], ...]:
    """Network-level errors the SDK can raise: google-genai 3.x sends through httpx2 (a fork of
    httpx with its own exception classes) when installed, else through httpx."""
    found: list[type[Exception]] = [httpx.TransportError]
    try:
        import httpx2
    except ImportError:
        return tuple(found)
    return (*found, httpx2.TransportError)


TRANSPORT_ERRORS = _transport_errors()

DEFAULT_MODEL = "gemini-3.1-flash-image"
#: Tried in order when a model answers 404 (a retired or not-yet-available name).
FALLBACK_MODELS: tuple[str, ...] = ("gemini-2.5-flash-image",)
BASE_URL_ENV = "MVFLOW_GEMINI_BASE_URL"
#: The REST version whose generateContent takes imageConfig; pinned so GOOGLE_GENAI_API_VERSION
#: or a new SDK default cannot move us.
API_VERSION = "v1beta"
REQUEST_TIMEOUT_S = 180

#: Aspect ratios Gemini image models accept in ImageConfig.aspect_ratio.
SUPPORTED_ASPECTS: tuple[str, ...] = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
#: ImageConfig.image_size values, with the longest output side each gives at most.
IMAGE_SIZES: tuple[tuple[str, int], ...] = (("1K", 1024), ("2K", 2048), ("4K", 4096))
#: Gemini 2.x image models have a single output size and document no image_size, so it is not sent.
FIXED_SIZE_MODEL_PREFIXES: tuple[str, ...] = ("gemini-2.",)

#: Why a finish/block reason left no image, in words a user can act on.
REASON_HINTS = {
    "SAFETY": "blocked by the safety filters",
    "IMAGE_SAFETY": "the image was blocked by the safety filters",
    "PROHIBITED_CONTENT": "the request was judged prohibited content",
    "IMAGE_PROHIBITED_CONTENT": "the image was judged prohibited content",
    "BLOCKLIST": "the prompt contains a blocked term",
    "RECITATION": "the result was too close to existing work",
    "IMAGE_RECITATION": "the image was too close to existing work",
    "NO_IMAGE": "the model answered without an image",
    "IMAGE_OTHER": "the model could not make the image",
}

MAX_DETAIL_CHARS = 200


def blocked(reason: str, model: str, detail: str = "") -> GeminiBlocked:
    """The GeminiBlocked a refusal becomes: Gemini's reason, what it means, and what to change."""
    hint = REASON_HINTS.get(reason, "the model returned no image")
    extra = f" ({detail})" if detail else ""
    return GeminiBlocked(
        f"Gemini model {model} returned no image: {reason}, {hint}{extra}; "
        "change the caption or --cover-prompt, or use --cover-fallback local",
        reason,
    )


def _settings():  # noqa: ANN202 - mvflow.settings.Settings
    from mvflow.settings import load_settings

    return load_settings()


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for 429/5xx/network faults inside one step run."""

    tries: int = 4
    base_delay: float = field(default_factory=lambda: _settings().retry_delay)  # like the steps' retries
    max_delay: float = 30.0
    jitter: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int, server_hint: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (0-based); a server's RetryInfo is honoured
        when longer, but never beyond `max_delay`."""
        wait = self.base_delay * 2**attempt * (1 + self.jitter * random.random())
        return min(max(wait, server_hint or 0.0), self.max_delay)


def nearest_aspect(width: int, height: int) -> str:
    """The supported aspect ratio closest to width:height (compared as log ratios, so 2:1 and 1:2
    are equally far from 1:1); the image is centre-cropped to the exact size afterwards."""
    target = math.log(width / height)
    return min(SUPPORTED_ASPECTS, key=lambda a: abs(math.log(_ratio(a)) - target))


def image_size_for(size: tuple[int, int]) -> str:
    """The smallest ImageConfig.image_size whose output covers the longer side of `size`."""
    longest = max(size)
    for name, limit in IMAGE_SIZES:
        if longest <= limit:
            return name
    return IMAGE_SIZES[-1][0]


def gemini_image(
    prompt: str,
    aspect_ratio: str,
    image_size: str = "2K",
    model: str | None = None,
    fallbacks: Sequence[str] = FALLBACK_MODELS,
    api_key: str | None = None,
    base_url: str | None = None,
    seed: int | None = None,
    retry: RetryPolicy | None = None,
) -> Image.Image:
    """One RGB image for `prompt` from the first model in [model or DEFAULT_MODEL, *fallbacks]
    that exists. The key comes from `api_key` or GEMINI_API_KEY / GOOGLE_API_KEY."""
    key = _resolve_key(api_key)
    policy = retry or RetryPolicy()
    chain = _model_chain(model, fallbacks)
    with _client(key, base_url or configured_base_url("gemini")) as client:
        for name in chain:
            config = _generate_config(name, aspect_ratio, image_size, seed)
            try:
                call = partial(client.models.generate_content, model=name, contents=prompt, config=config)
                response = _with_retries(call, policy, name, key)
            except ModelNotFound:
                log.warning("Gemini model %s answered 404 (retired or unknown); trying the next one", name)
                continue
            log.info("Gemini model %s answered", name)
            return image_from_response(response, name)
    raise PermanentError(
        f"no Gemini image model is available: {', '.join(chain)} all answered 404; "
        "pass a current model name (see ai.google.dev/gemini-api/docs/models)"
    )


def gemini_cover(
    caption: str,
    title: str,
    seed: int,
    size: tuple[int, int],
    prompt: str | None = None,
    *,
    model: str | None = None,
    fallbacks: Sequence[str] = FALLBACK_MODELS,
    api_key: str | None = None,
    base_url: str | None = None,
    image_size: str | None = None,
    lyrics_area: str = "lower third",
    retry: RetryPolicy | None = None,
) -> Image.Image:
    """The cover provider: a Gemini image in the aspect closest to `size`, centre-cropped to exactly
    `size`. `prompt` (--cover-prompt) replaces the prompt built from caption and title."""
    aspect = nearest_aspect(*size)
    text = cover_prompt(caption, title, aspect, override=prompt, lyrics_area=lyrics_area)
    image = gemini_image(
        text,
        aspect,
        image_size or image_size_for(size),
        model=model,
        fallbacks=fallbacks,
        api_key=api_key,
        base_url=base_url,
        seed=seed,
        retry=retry,
    )
    return fit_image(image, size, mode="crop")


def image_from_response(response: types.GenerateContentResponse, model: str) -> Image.Image:
    """The final image of a 200 answer, or GeminiBlocked naming the block/finish reason.

    Thinking image models may send draft images marked `thought` before the final one; those are
    skipped.
    """
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        raise blocked(
            _name(feedback.block_reason), model, _detail(feedback.block_reason_message)
        )
    candidates = response.candidates or []
    images = [
        p.inline_data for p in _parts(candidates) if p.inline_data and p.inline_data.data and not p.thought
    ]
    if images:
        return _decode(images[-1].data, images[-1].mime_type, model)
    if not candidates:
        raise blocked("NO_CANDIDATES", model)
    first = candidates[0]
    reason = _name(first.finish_reason) if first.finish_reason else "NO_IMAGE"
    said = " ".join(p.text for p in _parts(candidates) if p.text and not p.thought)
    raise blocked(reason, model, _detail(first.finish_message or said))


# -- the call and its failures ---------------------------------------------------------------


def _with_retries(
    call: Callable[[], types.GenerateContentResponse], policy: RetryPolicy, model: str, key: str
) -> types.GenerateContentResponse:
    """`call()` with transient faults retried per `policy`; every SDK/network error is translated
    (and re-raised `from None`, so the SDK's response object, which holds the request headers with
    the key, is not chained onto anything Prefect might persist)."""
    for attempt in range(policy.tries):
        api_call_slot("gemini")
        try:
            return call()
        except (errors.APIError, *TRANSPORT_ERRORS) as exc:
            failure = _translate(exc, model, key)
        except json.JSONDecodeError as exc:  # a 200 answer that is not JSON: a server fault, retried
            failure = GeminiUnavailable(f"Gemini model {model} answered something that is not JSON ({exc})", 502)
        if not isinstance(failure, GeminiUnavailable) or attempt + 1 == policy.tries:
            raise failure from None
        wait = policy.delay(attempt, failure.retry_after)
        log.warning("%s; retry %d of %d in %.1f s", failure, attempt + 1, policy.tries - 1, wait)
        policy.sleep(wait)
    raise AssertionError("unreachable: RetryPolicy.tries must be >= 1")


def _translate(exc: Exception, model: str, key: str) -> Exception:
    """Map an SDK or network error to ModelNotFound, GeminiUnavailable or PermanentError."""
    if isinstance(exc, TRANSPORT_ERRORS):
        return GeminiUnavailable(f"cannot reach Gemini ({type(exc).__name__}: {_one_line(str(exc), key)})")
    assert isinstance(exc, errors.APIError)
    code, status = exc.code or 0, exc.status or "ERROR"
    message = _one_line(exc.message or str(exc.details), key)
    if code == 404:
        return ModelNotFound(model)
    if code in (408, 429) or code >= 500:
        return GeminiUnavailable(
            f"Gemini model {model} answered {code} {status}: {message}", code, _retry_info_delay(exc.details)
        )
    fix = _fix_for(code, message)
    return PermanentError(f"Gemini rejected the request for model {model} ({code} {status}): {message}{fix}")


def _fix_for(code: int, message: str) -> str:
    if code in (401, 403) or "api key" in message.lower():
        return "; check GEMINI_API_KEY / GOOGLE_API_KEY"
    return ""


def _retry_info_delay(details: object) -> float | None:
    """Seconds from a google.rpc.RetryInfo detail ('retryDelay': '23s'), which Gemini sends with 429."""
    error = details.get("error", details) if isinstance(details, dict) else {}
    for item in error.get("details", []) if isinstance(error, dict) else []:
        if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
            match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)s\s*", str(item.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def _one_line(text: str, key: str) -> str:
    """Server text made safe for a one-line message: key redacted, whitespace collapsed, clipped."""
    if key:
        text = text.replace(key, "***")
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 1] + "…"


# -- small helpers -----------------------------------------------------------------------------


def _resolve_key(given: str | None) -> str:
    key = (given or configured_key("gemini") or "").strip()
    if not key:
        raise PermanentError(
            "no Gemini API key: set GEMINI_API_KEY or GOOGLE_API_KEY, or use --cover-provider local"
        )
    return key


def _client(key: str, base_url: str | None) -> genai.Client:
    options = types.HttpOptions(api_version=API_VERSION, timeout=REQUEST_TIMEOUT_S * 1000, base_url=base_url)
    return genai.Client(api_key=key, vertexai=False, http_options=options)


def _model_chain(model: str | None, fallbacks: Iterable[str]) -> list[str]:
    names = [model or DEFAULT_MODEL, *fallbacks]
    return list(dict.fromkeys(n.strip() for n in names if n and n.strip()))


def _generate_config(
    model: str, aspect_ratio: str, image_size: str, seed: int | None
) -> types.GenerateContentConfig:
    """IMAGE-only output in the requested aspect; image_size only where the model has sizes."""
    if aspect_ratio not in SUPPORTED_ASPECTS:
        raise PermanentError(
            f"aspect ratio {aspect_ratio!r} is not one Gemini supports: {', '.join(SUPPORTED_ASPECTS)}"
        )
    sized = not model.removeprefix("models/").startswith(FIXED_SIZE_MODEL_PREFIXES)
    return types.GenerateContentConfig(
        response_modalities=["IMAGE"],
        image_config=types.ImageConfig(aspect_ratio=aspect_ratio, image_size=image_size if sized else None),
        seed=seed,
    )


def _parts(candidates: list[types.Candidate]) -> list[types.Part]:
    return [p for c in candidates if c.content and c.content.parts for p in c.content.parts]


def _decode(data: bytes, mime_type: str | None, model: str) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return to_rgb(image)
    except (OSError, SyntaxError, ValueError):
        raise PermanentError(
            f"Gemini model {model} returned image data ({mime_type or 'unknown type'}) that Pillow cannot read"
        ) from None


def _name(value: object) -> str:
    """An SDK enum (or a plain string for values the SDK does not know yet) as its bare name."""
    return str(getattr(value, "value", value))


def _detail(text: str | None) -> str:
    return _one_line(text or "", "")


def _ratio(aspect: str) -> float:
    w, h = aspect.split(":")
    return float(w) / float(h)
