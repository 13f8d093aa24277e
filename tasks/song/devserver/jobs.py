"""Jobs of the built-in ACE-Step server: the store, the bounded queue, the single worker, faults.

Like upstream: one worker takes jobs from a bounded queue one after another (so a full queue
answers 429), job records live in memory, and with the disk cache (devserver.results) the
running stage and the result are written there too, so they outlive a restart. Jobs generate
with the built-in engine (`generate_local_song`) into a scratch folder and the audio is encoded
at 48 kHz into the server's audio folder, which /v1/audio serves. Faults (FaultPlan) let tests
make the server misbehave on purpose; `skip_lines`/`skip_line_rate` make takes leave lyric lines
out (devserver.takes). A server that stops kills its running job without writing anything more,
like a process that dies.
"""

from __future__ import annotations

import queue
import random
import shutil
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, Field

from mvflow.errors import JobRejected
from mvflow.models import Song, SongRequest
from mvflow.song.devserver import audio as acestep_audio
from mvflow.song.devserver import results
from mvflow.song.devserver.behaviour import Behaviour
from mvflow.song.devserver.plan import LM_MODEL, PRIMARY_MODEL, SongPlan, plan_song
from mvflow.song.devserver.takes import random_skips, sung_line_count

Generator = Callable[[SongRequest, Path], Song]

KEEP_FINISHED_S = 24 * 3600
AVG_JOB_SECONDS = 5.0


class FaultPlan(BaseModel):
    """Misbehaviour on demand. Counters apply to the next N events, then run out."""

    fail_submit_500: int = Field(0, ge=0, description="Next N submits answer a plain-text 500")
    fail_submit_429: int = Field(0, ge=0, description="Next N submits answer 429 queue full")
    fail_jobs: int = Field(0, ge=0, description="Next N jobs end with status 2")
    fail_without_error: bool = Field(False, description="Failed jobs carry no `error` (older servers)")
    job_delay: float = Field(0.0, ge=0, description="Seconds every job spends 'running' before generating")
    forget_submits: int = Field(0, ge=0, description="Next N submits get a task id the server never keeps")
    drop_connections: int = Field(0, ge=0, description="Next N requests lose their connection mid-answer")
    slow_requests: int = Field(0, ge=0, description="Next N requests are answered only after slow_seconds")
    slow_seconds: float = Field(0.0, ge=0, description="How long a slow request waits before its answer")
    fail_query_500: int = Field(0, ge=0, description="Next N /query_result polls answer a plain-text 500")
    fail_download_500: int = Field(0, ge=0, description="Next N /v1/audio downloads answer a plain-text 500")
    trickle_downloads: int = Field(0, ge=0, description="Next N /v1/audio downloads send 1 KiB every 0.1 s")
    proxy_504: int = Field(0, ge=0, description="Next N /v1/chat/completions are answered 504 with an HTML page, "
                                                "as a proxy in front of a hosted server does (no job is made)")
    skip_lines: list[list[int]] = Field(
        default_factory=list, description="The next audios generated leave out these lyric lines (1-based, lines "
                                          "with words), one list per audio, in the order they are generated")
    skip_line_rate: float = Field(0.0, ge=0, le=1, description="Every audio leaves each lyric line out with this "
                                                               "probability, drawn from the audio's seed")


class Faults:
    """A FaultPlan shared by the request handlers and the worker (thread-safe)."""

    def __init__(self, plan: FaultPlan | None = None) -> None:
        self._plan = plan or FaultPlan()
        self._lock = threading.Lock()

    def take(self, name: str) -> bool:
        """Use up one count of a counter fault; True when it fired."""
        with self._lock:
            left = getattr(self._plan, name)
            if left > 0:
                setattr(self._plan, name, left - 1)
            return left > 0

    def next_skips(self) -> list[int] | None:
        """The lines the next audio leaves out (skip_lines), or None when no list is left."""
        with self._lock:
            return self._plan.skip_lines.pop(0) if self._plan.skip_lines else None

    def value(self, name: str) -> Any:
        with self._lock:
            return getattr(self._plan, name)

    def update(self, changes: dict[str, Any]) -> FaultPlan:
        with self._lock:
            self._plan = FaultPlan.model_validate({**self._plan.model_dump(), **changes})
            return self._plan.model_copy()

    def snapshot(self) -> FaultPlan:
        with self._lock:
            return self._plan.model_copy()


@dataclass
class Job:
    task_id: str
    params: dict[str, Any]
    uploads: dict[str, Path] = field(default_factory=dict)
    create_time: int = field(default_factory=lambda: int(time.time()))
    status: int = 0
    progress: float = 0.0
    stage: str = "queued"
    entries: list[dict] = field(default_factory=list)
    audio_paths: list[Path] = field(default_factory=list)
    plan: SongPlan | None = None
    error: str | None = None
    traceback: str | None = None
    started: float | None = None
    finished: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    lora: str | None = None
    skipped: list[list[int]] = field(default_factory=list)

    def store_entries(self, with_error: bool = True) -> list[dict]:
        """The in-memory store's answer for this job (what upstream answers without the disk cache)."""
        if self.status == 1 and self.params["analysis_only"]:  # one entry, no audio: the LM wrote the caption
            return [results.stored_success("", self.create_time, self.plan.caption, self.plan.original_lyrics,
                                           metas(self.plan))]
        if self.status == 1:
            return [results.stored_success(file_url(p), self.create_time, self.plan.lm_caption,
                                           self.plan.original_lyrics, metas(self.plan)) for p in self.audio_paths]
        stage = "queued" if self.started is None else self.stage
        return [results.store_entry(self.status, self.create_time, self.progress, stage,
                                    self.traceback if with_error else None)]


class JobStore:
    """In-memory job records plus the bounded queue the worker consumes."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=maxsize)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._durations: deque[float] = deque(maxlen=50)
        self.last_log = ""

    def log(self, message: str) -> None:
        """Remember the last line logged: /query_result shows it as progress_text, for every job."""
        self.last_log = f"{time.strftime('%H:%M:%S')} | INFO | {message}"

    def add(self, job: Job) -> int:
        """Queue a job; raises queue.Full. Returns its 1-based place among jobs not yet started."""
        self._sweep()
        with self._lock:
            self.queue.put_nowait(job)
            self._jobs[job.task_id] = job
        return self.queue.qsize()

    def get(self, task_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(task_id)

    def upload_paths(self) -> list[Path]:
        """The upload files jobs still own (they are removed when their job ends)."""
        with self._lock:
            return [p for job in self._jobs.values() for p in job.uploads.values()]

    def knows(self, job: Job) -> bool:
        return self.get(job.task_id) is job

    def forget_unfinished(self) -> int:
        """As after a restart: every job not finished is gone from memory (a queued id now looks unknown) and
        stops at once without writing anything more, so the disk cache keeps a running job's last stage."""
        with self._lock:
            lost = [tid for tid, job in self._jobs.items() if job.status == 0]
            for tid in lost:
                self._jobs.pop(tid).cancelled.set()
        return len(lost)

    def finished(self, job: Job) -> None:
        if job.started is not None and job.finished is not None:
            self._durations.append(job.finished - job.started)

    def _sweep(self) -> None:
        cutoff = time.time() - KEEP_FINISHED_S
        with self._lock:
            for tid in [t for t, j in self._jobs.items() if j.finished and j.finished < cutoff]:
                del self._jobs[tid]

    def stats(self) -> dict:
        with self._lock:
            jobs = list(self._jobs.values())
        def count(pred):
            return sum(1 for j in jobs if pred(j))
        return {
            "jobs": {"total": len(jobs), "queued": count(lambda j: j.status == 0 and j.started is None),
                     "running": count(lambda j: j.status == 0 and j.started is not None),
                     "succeeded": count(lambda j: j.status == 1), "failed": count(lambda j: j.status == 2)},
            "queue_size": self.queue.qsize(),
            "queue_maxsize": self.maxsize,
            "avg_job_seconds": sum(self._durations) / len(self._durations) if self._durations else AVG_JOB_SECONDS,
        }


# ---- running: the single worker ---------------------------------------------------------------

class SongMaker:
    """Runs one job: generate each audio of the batch, apply cover/repaint, encode, describe.

    With a disk cache, every stage and the end (success, or a failure without error text at
    f30aee4) are written to it as upstream does; a cancelled job (its server stopped, or
    forgot it) ends without writing anything more.
    """

    def __init__(self, generator: Generator, audio_dir: Path, work_dir: Path, faults: Faults,
                 store: JobStore, behaviour: Behaviour, cache: results.ResultCache | None = None,
                 lora: Callable[[], str | None] = lambda: None) -> None:
        self.generator = generator
        self.audio_dir = audio_dir
        self.work_dir = work_dir
        self.faults = faults
        self.store = store
        self.behaviour = behaviour
        self.cache = cache
        self.lora = lora

    def run(self, job: Job) -> None:
        job.started = time.time()
        job.lora = self.lora()
        scratch = self.work_dir / job.task_id
        try:
            self._wait_injected_delay(job)
            if self.faults.take("fail_jobs"):
                raise RuntimeError("injected fault: generation failed")
            job.plan = plan_song(job.params, "src_audio" in job.uploads, random.Random(), self.behaviour)
            if not job.params["analysis_only"]:  # an analysis-only job: the LM's answer, no audio
                job.audio_paths = self._make(job, job.plan, scratch)
            job.status, job.progress, job.stage = 1, 1.0, "succeeded"
            self._persist(job, [analysis_entry(job)] if job.params["analysis_only"] else
                          [success_entry(job, p) for p in job.audio_paths])
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, never crashes the worker
            if not job.cancelled.is_set():  # a killed server writes nothing more
                job.traceback = traceback.format_exc()
                job.error = f"{type(exc).__name__}: {exc}"
                job.status, job.stage = 2, "failed"
                self.store.log(f"[job {job.task_id}] failed: {job.error}")
                self._persist(job, [results.cached_failure(job.create_time, job.traceback, self.behaviour.newer_api)])
        finally:
            job.finished = time.time()
            shutil.rmtree(scratch, ignore_errors=True)
            for upload in job.uploads.values():
                upload.unlink(missing_ok=True)
            self.store.finished(job)
            job.done.set()

    def _persist(self, job: Job, entries: list[dict]) -> None:
        if self.cache is not None and not job.cancelled.is_set():
            self.cache.set(job.task_id, entries)

    def _stage(self, job: Job, stage: str, progress: float) -> None:
        """Record the job's stage (in the disk cache too); a cancelled job stops here."""
        if job.cancelled.is_set():
            raise JobRejected("the job was forgotten (its server stopped)")
        changed = stage != job.stage
        job.stage, job.progress = stage, progress
        if changed:
            self.store.log(f"[job {job.task_id}] {stage}")
        self._persist(job, [results.running_entry(job.create_time, progress, stage)])

    def _wait_injected_delay(self, job: Job) -> None:
        delay = float(self.faults.value("job_delay"))
        self._stage(job, "running", 0.01)
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            self._stage(job, "running", max(job.progress, min(0.3, 0.3 * (1 - left / delay))))
            time.sleep(min(0.05, left))

    def _make(self, job: Job, plan: SongPlan, scratch: Path) -> list[Path]:
        paths = []
        total = len(plan.seeds)
        for index, seed in enumerate(plan.seeds):
            self._stage(job, f"Generating music (batch size: {total})...", 0.3 + 0.5 * index / total)
            wav = self._render(job, plan, seed, scratch / f"audio_{index}")
            self._stage(job, "Decoding audio...", 0.3 + 0.5 * (index + 1) / total)
            dest = self.audio_dir / f"{uuid.uuid4()}.{acestep_audio.suffix_of(plan.audio_format)}"
            paths.append(acestep_audio.encode_audio(wav, dest, plan.audio_format))
        self._stage(job, "Preparing audio data...", 0.95)
        return paths

    def _render(self, job: Job, plan: SongPlan, seed: int, folder: Path) -> Path:
        """One audio as WAV: text2music, or cover/repaint of the uploaded source."""
        source = job.uploads.get("src_audio")
        skip = self._take_skips(job, plan, seed)
        if plan.task_type == "text2music":
            return self._generate(plan, skip, seed, plan.duration, folder)
        src = acestep_audio.load(source)
        src_seconds = len(src) / acestep_audio.SAMPLE_RATE
        if plan.task_type == "cover":  # a cover is as long as its source, whatever the request says
            generated = acestep_audio.load(self._generate(plan, skip, seed, src_seconds, folder))
            mixed = acestep_audio.cover_mix(src, generated, plan.cover_strength)
        else:
            end = plan.repaint_end if plan.repaint_end > 0 else src_seconds
            generated = acestep_audio.load(self._generate(plan, skip, seed, max(end - plan.repaint_start, 1.0),
                                                          folder))
            mixed = acestep_audio.repaint_splice(src, generated, plan.repaint_start, plan.repaint_end,
                                                 keep_source=repaint_keep(plan))
        return acestep_audio.save(folder / "edited.wav", mixed)

    def _take_skips(self, job: Job, plan: SongPlan, seed: int) -> list[int]:
        """The lyric lines this audio leaves out (none, usually): the FaultPlan's next list, else drawn."""
        skip = self.faults.next_skips()
        if skip is None:
            skip = random_skips(seed, float(self.faults.value("skip_line_rate")), sung_line_count(plan.lyrics))
        job.skipped.append(sorted(skip))
        if skip:
            self.store.log(f"[job {job.task_id}] this take leaves out lyric lines {sorted(skip)}")
        return sorted(skip)

    def _generate(self, plan: SongPlan, skip: list[int], seed: int, seconds: float, folder: Path) -> Path:
        """The built-in engine sings the plan's lyrics; the lines in `skip` keep their bars, unsung."""
        folder.mkdir(parents=True, exist_ok=True)
        request = SongRequest(caption=plan.caption, lyrics=plan.lyrics, duration=max(1.0, min(seconds, 600.0)),
                              bpm=plan.bpm, key_scale=plan.key_scale or None,
                              time_signature=plan.time_signature or "4", language=plan.language, seed=seed,
                              engine_options={"skip_lines": skip} if skip else {})
        return Path(self.generator(request, folder).audio.path)


def repaint_keep(plan: SongPlan) -> float:
    """How much of the source a repainted region keeps: none when aggressive (and at f30aee4), most
    when conservative, 1 - repaint_strength when balanced."""
    return {"aggressive": 0.0, "conservative": 0.8}.get(plan.repaint_mode, 1.0 - plan.repaint_strength)


def file_url(path: Path) -> str:
    """The relative download URL of an audio file, as upstream writes it."""
    return "/v1/audio?path=" + quote(str(path), safe="")


def metas(plan: SongPlan) -> dict[str, Any]:
    """bpm/duration/genres/key/time signature, 'N/A' where unknown (upstream's _normalize_metas)."""
    na = "N/A"
    return {"bpm": plan.bpm or na, "duration": plan.duration, "genres": na, "keyscale": plan.key_scale or na,
            "timesignature": plan.time_signature or na}


def success_entry(job: Job, path: Path) -> dict[str, Any]:
    """One audio of a finished job as the disk cache holds it (the full shape, §5.3)."""
    plan = job.plan
    seconds = (time.time() - job.started) if job.started else 0.0
    count = max(len(job.audio_paths), 1)
    info = (f"**Average Time per Track: {seconds / count:.2f}s** ({count} track(s))\n\n"
            f"**Engine:** mvflow built-in ({plan.task_type})\n\n"
            + (f"**LoRA:** {job.lora}\n\n" if job.lora else "") + f"**Total Time: {seconds:.2f}s**")
    extras = {"generation_info": info, "seed_value": ",".join(map(str, plan.reported_seeds)),
              "lm_model": LM_MODEL, "dit_model": PRIMARY_MODEL}
    return results.cached_success(file_url(path), job.create_time, {"caption": plan.caption, "lyrics": plan.lyrics},
                                  {"caption": plan.original_caption, "lyrics": plan.original_lyrics}, metas(plan),
                                  extras)


def analysis_entry(job: Job) -> dict[str, Any]:
    """An analysis-only job's single entry in the disk cache: what the LM wrote and chose, no audio
    (`file` is ""). Upstream runs the LM's sample step for a `sample_query`, then its metadata pass,
    and returns the caption, the lyrics and the metas without generating any audio."""
    plan = job.plan
    extras = {"generation_info": "Analysis Only Mode Complete", "seed_value": "", "lm_model": LM_MODEL,
              "dit_model": "None (Analysis Only)"}
    return results.cached_success("", job.create_time, {"caption": plan.caption, "lyrics": plan.lyrics},
                                  {"caption": plan.original_caption, "lyrics": plan.original_lyrics}, metas(plan),
                                  extras)


class Worker:
    """The one thread that takes jobs from the queue (so jobs run one after another)."""

    def __init__(self, store: JobStore, maker: SongMaker) -> None:
        self.store = store
        self.maker = maker
        self._thread = threading.Thread(target=self._loop, name="acestep-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        while True:  # make room for the sentinel even if the queue is full
            try:
                self.store.queue.put_nowait(None)
                break
            except queue.Full:
                self._drop_one()
        self._thread.join(timeout)

    def _drop_one(self) -> None:
        try:
            self.store.queue.get_nowait()
        except queue.Empty:
            pass

    def _loop(self) -> None:
        while (job := self.store.queue.get()) is not None:
            if self.store.knows(job):
                self.maker.run(job)
            else:  # forgotten (a simulated restart): never runs, like upstream's lost queued jobs
                for upload in job.uploads.values():
                    upload.unlink(missing_ok=True)
