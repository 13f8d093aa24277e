"""Plumbing shared by the cloud transcribers (OpenAI, ElevenLabs) and the OpenAI songwriter: keys, base URLs,
words, errors.

Both providers fail the same ways, and the flow's retry rule (mvflow.errors.is_transient)
must see the same thing whichever one failed:

- a key the service rejects, or a request it will never accept (bad file, quota used up)
  -> PermanentError with one line naming the problem and the fix (never the key itself);
- rate limits (429), server faults (5xx), timeouts and dropped connections -> an exception
  is_transient() recognises, so Prefect retries the step with backoff. The providers do not
  retry on their own: one retry policy, owned by the step, not multiplied by an SDK's.
"""

from __future__ import annotations

import email.utils
import mimetypes
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from mvflow.errors import PermanentError, ServiceError
from mvflow.models import LyricWord
from mvflow.settings import KEY_ENV_VARS, api_key, base_url

#: Seconds a cloud transcription may take (a song of a few minutes takes well under this).
REQUEST_TIMEOUT = 600.0
#: Seconds to open the connection: an unreachable server should fail (and be retried) fast.
CONNECT_TIMEOUT = 15.0

#: Error codes that arrive with a 401/429 but mean "no retry will help" (no credit left...).
QUOTA_CODES = frozenset({"insufficient_quota", "quota_exceeded", "payment_required"})
#: Codes a 401 carries when the key itself is wrong (ElevenLabs also uses 401 for other refusals).
BAD_KEY_CODES = frozenset({None, "", "invalid_api_key", "invalid_api_key_provided"})


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """A Retry-After header in seconds (it may be a number or an HTTP date); None when absent or unreadable."""
    value = (headers or {}).get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def require_key(provider: str, service: str, given: str | None = None) -> str:
    """The key to use: the one passed in, else the provider's environment variable; else one clear line."""
    key = given or api_key(provider)
    if not key:
        raise PermanentError(f"no {service} API key: set {key_env_name(provider)}")
    return key


def key_env_name(provider: str) -> str:
    return KEY_ENV_VARS[provider][0]


def base_url_from(given: str | None, service: str, default: str) -> str:
    """Parameter > the configured base URL (mvflow.settings.base_url) > the public endpoint; no trailing slash."""
    return (given or base_url(service) or default).rstrip("/")


def check_audio(audio_path: Path | str) -> Path:
    path = Path(audio_path)
    if not path.is_file():
        raise PermanentError(f"audio file not found: {path}")
    return path


def upload_type(path: Path) -> str:
    """MIME type for the upload; services sniff the bytes anyway, the name's extension is a hint."""
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def make_word(text: str | None, start: float | None, end: float | None) -> LyricWord | None:
    """A LyricWord from a service's word, or None for things that are not words.

    Like the local transcriber, items without a letter or digit (music notes, stray
    punctuation) and items without times are dropped; an end before its start is clamped.
    """
    text = (text or "").strip()
    if start is None or end is None or not any(ch.isalnum() for ch in text):
        return None
    start = max(0.0, float(start))
    return LyricWord(text=text, start=start, end=max(start, float(end)))


def ordered_words(words: Iterable[LyricWord | None]) -> list[LyricWord]:
    """The real words (make_word's Nones dropped) in time order."""
    return sorted((w for w in words if w is not None), key=lambda w: w.start)


def one_line(text: object, limit: int = 300) -> str:
    """A server's message squeezed onto one line (user-facing errors are one line)."""
    flat = re.sub(r"\s+", " ", str(text or "")).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def status_error(service: str, provider: str, status: int, detail: str, code: str | None = None,
                 retry_after: float | None = None) -> Exception:
    """The exception an HTTP error status becomes (see the module docstring for the rule).

    `detail` is the server's message, `code` its machine-readable reason when it gives one,
    `retry_after` its Retry-After in seconds.
    """
    detail = one_line(detail) or f"HTTP {status}"
    if code in QUOTA_CODES:
        return PermanentError(f"{service} refused the request ({code}): {detail}")
    if status == 401 and code in BAD_KEY_CODES:
        return PermanentError(f"{service} rejected the API key: set {key_env_name(provider)}")
    if status == 408:
        return TimeoutError(f"{service} timed out (HTTP 408): {detail}")
    if status == 429 or status >= 500:
        message = f"{service} is rate limiting or failing (HTTP {status}): {detail}"
        return ServiceError(message, status, retry_after)
    return PermanentError(f"{service} refused the request (HTTP {status}): {detail}")


def openai_message(exc) -> str:  # noqa: ANN001 - an openai.APIStatusError
    """The server's own message from an openai.APIStatusError (error.message), else the SDK's summary."""
    body = exc.body
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return exc.message


def not_json_error(service: str, provider: str, text: str) -> Exception:
    """A 2xx answer that is not the JSON the service sends: treated as a server fault (retried)."""
    return status_error(service, provider, 502, f"answer is not JSON: {text[:120]}")


def connection_error(service: str, url: str, exc: BaseException, timed_out: bool) -> Exception:
    """A transient, one-line error for a call that never got an HTTP answer."""
    if timed_out:
        return TimeoutError(f"{service} did not answer in time at {url}")
    return ConnectionError(f"cannot reach {service} at {url}: {one_line(exc, 160)}")
