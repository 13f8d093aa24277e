"""OpenAI transcriber: whisper-1 through the official SDK, words with start/end times.

The request asks for `verbose_json` with both word and segment timestamps. Words are what
the alignment needs; segments are asked for too so that a response without words (an
OpenAI-compatible server that ignores word granularity) still yields usable times: each
segment's text is then split on whitespace and the segment's span shared out evenly, one
equal slice per word. That is coarse, but the alignment only needs roughly-placed anchors.

OpenAI refuses uploads over 25 MB, so bigger files are re-encoded first (mono 64 kbps MP3,
~8 KB/s: about 50 minutes fit) into a temporary folder that is removed after the call.

Retries: the SDK's own retries are switched off (max_retries=0). The step's Prefect retry
policy (mvflow.retries.retry_options) is the one place that retries, with backoff and
jitter; letting the SDK retry too would multiply the attempts and hide them from the run log.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from mvflow.audio import ffmpeg_exe
from mvflow.errors import PermanentError, one_line
from mvflow.lyrics.cloud import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    check_audio,
    connection_error,
    make_word,
    not_json_error,
    openai_message,
    ordered_words,
    require_key,
    retry_after_seconds,
    status_error,
    upload_type,
)
from mvflow.models import LyricWord
from mvflow.rates import api_call_slot
from mvflow.settings import base_url as configured_base_url

SERVICE = "OpenAI"
MODEL = "whisper-1"
#: OpenAI's upload limit is "25 MB"; counted in decimal megabytes to stay on the safe side.
MAX_UPLOAD_BYTES = 25_000_000
#: Bit rate of the re-encode for big files; plenty for speech recognition.
REENCODE_BITRATE = "64k"


def openai_words(
    audio_path: Path | str,
    language: str | None = "en",
    prompt: str | None = None,
    api_key: str | None = None,
    base_url: str | None = None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> list[LyricWord]:
    """Transcribe `audio_path` with whisper-1; every word with its start/end in seconds, in order.

    `prompt` is whisper's vocabulary hint (the start of the known lyrics). `base_url` None: the
    configured one (OPENAI_BASE_URL or the openai_base_url setting), else the public endpoint.
    `max_upload_bytes` is the size above which the file is re-encoded before upload (a parameter so
    tests can use small files).
    """
    path = check_audio(audio_path)
    key = require_key("openai", SERVICE, api_key)
    client = _client(key, base_url or configured_base_url("openai"))
    with tempfile.TemporaryDirectory(prefix="mvflow-openai-") as tmp:
        upload = _fit_for_upload(path, Path(tmp), max_upload_bytes)
        result = _transcribe(client, upload, language, prompt)
    return _words_of(result)


def _client(key: str, base_url: str | None):
    import openai

    return openai.OpenAI(
        api_key=key,
        base_url=base_url,
        max_retries=0,  # the step's Prefect retries own retrying (module docstring)
        timeout=openai.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
    )


def _fit_for_upload(path: Path, tmp_dir: Path, max_bytes: int) -> Path:
    """`path` itself when small enough, else a mono 64 kbps MP3 of it in `tmp_dir`."""
    if path.stat().st_size <= max_bytes:
        return path
    smaller = tmp_dir / f"{path.stem}.mp3"
    _reencode(path, smaller)
    size = smaller.stat().st_size
    if size > max_bytes:
        raise PermanentError(
            f"audio too long for OpenAI: {size / 1e6:.1f} MB even at {REENCODE_BITRATE}bps mono "
            f"(limit {max_bytes / 1e6:.0f} MB); use --transcriber local or elevenlabs"
        )
    return smaller


def _reencode(src: Path, dst: Path) -> None:
    cmd = [
        ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(src),
        "-vn", "-ac", "1", "-codec:a", "libmp3lame", "-b:a", REENCODE_BITRATE, str(dst),
    ]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        reason = one_line(proc.stderr.decode(errors="replace"))
        raise PermanentError(f"cannot re-encode {src} for upload: {reason}")


def _transcribe(client, upload: Path, language: str | None, prompt: str | None):
    """One whisper-1 call; SDK errors become PermanentError or a transient error (cloud.py)."""
    import openai

    options = {"language": language, "prompt": prompt}
    api_call_slot("openai")
    try:
        with open(upload, "rb") as fh:
            return client.audio.transcriptions.create(
                model=MODEL,
                file=(upload.name, fh, upload_type(upload)),
                response_format="verbose_json",
                timestamp_granularities=["word", "segment"],
                **{k: v for k, v in options.items() if v},
            )
    except openai.APIStatusError as exc:
        retry_after = retry_after_seconds(exc.response.headers)
        raise status_error(SERVICE, "openai", exc.status_code, openai_message(exc), exc.code, retry_after) from exc
    except openai.APIConnectionError as exc:
        timed_out = isinstance(exc, openai.APITimeoutError)
        raise connection_error(SERVICE, str(client.base_url), exc, timed_out) from exc
    except json.JSONDecodeError as exc:  # a 200 answer that is not JSON (a broken proxy, a cut body)
        raise not_json_error(SERVICE, "openai", str(exc)) from exc


def _words_of(result) -> list[LyricWord]:
    """Words of an openai TranscriptionVerbose: its words, else its segments spread evenly."""
    if result.words:
        found = (make_word(w.word, w.start, w.end) for w in result.words)
    else:
        found = (w for seg in result.segments or [] for w in _spread_segment(seg.text, seg.start, seg.end))
    return ordered_words(found)


def _spread_segment(text: str, start: float, end: float) -> list[LyricWord | None]:
    """A segment's words with the segment's span shared out in equal slices (no word times given)."""
    tokens = text.split()
    step = (end - start) / len(tokens) if tokens else 0.0
    return [make_word(tok, start + i * step, start + (i + 1) * step) for i, tok in enumerate(tokens)]
