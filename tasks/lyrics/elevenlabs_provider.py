"""ElevenLabs transcriber: Scribe speech-to-text, and forced alignment when the lyrics are known.

Forced alignment (POST /v1/forced-alignment, multipart `file` + `text`) is the better tool
whenever we know what was sung: it places *our* words on the audio instead of guessing
them, so nothing is misheard. Scribe (POST /v1/speech-to-text, model scribe_v2, word
timestamps) is for songs whose lyrics are unknown. Both are plain HTTP calls (httpx), the
key in the `xi-api-key` header, never in the body.

Scribe's `words` list interleaves real words with `spacing` items (the whitespace between
words) and `audio_event` items ("(music)"); only type == "word" is kept.

Errors follow tasks/lyrics/cloud.py: a bad key (401) or a request ElevenLabs validates and
rejects (400/422) is a PermanentError of one line; 429, 5xx, timeouts and connection
failures are transient, left to the step's retries (this module does not retry).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from mvflow.errors import PermanentError
from mvflow.lyrics.cloud import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    base_url_from,
    check_audio,
    connection_error,
    make_word,
    not_json_error,
    ordered_words,
    require_key,
    retry_after_seconds,
    status_error,
    upload_type,
)
from mvflow.models import LyricWord
from mvflow.rates import api_call_slot

SERVICE = "ElevenLabs"
DEFAULT_BASE_URL = "https://api.elevenlabs.io"
BASE_URL_ENV = "ELEVENLABS_BASE_URL"
SCRIBE_MODEL = "scribe_v2"
STT_PATH = "/v1/speech-to-text"
ALIGN_PATH = "/v1/forced-alignment"


def scribe_words(
    audio_path: Path | str,
    language: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
) -> list[LyricWord]:
    """Transcribe with Scribe; the words (not spacing or audio events) with start/end seconds, in order.

    `language` is an ISO-639-1/3 code; None lets Scribe detect it.
    """
    fields = {"model_id": SCRIBE_MODEL, "timestamps_granularity": "word"}
    if language:
        fields["language_code"] = language
    body = _post(STT_PATH, audio_path, fields, api_key, base_url)
    return _timed_words(item for item in _list_of(body, "words") if item.get("type") == "word")


def forced_alignment_words(
    audio_path: Path | str,
    text: str,
    api_key: str | None = None,
    base_url: str | None = None,
) -> list[LyricWord]:
    """Align the known `text` (plain lyrics, no tags) to the audio; its words with start/end seconds."""
    if not text.strip():
        raise ValueError("forced alignment needs the lyrics text; use scribe_words when it is unknown")
    body = _post(ALIGN_PATH, audio_path, {"text": text}, api_key, base_url)
    return _timed_words(_list_of(body, "words"))


def _timed_words(items: Iterable[dict]) -> list[LyricWord]:
    return ordered_words(make_word(w.get("text"), w.get("start"), w.get("end")) for w in items)


def _post(
    path: str, audio_path: Path | str, fields: dict[str, str], api_key: str | None, base_url: str | None
) -> Any:
    """POST one multipart request (audio as `file` plus `fields`); the decoded JSON answer."""
    audio = check_audio(audio_path)
    url = base_url_from(base_url, "elevenlabs", DEFAULT_BASE_URL) + path
    headers = {"xi-api-key": require_key("elevenlabs", SERVICE, api_key)}
    timeout = httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT)
    api_call_slot("elevenlabs")
    try:
        with open(audio, "rb") as fh:
            files = {"file": (audio.name, fh, upload_type(audio))}
            response = httpx.post(url, headers=headers, data=fields, files=files, timeout=timeout)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        hint = f"set {BASE_URL_ENV} to http(s)://host[:port]"
        raise PermanentError(f"bad {SERVICE} base URL {url!r}: {hint}") from exc
    except httpx.TimeoutException as exc:
        raise connection_error(SERVICE, url, exc, timed_out=True) from exc
    except httpx.TransportError as exc:
        raise connection_error(SERVICE, url, exc, timed_out=False) from exc
    if response.is_error:
        raise status_error(SERVICE, "elevenlabs", response.status_code, *_reason(response),
                           retry_after=retry_after_seconds(response.headers))
    return _json(response)


def _reason(response: httpx.Response) -> tuple[str, str | None]:
    """(message, code) from an ElevenLabs error body.

    Its errors look like {"detail": {"status": "invalid_api_key", "message": "..."}};
    validation errors (422) like {"detail": [{"loc": [...], "msg": "...", "type": "..."}]}.
    """
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text, None
    if isinstance(detail, dict):
        return str(detail.get("message") or detail), detail.get("status")
    if isinstance(detail, list):
        return "; ".join(_validation_message(d) for d in detail), None
    return str(detail or response.text), None


def _validation_message(item: Any) -> str:
    if not isinstance(item, dict):
        return str(item)
    where = ".".join(str(p) for p in item.get("loc", []) if p != "body")
    return f"{where}: {item.get('msg', '')}" if where else str(item.get("msg", item))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise not_json_error(SERVICE, "elevenlabs", response.text) from exc


def _list_of(body: Any, key: str) -> list[dict]:
    """body[key] when it is a list of objects; a malformed answer is treated as a server fault."""
    items = body.get(key) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise status_error(SERVICE, "elevenlabs", 502, f"answer has no {key!r} list")
    return [item for item in items if isinstance(item, dict)]
