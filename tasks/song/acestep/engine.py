"""The `acestep` song engine: submit, poll, download, and say what the server actually made.

Submit and poll are separate functions so the flow can cache the submit (a crash or a
restart re-uses the server's task id instead of generating again) and give the poll its
own deadline. A task id the server no longer knows (it restarted while the job was
queued) looks exactly like a queued job, so the poll declares it lost after
`lost_after` seconds of "status 0, result []" and the caller resubmits once.

The Song records what the server reports (its caption and lyrics after format/sample
mode, metas, seeds, models), so the lyrics step aligns against the lyrics actually sung;
the full answer is kept as result.json.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from mvflow.audio import audio_duration
from mvflow.errors import AceStepError, AceStepJobFailed, AceStepLostTask, AceStepTimeout, is_transient
from mvflow.files import atomic_path, inputs_hash, write_json_atomic
from mvflow.models import FileArtifact, Song, SongRequest, StepResult
from mvflow.settings import api_key
from mvflow.song.acestep.client import AceStepClient, TaskState, verify_audio
from mvflow.song.acestep.options import AceStepOptions
from mvflow.song.acestep.payload import (
    apply_random_sample,
    as_int,
    build_completion_body,
    build_release_payload,
    completion_audio_url,
    decode_data_url,
    input_audio_part,
    known,
    metas_of,
    parse_completion_content,
    seed_at,
)

log = logging.getLogger("mvflow.acestep")

#: progress(fraction 0..1, the server's stage text)
ProgressFn = Callable[[float, str], None]

SUFFIX_BY_MIME = {"audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/wav": ".wav", "audio/x-wav": ".wav",
                  "audio/flac": ".flac", "audio/ogg": ".ogg", "audio/mp4": ".m4a", "audio/aac": ".aac"}


class AceStepJob(StepResult):
    """A submitted job: enough to poll it again after a crash, with no secret in it."""

    task_id: str
    api_url: str
    payload: dict = Field(description="The fields sent to /release_task (no key, no file bytes)")
    payload_sha256: str
    uploads: list[str] = Field(default_factory=list, description="Names of the uploaded files")
    request: SongRequest = Field(description="The request generated (after random sample mode)")
    submitted_at: float
    record: FileArtifact | None = Field(None, description="submission.json, which holds this job (not itself)")

    def own_files(self) -> list[FileArtifact]:
        """submission.json: a cached submit whose record was forgotten (the task failed or was lost)
        is stale, so the flow submits again instead of polling a dead task forever."""
        return [self.record] if self.record else []


def client_for(options: AceStepOptions, api_url: str | None = None) -> AceStepClient:
    """A client for the server (default: the configured one), with the key read from the environment now."""
    return AceStepClient(api_url or options.api_url, api_key=api_key("acestep"), timeout=options.http_timeout,
                         download_timeout=options.download_timeout,
                         max_download_bytes=int(options.max_download_mb * 1024 * 1024))


def random_sample_request(request: SongRequest, options: AceStepOptions,
                          client: AceStepClient) -> tuple[SongRequest, AceStepOptions]:
    """Random mode: ask the server for an example and return the request/options to generate it."""
    sample = client.create_random_sample(options.sample_type)
    log.info("ACE-Step random sample: %s", sample.get("caption") or sample.get("description"))
    return apply_random_sample(request, options, sample)


def _effective(request: SongRequest, options: AceStepOptions,
               client: AceStepClient) -> tuple[SongRequest, AceStepOptions]:
    return random_sample_request(request, options, client) if options.random_sample else (request, options)


SUBMISSION = "submission.json"


def recorded_submission(out_dir: Path) -> AceStepJob | None:
    """The job submitted earlier into this song folder (same audio inputs), if its record is readable.

    submission.json is written the moment the server answers, before Prefect stores the submit
    step's result; a run killed in between finds the task id here instead of submitting again.
    """
    path = Path(out_dir) / SUBMISSION
    try:
        job = AceStepJob.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return job.model_copy(update={"record": FileArtifact.from_path(path)})


def forget_submission(out_dir: Path) -> None:
    """The recorded task failed or was lost: the next submit must really submit."""
    (Path(out_dir) / SUBMISSION).unlink(missing_ok=True)


def submit_song(request: SongRequest, out_dir: Path) -> AceStepJob:
    """Submit the job (JSON, or multipart when uploading) and record its task id in submission.json.

    A task already recorded in the folder (by a run that was killed before it finished) is
    polled again rather than submitted a second time.
    """
    if (previous := recorded_submission(out_dir)) is not None:
        log.info("ACE-Step task %s was submitted before (%s); polling it again", previous.task_id, SUBMISSION)
        return previous
    options = AceStepOptions.from_request(request)
    files = options.upload_files()
    with client_for(options) as client:
        request, options = _effective(request, options, client)
        payload = build_release_payload(request, options)
        task_id = client.submit(payload, files, retries=options.submit_retries, delay=options.retry_delay)
    job = AceStepJob(task_id=task_id, api_url=options.api_url, payload=payload,
                     payload_sha256=inputs_hash(payload, length=64), uploads=[p.name for p in files.values()],
                     request=request, submitted_at=time.time())
    record = write_json_atomic(Path(out_dir) / SUBMISSION, job)
    log.info("ACE-Step task %s submitted to %s", task_id, options.api_url)
    return job.model_copy(update={"record": record})


def wait_for_result(client: AceStepClient, job: AceStepJob, options: AceStepOptions,
                    progress: ProgressFn | None = None) -> list[dict]:
    """Poll until status 1 (the result entries) or raise: failed, lost, or past the deadline."""
    start = time.monotonic()
    deadline = start + options.timeout
    unknown_since: float | None = None
    interval = options.poll_interval
    while True:
        state = _poll_once(client, job.task_id, deadline)
        now = time.monotonic()
        if state is not None:
            if state.status == 1:
                _report(progress, 1.0, "succeeded")
                return state.entries
            if state.status == 2:
                raise AceStepJobFailed(failure_message(job, state))
            unknown_since = (unknown_since or now) if state.looks_unknown else None
            if unknown_since is not None and now - unknown_since >= options.lost_after:
                raise AceStepLostTask(
                    f"ACE-Step does not know task {job.task_id} any more (the server restarted?)")
            _report(progress, state.progress, state.stage)
        if now >= deadline:
            stage = f" (last stage: {state.stage})" if state and state.stage else ""
            raise AceStepTimeout(f"ACE-Step task {job.task_id} did not finish within {options.timeout:.0f} s"
                                 f"{stage}; raise --timeout, or run again to keep waiting for the same task")
        time.sleep(max(0.0, min(interval, deadline - now)))
        interval = min(interval * 1.5, options.poll_max_interval)


def _poll_once(client: AceStepClient, task_id: str, deadline: float) -> TaskState | None:
    """One /query_result; a dropped connection or a 5xx is a missed poll, not a failed job."""
    try:
        return client.query_one(task_id)
    except Exception as exc:
        if not is_transient(exc) or time.monotonic() >= deadline:
            raise
        log.warning("ACE-Step poll failed (%s); trying again", type(exc).__name__)
        return None


def _report(progress: ProgressFn | None, fraction: float, stage: str) -> None:
    if progress is not None:
        progress(max(0.0, min(1.0, fraction)), stage)


def failure_message(job: AceStepJob, state: TaskState) -> str:
    """One line for status 2: the server's error when it gives one (newer servers), else a hint."""
    if state.error:
        return f"ACE-Step task {job.task_id} failed: {state.error.strip().splitlines()[-1]}"
    needs_lm = [name for name in ("thinking", "use_format", "sample_query", "sample_mode") if job.payload.get(name)]
    hint = (f"; {', '.join(needs_lm)} need the server's LM (start it with ACESTEP_INIT_LLM=true, "
            "or use --no-thinking)" if needs_lm else "")
    return f"ACE-Step task {job.task_id} failed (the server gave no reason){hint}"


def poll_song(job: AceStepJob, request: SongRequest, out_dir: Path, progress: ProgressFn | None = None) -> Song:
    """Wait for the job, download every audio of the batch and build the Song from the picked one."""
    options = AceStepOptions.from_request(request)
    with client_for(options, job.api_url) as client:
        try:
            entries = wait_for_result(client, job, options, progress)
        except (AceStepLostTask, AceStepJobFailed):
            forget_submission(out_dir)
            raise
        audios = _download_all(client, entries, Path(out_dir), options.audio_format)
    record = {"engine": "acestep", "api_mode": "native", "api_url": job.api_url, "task_id": job.task_id,
              "submitted": job.payload, "uploads": job.uploads, "result": entries}
    return song_from_entries(entries, audios, record, job.request, options.pick, Path(out_dir))


def _download_all(client: AceStepClient, entries: list[dict], out_dir: Path, fmt: str) -> list[FileArtifact]:
    files = [str(e.get("file") or "") for e in entries]
    if not any(files):
        raise AceStepError("ACE-Step finished the task but returned no audio file")
    return [client.download(url, out_dir / f"song_{i}{_suffix_of(url, fmt)}")
            for i, url in enumerate(files, start=1) if url]


def _suffix_of(file_url: str, fmt: str) -> str:
    """The audio's extension from the server path inside `/v1/audio?path=...`, else the asked format."""
    path = parse_qs(urlsplit(file_url).query).get("path", [""])[0]
    suffix = Path(path).suffix.lower()
    return suffix if suffix in SUFFIX_BY_MIME.values() else f".{fmt}"


def song_from_entries(entries: list[dict], audios: list[FileArtifact], record: dict, request: SongRequest,
                      pick: int, out_dir: Path) -> Song:
    """The Song of audio number `pick` (1-based); the others become extra files."""
    if pick > len(audios):
        raise AceStepError(f"--pick {pick} but ACE-Step returned {len(audios)} audio(s)")
    entry = [e for e in entries if e.get("file")][pick - 1]
    metas = metas_of(entry)
    result = write_json_atomic(out_dir / "result.json", {**record, "picked": pick})
    chosen = audios[pick - 1]
    return Song(
        audio=chosen,
        result=result,
        caption=_text_or(entry.get("prompt"), request.caption),
        lyrics=_text_or(entry.get("lyrics"), request.lyrics),
        duration=audio_duration(chosen.path),
        bpm=metas["bpm"] or request.bpm,
        key_scale=metas["key_scale"] or request.key_scale,
        time_signature=metas["time_signature"] or request.time_signature,
        engine="acestep",
        seed=seed_at(entry.get("seed_value"), pick - 1),
        extra_files=[a for i, a in enumerate(audios) if i != pick - 1],
    )


def _text_or(value: Any, fallback: str) -> str:
    """The server's text when it gave one (even an empty string means 'used nothing'), else ours."""
    return str(value) if isinstance(value, str) else fallback


# ---- completion mode ----------------------------------------------------------------------

def complete_song(request: SongRequest, out_dir: Path, progress: ProgressFn | None = None) -> Song:
    """Completion mode: one blocking /v1/chat/completions call, the audio inline as base64."""
    options = AceStepOptions.from_request(request)
    out_dir = Path(out_dir)
    files = options.upload_files()
    with client_for(options) as client:
        request, options = _effective(request, options, client)
        model = options.model or _primary_model(client)
        parts = [input_audio_part(p.read_bytes(), p.suffix.lstrip(".").lower() or "mp3") for p in files.values()]
        body = build_completion_body(request, options, model, parts)
        _report(progress, 0.0, "generating (completion mode)")
        response = client.chat_completion(body, timeout=options.timeout)
    _report(progress, 1.0, "succeeded")
    data, mime = decode_data_url(completion_audio_url(response))
    audio = _write_audio(out_dir / f"song_1{SUFFIX_BY_MIME.get(mime, '.' + options.audio_format)}", data)
    return _song_from_completion(response, audio, body, request, out_dir)


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


def _song_from_completion(response: dict, audio: FileArtifact, body: dict, request: SongRequest,
                          out_dir: Path) -> Song:
    content = response["choices"][0]["message"].get("content") or ""
    used = parse_completion_content(content)
    record = {"engine": "acestep", "api_mode": "completion", "submitted": _without_audio(body),
              "response": _without_audio(response), "parsed": used}
    return Song(
        audio=audio,
        result=write_json_atomic(out_dir / "result.json", record),
        caption=used.get("caption") or request.caption,
        lyrics=used.get("lyrics", "" if request.instrumental else request.lyrics),
        duration=audio_duration(audio.path),
        bpm=as_int(known(used.get("bpm"))) or request.bpm,
        key_scale=known(used.get("key")) or request.key_scale,
        time_signature=known(used.get("time_signature")) or request.time_signature,
        engine="acestep",
        seed=request.seed,
    )


def _without_audio(obj: Any, key: str = "") -> Any:
    """A copy with base64 audio (data URLs, input_audio `data`) replaced by its size: no song twice."""
    if isinstance(obj, dict):
        return {k: _without_audio(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_without_audio(v) for v in obj]
    if isinstance(obj, str) and len(obj) > 256 and (obj.startswith("data:") or key == "data"):
        return f"<{len(obj)} characters of base64 audio omitted>"
    return obj


# ---- everything in one call ----------------------------------------------------------------

def generate_acestep_song(request: SongRequest, out_dir: Path, progress: ProgressFn | None = None) -> Song:
    """Submit + poll (resubmitting `job.request` once if the server lost the task), or one completion call.

    The flow splits these into cached Prefect tasks; this plain version is for the engine
    registry, scripts and tests.
    """
    options = AceStepOptions.from_request(request)
    if options.api_mode == "completion":
        return complete_song(request, out_dir, progress)
    job = submit_song(request, out_dir)
    try:
        return poll_song(job, request, out_dir, progress)
    except AceStepLostTask as exc:
        log.warning("%s; submitting again once", exc)
        return poll_song(submit_song(job.request, out_dir), request, out_dir, progress)


def step_progress_callback(step: str = "song") -> ProgressFn:
    """Feed the poll's progress to mvflow.progress (terminal listeners + a Prefect progress artifact)."""
    from mvflow.progress import StepProgress

    reporter = StepProgress(step, "ACE-Step")

    def report(fraction: float, stage: str) -> None:
        reporter.description = f"ACE-Step: {stage}" if stage else "ACE-Step"
        reporter(fraction, 1.0)

    return report
