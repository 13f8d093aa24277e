"""ACE-Step's completion mode: `POST /v1/chat/completions`, blocking, the audio inline as base64.

One request answers with one audio (upstream returns only the first of a batch), so N audios
(`--batch-size N`, `--takes N`) are N requests, take k asking for seed + k. Each finished take is
kept (`song_<k>.<ext>` and `completion_<k>.json`), so a step retried after a fault sends only
the takes still missing: a GPU job is never made twice for the same take.

Failures are classified (client.completion_failure): a 500 with a traceback is the job's own
failure (the LM missing says so), the server's own 504 `Generation timeout` leaves a running
job behind and is never resent; only a proxy's 504 is retried here, with backoff
(`gateway_retries`, `gateway_retry_delay`, a server's Retry-After honoured), then given up in
one line. Completion mode also carries uploads to servers that cannot take multipart ones
(`upload_fallback`): the source audio travels inline as `input_audio`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mvflow.audio import audio_duration
from mvflow.errors import AceStepGatewayTimeout, AceStepUnsupported
from mvflow.files import atomic_path, write_json_atomic
from mvflow.models import FileArtifact, Song, SongRequest, Take
from mvflow.song.acestep import payload
from mvflow.song.acestep.client import AceStepClient, verify_audio
from mvflow.song.acestep.options import AceStepOptions, format_suffix
from mvflow.song.acestep.server_info import check_server
from mvflow.song.acestep.song import duration_warning, format_warning, unique

log = logging.getLogger("mvflow.acestep")

#: progress(fraction 0..1, the server's stage text)
ProgressFn = Callable[[float, str], None]
SUFFIX_BY_MIME = {"audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
                  "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/opus": ".opus", "audio/mp4": ".m4a",
                  "audio/aac": ".aac"}
#: Longest pause between proxy retries, seconds.
MAX_GATEWAY_PAUSE = 120.0


def complete_song(request: SongRequest, out_dir: Path, progress: ProgressFn | None = None,
                  options: AceStepOptions | None = None, warnings: list[str] | None = None) -> Song:
    """Completion mode: one request per audio; the Song of audio `pick` (takes: take 1 until compared)."""
    from mvflow.song.acestep.engine import client_for, effective

    options = options or AceStepOptions.from_request(request)
    out_dir = Path(out_dir)
    files = options.upload_files()
    with client_for(options) as client:
        request, options = effective(request, options, client)
        notes = [*(warnings or []), *check_server(client, options)]
        model = options.model or _primary_model(client)
        parts = [payload.input_audio_part(path.read_bytes(), path.suffix.lstrip(".").lower() or "mp3")
                 for path in files.values()]
        done = []
        for take in range(options.batch_size):
            body = payload.build_completion_body(request, options, model, parts, take)
            report(progress, take / options.batch_size, f"generating (completion mode, audio {take + 1} of "
                                                         f"{options.batch_size})")
            done.append(_one_take(client, body, options, out_dir, take + 1))
    report(progress, 1.0, "succeeded")
    return song_from_completions(done, request, options, out_dir, notes)


def _one_take(client: AceStepClient, body: dict, options: AceStepOptions, out_dir: Path,
              number: int) -> tuple[FileArtifact, dict]:
    """Take `number`: kept from an earlier attempt when its files are intact, else requested now."""
    record_path = out_dir / f"completion_{number}.json"
    kept = _kept_take(record_path, body)
    if kept is not None:
        log.info("ACE-Step take %d was made before (%s); not generated again", number, record_path.name)
        return kept
    response = post_completion(client, body, options)
    data, mime = payload.decode_data_url(payload.completion_audio_url(response))
    audio = _write_audio(out_dir / f"song_{number}{SUFFIX_BY_MIME.get(mime, format_suffix(options.audio_format))}",
                         data)
    record = {"submitted": without_audio(body), "response": without_audio(response), "audio": audio.model_dump()}
    write_json_atomic(record_path, record)
    return audio, record


def _kept_take(record_path: Path, body: dict) -> tuple[FileArtifact, dict] | None:
    """A take whose record asks for the same body and whose audio is still intact."""
    import json

    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        audio = FileArtifact.model_validate(record["audio"])
    except (OSError, ValueError, KeyError):
        return None
    if record.get("submitted") != without_audio(body) or not audio.is_intact():
        return None
    return audio, record


def post_completion(client: AceStepClient, body: dict, options: AceStepOptions) -> dict:
    """One completion request; a proxy's 504 is retried with backoff, anything else raises as classified."""
    for attempt in range(options.gateway_retries + 1):
        try:
            return client.chat_completion(body, timeout=options.timeout)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 504:
                raise
            if attempt == options.gateway_retries:
                raise AceStepGatewayTimeout(
                    f"a proxy in front of ACE-Step ({client.base_url}) answered 504 Gateway Timeout "
                    f"{attempt + 1} time(s); the generation may be too long for it: use --api-mode native, "
                    "or try again later") from None
            pause = _gateway_pause(exc.response, options.gateway_retry_delay * 2**attempt)
            log.warning("a proxy in front of ACE-Step answered 504; asking again in %.0f s", pause)
            time.sleep(pause)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _gateway_pause(response: httpx.Response, backoff: float) -> float:
    """The server's Retry-After when it gives one, else the backoff; never more than MAX_GATEWAY_PAUSE."""
    try:
        asked = float(response.headers.get("retry-after", ""))
    except ValueError:
        asked = backoff
    return max(0.0, min(asked, MAX_GATEWAY_PAUSE))


def _write_audio(path: Path, data: bytes) -> FileArtifact:
    """The inline audio, renamed into place only if it decodes (a hostile or broken server's bytes never
    become song_1.mp3)."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
        verify_audio(tmp, "ACE-Step /v1/chat/completions audio")
    return FileArtifact.from_path(path)


def _primary_model(client: AceStepClient) -> str:
    names = client.models()
    return names[0] if names else "acestep-v15-turbo"


def report(progress: ProgressFn | None, fraction: float, stage: str) -> None:
    """Pass the server's progress on, if anyone listens (fraction clamped to 0..1)."""
    if progress is not None:
        progress(max(0.0, min(1.0, fraction)), stage)


def song_from_completions(done: list[tuple[FileArtifact, dict]], request: SongRequest, options: AceStepOptions,
                          out_dir: Path, warnings: list[str]) -> Song:
    """The Song of audio `pick` (take 1 with --takes); every audio is a take or an extra file."""
    takes = [_take(number, audio, record, request) for number, (audio, record) in enumerate(done, start=1)]
    chosen = options.pick - 1
    take, (_, record) = takes[chosen], done[chosen]
    used = payload.parse_completion_content(_content(record["response"]))
    result = {"engine": "acestep", "api_mode": "completion", "submitted": record["submitted"],
              "response": record["response"], "parsed": used, "picked": options.pick,
              "requests": [{"submitted": r["submitted"], "response": r["response"]} for _, r in done]}
    notes = unique([*warnings, format_warning(take.audio, options), duration_warning(take.duration, request, options)])
    return Song(
        audio=take.audio,
        result=write_json_atomic(Path(out_dir) / "result.json", result),
        caption=take.caption,
        lyrics=take.lyrics,
        duration=take.duration,
        bpm=payload.as_int(payload.known(used.get("bpm"))) or request.bpm,
        key_scale=payload.known(used.get("key")) or request.key_scale,
        time_signature=payload.known(used.get("time_signature")) or request.time_signature,
        engine="acestep",
        seed=None,  # completion answers do not say which seed was used
        seed_requested=request.seed + chosen,
        warnings=notes,
        vocals_expected=payload.vocals_expected(request, options),
        extra_files=[t.audio for i, t in enumerate(takes) if i != chosen],
        takes=takes if options.takes else [],
    )


def _content(response: dict) -> str:
    return response["choices"][0]["message"].get("content") or ""


def _take(number: int, audio: FileArtifact, record: dict, request: SongRequest) -> Take:
    """What the answer's Markdown says was sung on this take (the lyrics section is left out for instrumentals)."""
    used = payload.parse_completion_content(_content(record["response"]))
    lyrics = used.get("lyrics", "" if request.instrumental else request.lyrics)
    return Take(number=number, audio=audio, caption=used.get("caption") or request.caption, lyrics=lyrics,
                duration=audio_duration(audio.path))


def without_audio(obj: Any, key: str = "") -> Any:
    """A copy with base64 audio (data URLs, input_audio `data`) replaced by its size: no song twice."""
    if isinstance(obj, dict):
        return {k: without_audio(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [without_audio(v) for v in obj]
    if isinstance(obj, str) and len(obj) > 256 and (obj.startswith("data:") or key == "data"):
        return f"<{len(obj)} characters of base64 audio omitted>"
    return obj


# ---- uploads a server cannot take ---------------------------------------------------------------------

def fallback_refusal(options: AceStepOptions) -> str | None:
    """Why this request cannot go through completion mode instead (None: it can)."""
    if options.reference_audio and options.task_type == "text2music":
        return ("in completion mode a style reference for text2music becomes music continuation (a different "
                "task): use a server with the multipart fix, or leave out --reference-audio")
    return None


def upload_fallback(request: SongRequest, out_dir: Path, progress: ProgressFn | None, reason: str) -> Song:
    """The song of a native request whose uploads the server cannot take, made in completion mode
    (base64 input_audio works for cover and repaint there), or one line saying exactly why not."""
    options = AceStepOptions.from_request(request)
    why_not = fallback_refusal(options)
    if why_not:
        raise AceStepUnsupported(f"{reason}; completion mode cannot stand in: {why_not}")
    note = (f"{reason}: the audio went inline through /v1/chat/completions instead"
            + (" (which runs 8 inference steps, not the --steps asked)" if options.inference_steps else ""))
    log.warning("%s", note)
    completion = options.model_copy(update={"api_mode": "completion"})
    return complete_song(request, out_dir, progress, completion, [note])
