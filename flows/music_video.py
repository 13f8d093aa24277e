"""The `music_video` flow: generate_song -> (transcribe_lyrics || make_thumbnail) -> render_video.

Composition only: every step is a cached, retried Prefect task from tasks/. After a cache
hit the step's files are verified (exists + sha256) and the step re-runs with refresh_cache
when they are missing or changed, because Prefect itself never looks at files.

`make_video` is the per-video pipeline; `music_video` runs it once, the batch flow
(flows/batch.py) once per song in parallel threads of one flow run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import Task, flow, tags
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from pydantic import BaseModel

from mvflow.cover import make_thumbnail
from mvflow.errors import AceStepLostTask
from mvflow.files import all_intact, slugify
from mvflow.lyrics import resolve_options, transcribe_lyrics
from mvflow.manifest import StepRun, publish_alias, summary_markdown, write_manifest
from mvflow.models import CoverOptions, LyricsOptions, MusicVideo, RenderOptions, Song, SongRequest
from mvflow.render import render_video
from mvflow.retries import step_retry_options
from mvflow.song import generate_song, poll_song, song_limit_name, song_slot, submit_song, uses_submit_and_poll


class VideoRun(BaseModel):
    """What one flow run produced and how each step went."""

    video: MusicVideo
    out_dir: str
    manifest: str
    steps: list[StepRun]

    @property
    def all_cached(self) -> bool:
        return all(s.status == "cached" for s in self.steps)


@dataclass
class _Pending:
    name: str
    provider: str
    task: Task
    kwargs: dict[str, Any]
    future: PrefectFuture
    started: float
    uses_cpu: bool
    finished: list[float] = field(default_factory=list)


def _literal(text: str) -> str:
    """`text` safe inside a Prefect run-name template (which is str.format-ed with the parameters)."""
    return text.replace("{", "{{").replace("}", "}}")


class StepRunner:
    """Submits one video's steps and verifies their files when they resolve.

    `label` (the song's title) goes into every task run name, so the dashboard says which
    song a run belongs to. `cpu_slots`, when given, caps how many CPU-heavy steps of all
    songs run at once: a slot is taken before a step is submitted and given back when it ends.
    `song_queues` (limit name -> semaphore sized like the limit) make a batch's songs queue
    in-process before asking the server for a slot: the server answers a refused slot with
    a growing Retry-After (up to 30 s), while a local hand-over is immediate.
    """

    def __init__(self, result_storage: Path, label: str | None = None,
                 cpu_slots: threading.Semaphore | None = None,
                 song_queues: dict[str, threading.Semaphore] | None = None) -> None:
        self.result_storage = result_storage
        self.label = label
        self.cpu_slots = cpu_slots
        self.song_queues = song_queues or {}
        self.steps: list[StepRun] = []
        self.failed_step: str | None = None

    def _configured(self, task: Task, provider: str, refresh: bool = False) -> Task:
        options: dict[str, Any] = {"result_storage": self.result_storage, **step_retry_options()}
        if self.label:
            options["task_run_name"] = _literal(f"{task.name}: {self.label} [{provider}]")
        if refresh:
            options["refresh_cache"] = True
        return task.with_options(**options)

    def _slot(self, uses_cpu: bool) -> threading.Semaphore | nullcontext:
        """A CPU slot for a step that needs one (as a context manager)."""
        return self.cpu_slots if self.cpu_slots is not None and uses_cpu else nullcontext()

    @contextmanager
    def song_turn(self, request: SongRequest) -> Iterator[None]:
        """Wait for this process's turn at the song server (if queued locally), then for a server slot."""
        queue = self.song_queues.get(song_limit_name(request))
        with queue if queue is not None else nullcontext(), song_slot(request):
            yield

    def submit(self, name: str, provider: str, task: Task, refresh: bool = False, uses_cpu: bool = True,
               **kwargs: Any) -> _Pending:
        if self.cpu_slots is not None and uses_cpu:
            self.cpu_slots.acquire()  # given back by _release when the step ends, not when submit returns
        pending = _Pending(name, provider, task, kwargs, None, time.perf_counter(), uses_cpu)  # type: ignore[arg-type]
        try:
            pending.future = self._configured(task, provider, refresh).submit(**kwargs)
        except BaseException:
            self._release(pending)
            raise
        pending.future.add_done_callback(lambda _f: self._finished(pending))
        return pending

    def _finished(self, pending: _Pending) -> None:
        pending.finished.append(time.perf_counter())
        self._release(pending)

    def _release(self, pending: _Pending) -> None:
        if self.cpu_slots is not None and pending.uses_cpu:
            self.cpu_slots.release()

    def resolve(self, pending: _Pending) -> Any:
        """The step's result; re-run with refresh_cache when a cached result's files are gone."""
        try:
            return self._verified(pending)
        except BaseException:
            self.failed_step = self.failed_step or pending.name
            raise

    def _verified(self, pending: _Pending) -> Any:
        pending.future.wait()
        state = pending.future.state
        result = state.result()
        status = "cached" if state.name == "Cached" else "ran"
        own_files = getattr(result, "own_files", list)
        # A step that just ran wrote and hashed its files; only a cache hit can point at stale ones.
        if status == "cached" and not all_intact(own_files()):
            get_run_logger().warning("%s: cached files missing or changed on disk; re-running", pending.name)
            with self._slot(pending.uses_cpu):
                result = self._configured(pending.task, pending.provider, refresh=True)(**pending.kwargs)
            status = "re-ran"
        end = time.perf_counter() if status == "re-ran" or not pending.finished else pending.finished[0]
        self.steps.append(StepRun(name=pending.name, status=status, seconds=end - pending.started,
                                  provider=pending.provider))
        return result

    def run(self, name: str, provider: str, task: Task, refresh: bool = False, uses_cpu: bool = True,
            **kwargs: Any) -> Any:
        return self.resolve(self.submit(name, provider, task, refresh, uses_cpu, **kwargs))


def song_step(runner: StepRunner, request: SongRequest, out: str) -> Song:
    """The song, generated while holding a slot of the song server's concurrency limit."""
    with runner.song_turn(request):
        return _generate(runner, request, out)


def _generate(runner: StepRunner, request: SongRequest, out: str) -> Song:
    """generate_song, or for ACE-Step's native API submit_song + poll_song (one resubmit if the task is lost).

    Song steps take no CPU slot: the song server's own limit already bounds them.
    """
    if not uses_submit_and_poll(request):
        return runner.run("song", request.engine, generate_song, uses_cpu=False, request=request, out_dir=out)
    job = runner.run("song-submit", request.engine, submit_song, uses_cpu=False, request=request, out_dir=out)
    try:
        return runner.run("song", request.engine, poll_song, uses_cpu=False, job=job, request=request, out_dir=out)
    except AceStepLostTask as exc:
        get_run_logger().warning("%s; submitting again once", exc)
        runner.failed_step = None
        job = runner.run("song-submit", request.engine, submit_song, refresh=True, uses_cpu=False,
                         request=request, out_dir=out)
        return runner.run("song", request.engine, poll_song, uses_cpu=False, job=job, request=request, out_dir=out)


def run_tags(request: SongRequest, render_options: RenderOptions | None, *extra: str) -> list[str]:
    """Dashboard tags of a video's runs: which engine and style made it (plus e.g. its batch)."""
    style = (render_options or RenderOptions()).style
    return [f"engine:{request.engine}", f"style:{Path(style).stem}", *extra]


def tag_flow_run(extra: list[str]) -> None:
    """Add tags to the running flow run itself: a `tags()` context only reaches runs created inside it,
    and a dashboard filter on engine or style should find the flow runs, not just their tasks."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=sorted({*context.flow_run.tags, *extra}))


def make_video(
    runner: StepRunner,
    request: SongRequest,
    title: str,
    output_root: str = "mvflow_output",
    lyrics_options: LyricsOptions | None = None,
    cover_options: CoverOptions | None = None,
    render_options: RenderOptions | None = None,
) -> VideoRun:
    """One video's whole pipeline, for any flow: song -> (lyrics || cover) -> render -> manifest + artifact.

    The batch flow calls it once per song, each in its own thread, so a song's lyrics, cover
    and render start as soon as its own song is ready.
    """
    lyrics_options = lyrics_options or LyricsOptions()
    render_options = render_options or RenderOptions()
    cover_options = cover_options or CoverOptions(width=render_options.width, height=render_options.height)
    out_dir = Path(output_root).resolve() / slugify(title)
    out = str(out_dir)

    song = song_step(runner, request, out)
    lyrics_options = resolve_options(lyrics_options, song.lyrics)
    lyrics_pending = runner.submit(
        "lyrics", lyrics_options.transcriber, transcribe_lyrics,
        song=song, out_dir=out, options=lyrics_options, title=title,
    )
    cover_pending = runner.submit(
        "thumbnail", cover_options.provider, make_thumbnail,
        caption=song.caption, title=title, seed=request.seed, out_dir=out, options=cover_options,
    )
    lyrics = runner.resolve(lyrics_pending)
    cover = runner.resolve(cover_pending)
    video = runner.run(
        "render", f"{render_options.width}x{render_options.height}", render_video,
        song=song, lyrics=lyrics, cover=cover, title=title, out_dir=out, options=render_options,
    )
    return _publish(video, runner.steps, out_dir, request)


def _publish(video: MusicVideo, steps: list[StepRun], out_dir: Path, request: SongRequest) -> VideoRun:
    """Manifest, the friendly MP4 alias and the per-video markdown artifact."""
    manifest = write_manifest(video, out_dir, request)
    publish_alias(Path(video.video.path), out_dir / Path(video.video.path).name)
    create_markdown_artifact(
        markdown=summary_markdown(video, steps, manifest),
        key=f"music-video-{slugify(video.title)}"[:100],
        description=f"Music video: {video.title}",
    )
    get_run_logger().info("%r done: %s", video.title, video.video.path)
    return VideoRun(video=video, out_dir=str(out_dir), manifest=str(manifest), steps=steps)


def results_folder(output_root: str) -> Path:
    """Where Prefect persists the step results of videos under `output_root`."""
    return Path(output_root).resolve() / ".prefect-results"


@flow(name="music_video", flow_run_name="music-video: {title}", log_prints=True)
def music_video(
    request: SongRequest,
    title: str,
    output_root: str = "mvflow_output",
    lyrics_options: LyricsOptions | None = None,
    cover_options: CoverOptions | None = None,
    render_options: RenderOptions | None = None,
) -> VideoRun:
    """Make one music video. Outputs go to <output_root>/<slug of title>/."""
    runner = StepRunner(result_storage=results_folder(output_root), label=title)
    tag_flow_run(run_tags(request, render_options))
    with tags(*run_tags(request, render_options)):
        return make_video(runner, request, title, output_root, lyrics_options, cover_options, render_options)
