"""The `acestep` song engine: submit, poll, download, and say what the server actually made.

Submit and poll are separate functions so the flow can cache the submit (a crash or a
restart re-uses the server's task id instead of generating again) and give the poll its
own deadline. The poll also tells a task the server still works on from one it lost
(`Liveness`): a forgotten id answers "status 0, result []" (declared lost after
`lost_after`), and a job that was running when the server restarted keeps answering its last
stage from the server's disk cache for an hour (declared lost when its stage stays the same
for `stalled_after` while /v1/stats shows the server running and queueing nothing, or for
`stalled_limit` whatever the server does). The caller resubmits a lost task once.

Before sending, `check_server` refuses what the server cannot do; a native request with
uploads to a server that cannot take them is made in completion mode instead (completion.py).
The Song records what the server reports and warns where it differs from the request
(song.py); the full answer is kept as result.json.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import Field

from mvflow.errors import (
    AceStepError,
    AceStepJobFailed,
    AceStepLostTask,
    AceStepTimeout,
    UploadsRejected,
    is_transient,
)
from mvflow.files import inputs_hash, write_json_atomic
from mvflow.models import FileArtifact, Song, SongRequest, StepResult
from mvflow.settings import api_key
from mvflow.song.acestep.client import AceStepClient, TaskState
from mvflow.song.acestep.completion import SUFFIX_BY_MIME, ProgressFn, complete_song, report, upload_fallback
from mvflow.song.acestep.failures import failure_error
from mvflow.song.acestep.options import AceStepOptions, format_suffix
from mvflow.song.acestep.payload import apply_random_sample, build_release_payload
from mvflow.song.acestep.server_info import check_server
from mvflow.song.acestep.song import song_from_entries

log = logging.getLogger("mvflow.acestep")

class AceStepJob(StepResult):
    """A submitted job: enough to poll it again after a crash, with no secret in it."""

    task_id: str
    api_url: str
    payload: dict = Field(description="The fields sent to /release_task (no key, no file bytes)")
    payload_sha256: str
    uploads: list[str] = Field(default_factory=list, description="Names of the uploaded files")
    request: SongRequest = Field(description="The request generated (after random sample mode)")
    submitted_at: float
    warnings: list[str] = Field(default_factory=list, description="Found before submitting (a missing model...)")
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


def effective(request: SongRequest, options: AceStepOptions,
              client: AceStepClient) -> tuple[SongRequest, AceStepOptions]:
    """The request and options to generate: random mode first asks the server for its example."""
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
    polled again rather than submitted a second time. Raises UploadsRejected when the server
    cannot take the uploads (the caller makes the song in completion mode instead).
    """
    if (previous := recorded_submission(out_dir)) is not None:
        log.info("ACE-Step task %s was submitted before (%s); polling it again", previous.task_id, SUBMISSION)
        return previous
    options = AceStepOptions.from_request(request)
    files = options.upload_files()
    with client_for(options) as client:
        request, options = effective(request, options, client)
        warnings = check_server(client, options, uploads=bool(files))
        payload = build_release_payload(request, options)
        task_id = client.submit(payload, files, retries=options.submit_retries, delay=options.retry_delay)
    job = AceStepJob(task_id=task_id, api_url=options.api_url, payload=payload,
                     payload_sha256=inputs_hash(payload, length=64), uploads=[p.name for p in files.values()],
                     request=request, submitted_at=time.time(), warnings=warnings)
    record = write_json_atomic(Path(out_dir) / SUBMISSION, job)
    log.info("ACE-Step task %s submitted to %s", task_id, options.api_url)
    return job.model_copy(update={"record": record})


@dataclass
class Liveness:
    """Tells a task the server still works on from one it lost, from successive polls.

    Lost: its id is unknown for `lost_after` s; or its disk-cache entry (no `metas`: written by a
    server that may have died since) keeps the same stage and progress for `stalled_after` s while
    /v1/stats shows nothing running or queued (or fewer jobs than before: a restart), or for
    `stalled_limit` s whatever the server shows. A queued job, or one answered from the server's
    memory, is alive by definition: a restarted server would not know it.
    """

    options: AceStepOptions
    unknown_since: float | None = None
    signature: tuple | None = None
    changed_at: float = 0.0
    checked_at: float | None = None
    first_total: int | None = None

    def observe(self, client: AceStepClient, state: TaskState, task_id: str, now: float) -> None:
        """Raise AceStepLostTask when the task is lost; otherwise remember what was seen."""
        if state.looks_unknown:
            self.unknown_since = self.unknown_since or now
            if now - self.unknown_since >= self.options.lost_after:
                raise AceStepLostTask(f"ACE-Step does not know task {task_id} any more (the server restarted?)")
            return
        self.unknown_since = None
        signature = (state.status, state.stage, round(state.progress, 4))
        if signature != self.signature or not self._may_be_stale(state):
            self.signature, self.changed_at = signature, now
            return
        still = now - self.changed_at
        if still >= self.options.stalled_limit:
            raise AceStepLostTask(f"ACE-Step task {task_id} stayed at stage {state.stage!r} "
                                  f"({state.progress:.0%}) for {still:.0f} s (the server restarted?)")
        due = self.checked_at is None or now - self.checked_at >= self.options.stalled_after
        if still >= self.options.stalled_after and due:
            self.checked_at = now
            if self._server_idle(client):
                raise AceStepLostTask(f"ACE-Step task {task_id} stays at stage {state.stage!r} "
                                      f"({state.progress:.0%}) but the server runs nothing: it restarted, and "
                                      "only its disk cache remembers the task")

    @staticmethod
    def _may_be_stale(state: TaskState) -> bool:
        first = state.entries[0] if state.entries else {}
        return state.stage != "queued" and "metas" not in first

    def _server_idle(self, client: AceStepClient) -> bool:
        """/v1/stats: nothing running or queued, or fewer jobs than at the first look (a restart)."""
        try:
            jobs = client.stats().get("jobs") or {}
        except (AceStepError, httpx.HTTPError) as exc:
            log.debug("could not read /v1/stats: %s", exc)
            return False
        total = int(jobs.get("total") or 0)
        if self.first_total is None:
            self.first_total = total
        restarted = total < self.first_total
        return restarted or (not jobs.get("running") and not jobs.get("queued"))


def wait_for_result(client: AceStepClient, job: AceStepJob, options: AceStepOptions,
                    progress: ProgressFn | None = None) -> list[dict]:
    """Poll until status 1 (the result entries) or raise: failed, lost, or past the deadline."""
    deadline = time.monotonic() + options.timeout
    liveness = Liveness(options)
    interval = options.poll_interval
    while True:
        state = _poll_once(client, job.task_id, deadline)
        now = time.monotonic()
        if state is not None:
            if state.status == 1:
                report(progress, 1.0, "succeeded")
                return state.entries
            if state.status == 2:
                raise failure_error(job.task_id, state, job.payload, client)
            liveness.observe(client, state, job.task_id, now)
            report(progress, state.progress, state.stage)
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


def poll_song(job: AceStepJob, request: SongRequest, out_dir: Path, progress: ProgressFn | None = None) -> Song:
    """Wait for the job, download every audio of the batch and build the Song (and its takes)."""
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
    return song_from_entries(entries, audios, record, job.request, options, Path(out_dir), job.warnings)


def _download_all(client: AceStepClient, entries: list[dict], out_dir: Path, fmt: str) -> list[FileArtifact]:
    files = [str(e.get("file") or "") for e in entries]
    if not any(files):
        raise AceStepError("ACE-Step finished the task but returned no audio file")
    return [client.download(url, out_dir / f"song_{i}{_suffix_of(url, fmt)}")
            for i, url in enumerate(files, start=1) if url]


def _suffix_of(file_url: str, fmt: str) -> str:
    """The audio's extension from the server path inside `/v1/audio?path=...`, else the asked format's."""
    path = parse_qs(urlsplit(file_url).query).get("path", [""])[0]
    suffix = Path(path).suffix.lower()
    return suffix if suffix in set(SUFFIX_BY_MIME.values()) else format_suffix(fmt)


# ---- everything in one call ----------------------------------------------------------------

def generate_acestep_song(request: SongRequest, out_dir: Path, progress: ProgressFn | None = None) -> Song:
    """Submit + poll (resubmitting `job.request` once if the server lost the task), one completion call per
    audio, or, for uploads a server cannot take, completion mode instead.

    The flow splits submit and poll into cached Prefect tasks when there is no upload; this plain
    version is the engine's `generate`, for uploads, scripts and tests.
    """
    options = AceStepOptions.from_request(request)
    if options.api_mode == "completion":
        return complete_song(request, out_dir, progress)
    try:
        job = submit_song(request, out_dir)
    except UploadsRejected as exc:
        return upload_fallback(request, out_dir, progress, str(exc))
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
