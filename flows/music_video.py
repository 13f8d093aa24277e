"""The `music_video` flow: generate_song -> (transcribe_lyrics || make_thumbnail) -> render_video.

Composition only: every step is a cached, retried Prefect task from tasks/. After a cache
hit the step's files are verified (exists + sha256) and the step re-runs with refresh_cache
when they are missing or changed, because Prefect itself never looks at files.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import Task, flow
from prefect.artifacts import create_markdown_artifact
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger
from pydantic import BaseModel

from tasks.artifacts import all_intact, slugify
from tasks.lyrics import resolve_options, transcribe_lyrics
from tasks.manifest import StepRun, publish_alias, summary_markdown, write_manifest
from tasks.models import CoverOptions, LyricsOptions, MusicVideo, RenderOptions, Song, SongRequest
from tasks.render import render_video
from tasks.song import generate_song, poll_song, submit_song, uses_submit_and_poll
from tasks.song.acestep_client import AceStepLostTask
from tasks.thumbnail import make_thumbnail


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
    finished: list[float] = field(default_factory=list)


class StepRunner:
    """Submits steps with the run's result storage and verifies their files when they resolve."""

    def __init__(self, result_storage: Path) -> None:
        self.result_storage = result_storage
        self.steps: list[StepRun] = []

    def _configured(self, task: Task, refresh: bool = False) -> Task:
        options: dict[str, Any] = {"result_storage": self.result_storage}
        if refresh:
            options["refresh_cache"] = True
        return task.with_options(**options)

    def submit(self, name: str, provider: str, task: Task, refresh: bool = False, **kwargs: Any) -> _Pending:
        pending = _Pending(name, provider, task, kwargs, None, time.perf_counter())  # type: ignore[arg-type]
        pending.future = self._configured(task, refresh).submit(**kwargs)
        pending.future.add_done_callback(lambda _f: pending.finished.append(time.perf_counter()))
        return pending

    def resolve(self, pending: _Pending) -> Any:
        """The step's result; re-run with refresh_cache when a cached result's files are gone."""
        pending.future.wait()
        state = pending.future.state
        result = state.result()
        status = "cached" if state.name == "Cached" else "ran"
        own_files = getattr(result, "own_files", list)
        if not all_intact(own_files()):
            get_run_logger().warning("%s: cached files missing or changed on disk; re-running", pending.name)
            result = self._configured(pending.task, refresh=True)(**pending.kwargs)
            status = "re-ran"
        end = time.perf_counter() if status == "re-ran" or not pending.finished else pending.finished[0]
        self.steps.append(StepRun(name=pending.name, status=status, seconds=end - pending.started,
                                  provider=pending.provider))
        return result

    def run(self, name: str, provider: str, task: Task, refresh: bool = False, **kwargs: Any) -> Any:
        return self.resolve(self.submit(name, provider, task, refresh, **kwargs))


def song_step(runner: StepRunner, request: SongRequest, out: str) -> Song:
    """generate_song, or for ACE-Step's native API submit_song + poll_song (one resubmit if the task is lost)."""
    if not uses_submit_and_poll(request):
        return runner.run("song", request.engine, generate_song, request=request, out_dir=out)
    job = runner.run("song-submit", request.engine, submit_song, request=request, out_dir=out)
    try:
        return runner.run("song", request.engine, poll_song, job=job, request=request, out_dir=out)
    except AceStepLostTask as exc:
        get_run_logger().warning("%s; submitting again once", exc)
        job = runner.run("song-submit", request.engine, submit_song, refresh=True, request=request, out_dir=out)
        return runner.run("song", request.engine, poll_song, job=job, request=request, out_dir=out)


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
    lyrics_options = lyrics_options or LyricsOptions()
    render_options = render_options or RenderOptions()
    cover_options = cover_options or CoverOptions(width=render_options.width, height=render_options.height)
    root = Path(output_root).resolve()
    out_dir = root / slugify(title)
    runner = StepRunner(result_storage=root / ".prefect-results")
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

    manifest = write_manifest(video, out_dir, request)
    publish_alias(Path(video.video.path), out_dir / Path(video.video.path).name)
    create_markdown_artifact(
        markdown=summary_markdown(video, runner.steps, manifest),
        key=f"music-video-{slugify(title)}"[:100],
        description=f"Music video: {title}",
    )
    return VideoRun(video=video, out_dir=out, manifest=str(manifest), steps=runner.steps)
