"""Jobs of the built-in ACE-Step server: the store, the bounded queue, the single worker, faults.

Like upstream: one worker takes jobs from a bounded queue one after another (so a full
queue answers 429), job records live in memory, and each state is reported in the shapes
of contract §5.3. Jobs generate with the built-in engine (`generate_local_song`) into a
scratch folder and the audio is encoded into the server's audio folder, which /v1/audio
serves. Faults (FaultPlan) let tests make the server misbehave on purpose.
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
from mvflow.song.devserver import lm as acestep_lm
from mvflow.song.devserver.params import parse_seeds

Generator = Callable[[SongRequest, Path], Song]

PRIMARY_MODEL = "mvflow-local"
LM_MODEL = "mvflow-rule-lm"
FORMATS = ("mp3", "wav", "flac")
STALE_AFTER_S = 3600  # a job still at status 0 this long after create_time is reported failed
KEEP_FINISHED_S = 24 * 3600
AVG_JOB_SECONDS = 5.0
MAX_DURATION_S = 600.0
MAX_BATCH = 8


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
class SongPlan:
    """What a job will generate, after the LM stand-in and the server's defaults."""

    caption: str
    lyrics: str
    bpm: int | None
    key_scale: str
    time_signature: str
    duration: float
    language: str
    seeds: list[int]
    audio_format: str
    task_type: str
    original_caption: str
    original_lyrics: str
    cover_strength: float = 1.0
    repaint_start: float = 0.0
    repaint_end: float = -1.0


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

    def reported_status(self) -> int:
        stale = self.status == 0 and time.time() - self.create_time > STALE_AFTER_S
        return 2 if stale else self.status

    def result_entries(self, with_error: bool = True) -> list[dict]:
        """The list inside `result` for this job's state (contract §5.3)."""
        base = {"file": "", "wave": "", "status": self.status, "create_time": self.create_time, "env": "development"}
        if self.status == 1:
            return self.entries
        if self.status == 2:
            failed = {**base, "progress": 0.0, "stage": "failed"}
            return [{**failed, "error": self.error} if with_error else failed]
        if self.started is None:
            return [{**base, "prompt": "", "lyrics": "", "metas": {}, "progress": 0.0, "stage": "queued",
                     "error": None}]
        return [{**base, "progress": round(self.progress, 3), "stage": self.stage}]


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

    def knows(self, job: Job) -> bool:
        return self.get(job.task_id) is job

    def forget_unfinished(self) -> int:
        """As after a restart: every job not finished is gone (its id now looks unknown) and stops."""
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


# ---- planning: what a job's parameters mean for the built-in engine ------------------------

def plan_song(params: dict[str, Any], has_source: bool, rng: random.Random, lm: bool = True) -> SongPlan:
    """Turn parsed parameters into a SongPlan: LM stand-in, seeds, format, duration, task type.

    `lm` False is a server started without its LM: an analysis job fails, like upstream's.
    """
    if params["full_analysis_only"] or (params["analysis_only"] and not lm):
        raise JobRejected("analysis jobs need ACE-Step's 5Hz LM, which this server has not loaded")
    task_type = params["task_type"] or "text2music"
    if task_type in ("cover", "repaint") and not has_source:
        task_type = "text2music"  # upstream falls back too
    if task_type not in ("text2music", "cover", "repaint"):
        raise JobRejected(f"task_type {task_type!r} needs ACE-Step's DiT; the built-in engine does "
                          "text2music, cover and repaint")
    duration = params["audio_duration"]
    if duration is None or duration <= 0:
        duration = rng.uniform(10.0, 120.0)  # what the DiT does without an LM
    batch = min(max(params["batch_size"], 1), MAX_BATCH)
    plan = SongPlan(
        caption=params["prompt"], lyrics=params["lyrics"], bpm=_tempo(params["bpm"]), key_scale=params["key_scale"],
        time_signature=_beats(params["time_signature"]), duration=min(float(duration), MAX_DURATION_S),
        language=params["vocal_language"] or "en", seeds=_seeds(params, batch, rng),
        audio_format=params["audio_format"] if params["audio_format"] in FORMATS else "flac",
        task_type=task_type, original_caption=params["prompt"], original_lyrics=params["lyrics"],
        cover_strength=params["audio_cover_strength"], repaint_start=params["repainting_start"] or 0.0,
        repaint_end=params["repainting_end"] if params["repainting_end"] else -1.0,
    )
    return apply_lm(plan, params)


def apply_lm(plan: SongPlan, params: dict[str, Any]) -> SongPlan:
    """Sample/description mode writes caption, lyrics and metas; format mode tidies and fills them.

    The request's duration is kept in both (upstream's LM would choose its own length).
    """
    query = params["sample_query"].strip()
    if query or params["sample_mode"]:
        written = acestep_lm.sample_song(query, plan.seeds[0], plan.duration, plan.language)
        plan.caption, plan.lyrics = written["caption"], written["lyrics"]
        plan.bpm, plan.key_scale = written["bpm"], written["key_scale"]
        plan.time_signature, plan.language = written["time_signature"], written["vocal_language"]
        plan.original_caption = plan.original_lyrics = ""
    elif params["use_format"]:
        metas = {"bpm": plan.bpm, "key_scale": plan.key_scale, "time_signature": plan.time_signature,
                 "duration": plan.duration, "language": params["vocal_language"]}
        formatted = acestep_lm.format_song(plan.caption, plan.lyrics, metas, plan.seeds[0])
        plan.caption, plan.lyrics = formatted["caption"], formatted["lyrics"]
        plan.bpm, plan.key_scale = formatted["bpm"], formatted["key_scale"]
        plan.time_signature = formatted["time_signature"]
    return plan


def _tempo(bpm: int | None) -> int | None:
    return bpm if bpm is not None and 30 <= bpm <= 300 else None


def _beats(value: str) -> str:
    text = (value or "").strip().split("/")[0]
    return text if text in ("2", "3", "4", "6") else ""


def _seeds(params: dict[str, Any], batch: int, rng: random.Random) -> list[int]:
    """One seed per audio: the requested ones (newer servers honour them), else random."""
    given = [] if params["use_random_seed"] else parse_seeds(params["seed"])
    seeds = given[:batch]
    while len(seeds) < batch:
        seeds.append(seeds[-1] + 1 if seeds else rng.randrange(2**32))
    return seeds


# ---- running: the single worker ---------------------------------------------------------------

class SongMaker:
    """Runs one job: generate each audio of the batch, apply cover/repaint, encode, describe."""

    def __init__(self, generator: Generator, audio_dir: Path, work_dir: Path, faults: Faults,
                 store: JobStore, lm: bool = True) -> None:
        self.lm = lm
        self.generator = generator
        self.audio_dir = audio_dir
        self.work_dir = work_dir
        self.faults = faults
        self.store = store

    def run(self, job: Job) -> None:
        job.started = time.time()
        scratch = self.work_dir / job.task_id
        try:
            self._wait_injected_delay(job)
            if self.faults.take("fail_jobs"):
                raise RuntimeError("injected fault: generation failed")
            job.plan = plan_song(job.params, "src_audio" in job.uploads, random.Random(), self.lm)
            job.entries = describe_analysis(job, job.plan) if job.params["analysis_only"] else \
                self._make(job, job.plan, scratch)
            job.status, job.progress, job.stage = 1, 1.0, "succeeded"
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, never crashes the worker
            job.traceback = traceback.format_exc()
            job.error = f"{type(exc).__name__}: {exc}"
            job.status, job.stage = 2, "failed"
            self.store.log(f"[job {job.task_id}] failed: {job.error}")
        finally:
            job.finished = time.time()
            shutil.rmtree(scratch, ignore_errors=True)
            for upload in job.uploads.values():
                upload.unlink(missing_ok=True)
            self.store.finished(job)
            job.done.set()

    def _stage(self, job: Job, stage: str, progress: float) -> None:
        """Record the job's stage; a forgotten (restarted-away) job stops here."""
        if job.cancelled.is_set():
            raise JobRejected("the job was forgotten (simulated restart)")
        job.stage, job.progress = stage, progress
        self.store.log(f"[job {job.task_id}] {stage}")

    def _wait_injected_delay(self, job: Job) -> None:
        delay = float(self.faults.value("job_delay"))
        self._stage(job, "running", 0.01)
        end = time.monotonic() + delay
        while (left := end - time.monotonic()) > 0:
            self._stage(job, "running", max(job.progress, min(0.3, 0.3 * (1 - left / delay))))
            time.sleep(min(0.05, left))

    def _make(self, job: Job, plan: SongPlan, scratch: Path) -> list[dict]:
        paths = []
        total = len(plan.seeds)
        for index, seed in enumerate(plan.seeds):
            self._stage(job, f"Generating music (batch size: {total})...", 0.3 + 0.5 * index / total)
            wav = self._render(job, plan, seed, scratch / f"audio_{index}")
            self._stage(job, "Decoding audio...", 0.3 + 0.5 * (index + 1) / total)
            dest = self.audio_dir / f"{uuid.uuid4()}.{plan.audio_format}"
            paths.append(acestep_audio.encode_audio(wav, dest, plan.audio_format))
        self._stage(job, "Preparing audio data...", 0.95)
        job.audio_paths = paths
        return describe(job, plan, paths)

    def _render(self, job: Job, plan: SongPlan, seed: int, folder: Path) -> Path:
        """One audio as WAV: text2music, or cover/repaint of the uploaded source."""
        source = job.uploads.get("src_audio")
        if plan.task_type == "text2music":
            return self._generate(plan, seed, plan.duration, folder)
        src = acestep_audio.load(source)
        src_seconds = len(src) / acestep_audio.SAMPLE_RATE
        if plan.task_type == "cover":
            length = plan.duration if job.params["audio_duration"] else src_seconds
            generated = acestep_audio.load(self._generate(plan, seed, length, folder))
            mixed = acestep_audio.cover_mix(src, generated, plan.cover_strength)
        else:
            end = plan.repaint_end if plan.repaint_end > 0 else src_seconds
            generated = acestep_audio.load(self._generate(plan, seed, max(end - plan.repaint_start, 1.0), folder))
            mixed = acestep_audio.repaint_splice(src, generated, plan.repaint_start, plan.repaint_end)
        return acestep_audio.save(folder / "edited.wav", mixed)

    def _generate(self, plan: SongPlan, seed: int, seconds: float, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        request = SongRequest(caption=plan.caption, lyrics=plan.lyrics, duration=max(1.0, min(seconds, 600.0)),
                              bpm=plan.bpm, key_scale=plan.key_scale or None,
                              time_signature=plan.time_signature or "4", language=plan.language, seed=seed)
        return Path(self.generator(request, folder).audio.path)


def describe(job: Job, plan: SongPlan, paths: list[Path]) -> list[dict]:
    """Success entries, one per audio, in the upstream shape (§5.3)."""
    na = "N/A"
    metas = {"bpm": plan.bpm or na, "duration": plan.duration, "genres": na, "keyscale": plan.key_scale or na,
             "timesignature": plan.time_signature or na, "prompt": plan.original_caption,
             "lyrics": plan.original_lyrics}
    seconds = (time.time() - job.started) if job.started else 0.0
    info = (f"**Average Time per Track: {seconds / max(len(paths), 1):.2f}s** ({len(paths)} track(s))\n\n"
            f"**Engine:** mvflow built-in ({plan.task_type})\n\n**Total Time: {seconds:.2f}s**")
    return [{"file": "/v1/audio?path=" + quote(str(p), safe=""), "wave": "", "status": 1,
             "create_time": job.create_time, "env": "development", "prompt": plan.caption, "lyrics": plan.lyrics,
             "metas": metas, "generation_info": info, "seed_value": ",".join(map(str, plan.seeds)),
             "lm_model": LM_MODEL, "dit_model": PRIMARY_MODEL, "progress": 1.0, "stage": "succeeded"}
            for p in paths]


def describe_analysis(job: Job, plan: SongPlan) -> list[dict]:
    """An analysis-only job's single entry: what the LM wrote and chose, no audio (`file` is "").

    Upstream (f30aee4) runs the LM's sample step for a `sample_query`, then its metadata pass,
    and returns the caption, the lyrics and the metas without generating any audio.
    """
    metas = {"bpm": plan.bpm or "N/A", "duration": plan.duration, "genres": "", "keyscale": plan.key_scale or "N/A",
             "timesignature": plan.time_signature or "N/A", "prompt": "", "lyrics": ""}
    return [{"file": "", "wave": "", "status": 1, "create_time": job.create_time, "env": "development",
             "prompt": plan.caption, "lyrics": plan.lyrics, "metas": metas,
             "generation_info": "Analysis Only Mode Complete", "seed_value": "", "lm_model": LM_MODEL,
             "dit_model": "None (Analysis Only)", "progress": 1.0, "stage": "succeeded"}]


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
