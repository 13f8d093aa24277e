"""Step 1 — generate the song with the engine the request names (built-in `local` by default).

Engines are objects in a registry (mvflow.song.engines): this module asks the request's
engine what to do and never branches on its name. An engine that submits and polls
(ACE-Step's native API) is two tasks: `submit_song` (cached: a crash or restart re-uses the
server's task id instead of generating again) and `poll_song` (its own deadline). Every other
engine — the built-in one, ACE-Step's completion mode — is the single task `generate_song`.

`song_slot` is the gate in front of a song server: a Prefect global concurrency limit per
server (`songs-local`, `songs-<host:port>`), so batches and parallel runs never flood a GPU.
With several interchangeable servers (a pool: `--api-url A,B`) a song takes a slot of whichever
server has one free, and a server that is down is skipped with a warning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy
from prefect.logging import get_run_logger

from mvflow.files import inputs_hash, step_dir
from mvflow.models import Song, SongRequest
from mvflow.retries import STEP_CACHE_POLICY, retry_options
from mvflow.song.engines import engine_for


def song_dir(request: SongRequest, out_dir: Path | str) -> Path:
    """The song's folder, named by what changes the audio (not by timeouts or poll settings)."""
    return step_dir(out_dir, "song", engine_for(request).audio_request(request))


def uses_submit_and_poll(request: SongRequest) -> bool:
    """True when the flow runs the request's engine as submit_song + poll_song (ACE-Step's native API)."""
    return engine_for(request).runs_submit_and_poll(request)


#: A crashed holder's slot is handed back this long after its last lease renewal.
SLOT_LEASE_SECONDS = 60
#: How often a song waiting for its server's slot says so in the log.
SLOT_WAIT_NOTICE_SECONDS = 300
#: How often a waiting song looks for slots held by runs that died.
SLOT_RECLAIM_SECONDS = 5


def song_server(request: SongRequest) -> str:
    """Who generates the song: 'local' for the built-in engine, 'host:port' for an ACE-Step server."""
    return engine_for(request).server(request)


def song_limit_name(request: SongRequest) -> str:
    """The Prefect global concurrency limit guarding the request's song server, e.g. songs-127.0.0.1:8001."""
    return f"songs-{song_server(request)}"


def song_limit_names(request: SongRequest) -> list[str]:
    """The limits of every server the request may use (one, or each server of a pool)."""
    return [f"songs-{server}" for server in engine_for(request).servers(request)]


def ensure_song_limit(name: str, limit: int | None = None) -> None:
    """Make the limit exist: with `limit`, set it to that; without, create it at 1 only if it is missing.

    Needed because `concurrency(..., strict=True)` refuses a missing limit (and without
    strict a missing limit limits nothing at all).
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        if limit is not None:
            client.upsert_global_concurrency_limit_by_name(name, limit)
            return
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.upsert_global_concurrency_limit_by_name(name, 1)


@contextmanager
def song_slot(request: SongRequest) -> Iterator[SongRequest]:
    """Hold one slot of the song server's limit while its song is generated (submit to download); yields
    the request aimed at the server whose slot it holds (in a pool, the first one with a free slot).

    Held by the flow around the whole song step rather than inside a task, so a song waiting
    for the GPU occupies no task-runner worker and ACE-Step's submit + poll share one slot.
    The slot is crash-safe (mvflow.slots): a run killed while holding it does not keep it.
    """
    from mvflow.slots import crash_safe_slot

    servers = engine_for(request).servers(request)
    if len(servers) > 1:
        with _pool_slot(request, servers) as aimed:
            yield aimed
        return
    name = song_limit_name(request)
    ensure_song_limit(name)
    with ExitStack() as held:
        with _noticed_wait(name):
            held.enter_context(crash_safe_slot(name, SLOT_LEASE_SECONDS))
        yield request


#: Longest pause between two rounds of a pool's servers when none had a free slot.
POOL_MAX_PAUSE_SECONDS = 10.0


@contextmanager
def _pool_slot(request: SongRequest, servers: list[str]) -> Iterator[SongRequest]:
    """A slot of whichever server of the pool has one free, skipping (with a warning) servers that are down.

    Every server keeps its own limit `songs-<server>`, so N servers make N songs at once (times their
    limit). The servers are asked in turn, starting from a different one for each song; when all are
    busy, it tries again after a pause that grows to POOL_MAX_PAUSE_SECONDS. When none answers at all
    the song fails (a transient fault: the others of a batch go on, and a re-run tries again).
    """
    from mvflow.errors import ServiceError
    from mvflow.slots import held, try_slot

    engine, logger = engine_for(request), get_run_logger()
    for server in servers:
        ensure_song_limit(f"songs-{server}")
    start, pause, warned = request.seed % len(servers), 1.0, set()
    while True:
        up = []
        for server in servers[start:] + servers[:start]:
            reason = engine.why_down(request, server)
            if reason is None:
                up.append(server)
            elif server not in warned:
                warned.add(server)
                logger.warning("song server %s is down (%s): skipping it", server, reason)
        if not up:
            raise ServiceError(f"none of the song servers {', '.join(servers)} answers: start one, or check "
                               "--api-url", None)
        for server in up:
            taken = try_slot(f"songs-{server}", SLOT_LEASE_SECONDS)
            if taken is not None:
                logger.info("song goes to %s (a free slot of songs-%s)", server, server)
                with held(f"songs-{server}", taken, SLOT_LEASE_SECONDS):
                    yield engine.on_server(request, server)
                return
        time.sleep(pause)
        pause = min(pause * 1.5, POOL_MAX_PAUSE_SECONDS)


@contextmanager
def _noticed_wait(name: str) -> Iterator[None]:
    """While the block waits for a slot, free the slots of runs that died, and say every few minutes
    what it waits for.

    (A watcher thread rather than an acquire timeout: a timeout firing as the slot is granted
    can lose the lease and hold the slot until it expires.)
    """
    from mvflow.slots import reclaim_dead_holders

    logger = get_run_logger()
    acquired = threading.Event()

    def watch() -> None:
        start, notice_at = time.monotonic(), SLOT_WAIT_NOTICE_SECONDS
        while not acquired.wait(min(SLOT_RECLAIM_SECONDS, SLOT_WAIT_NOTICE_SECONDS)):
            try:
                reclaim_dead_holders(name)
            except Exception as exc:  # noqa: BLE001 - a failed clean-up must not stop the wait
                logger.debug("could not check for dead slot holders: %s", exc)
            waited = time.monotonic() - start
            if waited >= notice_at:
                notice_at += SLOT_WAIT_NOTICE_SECONDS
                logger.warning(
                    "still waiting for a slot of concurrency limit %r after %.0f min: another run is generating "
                    "on that server. If none is, a run on another machine died holding it; free it with "
                    "`prefect gcl update %s --active-slots 0`", name, waited / 60, name)

    threading.Thread(target=watch, name=f"wait-{name}", daemon=True).start()
    try:
        yield
    finally:
        acquired.set()


def make_song(request: SongRequest, out_dir: Path | str) -> Song:
    """Run the requested engine, whole, into the song's folder."""
    return engine_for(request).generate(request, song_dir(request, out_dir))


@task(
    name="generate_song",
    task_run_name="generate_song [{request.engine}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def generate_song(request: SongRequest, out_dir: str) -> Song:
    logger = get_run_logger()
    logger.info("generating a %.0f s song with engine %r", request.duration, request.engine)
    song = make_song(request, out_dir)
    logger.info("song ready: %s (%.2f s)", song.audio.path, song.duration)
    return song


def submit_cache_key(context, parameters: dict[str, Any]) -> str:  # noqa: ANN001 - Prefect's cache_key_fn
    """The submit step's cache key: what changes the audio (the engine's audio_request) and where it goes,
    not timeouts or poll pacing, so raising --timeout re-uses the submitted job."""
    request = parameters["request"]
    return inputs_hash(engine_for(request).audio_request(request), str(parameters.get("out_dir")), length=64)


@task(
    name="submit_song",
    task_run_name="submit_song [{request.engine}]",
    cache_policy=CacheKeyFnPolicy(cache_key_fn=submit_cache_key) + TASK_SOURCE,
    **retry_options(),
)
def submit_song(request: SongRequest, out_dir: str):  # noqa: ANN201 - the engine's job (AceStepJob)
    """Submit the song's job (ACE-Step: /release_task); the returned job (task id) is cached."""
    job = engine_for(request).submit(request, song_dir(request, out_dir))
    get_run_logger().info("%s job %s submitted", request.engine, getattr(job, "task_id", "?"))
    return job


@task(
    name="poll_song",
    task_run_name="poll_song [{request.engine}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def poll_song(job, request: SongRequest, out_dir: str) -> Song:  # noqa: ANN001 - the engine's job (AceStepJob)
    """Wait for the job (ACE-Step: /query_result) until it ends or its deadline, then fetch the audio."""
    song = engine_for(request).poll(job, request, song_dir(request, out_dir))
    get_run_logger().info("song ready: %s (%.2f s)", song.audio.path, song.duration)
    return song
