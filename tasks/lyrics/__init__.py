"""Step 2 — time the lyrics: transcribe the song and align the words onto the lyrics actually sung."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from tasks.artifacts import STEP_CACHE_POLICY, STEP_RETRY_OPTIONS, retry_only_transient, step_dir
from tasks.models import LyricsOptions, Song, SyncedLyrics
from tasks.registry import Registry

TRANSCRIBERS = Registry("transcriber", {"local": "tasks.lyrics.sync:sync_lyrics"})


def resolve_transcriber(name: str) -> str:
    """'auto' picks the best usable transcriber; today that is the offline `local` one."""
    return "local" if name == "auto" else name


def make_lyrics(song: Song, out_dir: Path | str, options: LyricsOptions, title: str | None = None) -> SyncedLyrics:
    """Time `song.lyrics` (what was sung) against `song.audio`, writing LRC/SRT/JSON files."""
    provider = resolve_transcriber(options.transcriber)
    sync = TRANSCRIBERS.get(provider)
    folder = step_dir(out_dir, "lyrics", song.audio.sha256, song.lyrics, options, title)
    return sync(
        Path(song.audio.path), song.lyrics, folder,
        title=title, model=options.whisper_model, language=options.language, offset=options.offset,
    )


@task(
    name="transcribe_lyrics",
    task_run_name="transcribe_lyrics [{options.transcriber}]",
    cache_policy=STEP_CACHE_POLICY,
    retry_condition_fn=retry_only_transient,
    **STEP_RETRY_OPTIONS,
)
def transcribe_lyrics(song: Song, out_dir: str, options: LyricsOptions, title: str | None = None) -> SyncedLyrics:
    logger = get_run_logger()
    logger.info("timing lyrics with transcriber %r", resolve_transcriber(options.transcriber))
    lyrics = make_lyrics(song, out_dir, options, title)
    logger.info("%d lyric lines timed (%s)", len(lyrics.lines), lyrics.source)
    for line in lyrics.unplaced:
        logger.warning("could not place lyric line: %r", line)
    return lyrics
