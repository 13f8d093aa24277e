"""Step 1 — generate the song with the engine the request names (built-in `local` by default)."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from tasks.artifacts import STEP_CACHE_POLICY, STEP_RETRY_OPTIONS, retry_only_transient, step_dir
from tasks.models import Song, SongRequest
from tasks.registry import Registry

ENGINES = Registry("song engine", {"local": "tasks.song.local_engine:generate_local_song"})


def make_song(request: SongRequest, out_dir: Path | str) -> Song:
    """Run the requested engine into a folder named by the request's hash."""
    engine = ENGINES.get(request.engine)
    return engine(request, step_dir(out_dir, "song", request))


@task(
    name="generate_song",
    task_run_name="generate_song [{request.engine}]",
    cache_policy=STEP_CACHE_POLICY,
    retry_condition_fn=retry_only_transient,
    **STEP_RETRY_OPTIONS,
)
def generate_song(request: SongRequest, out_dir: str) -> Song:
    logger = get_run_logger()
    logger.info("generating a %.0f s song with engine %r", request.duration, request.engine)
    song = make_song(request, out_dir)
    logger.info("song ready: %s (%.2f s)", song.audio.path, song.duration)
    return song
