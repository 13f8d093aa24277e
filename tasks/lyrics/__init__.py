"""Step 2 — time the lyrics: transcribe the song and align the words onto the lyrics actually sung."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from mvflow.files import step_dir
from mvflow.lyrics.outside import outside_warnings
from mvflow.lyrics.providers import choose_transcriber
from mvflow.models import LyricsOptions, Song, SyncedLyrics
from mvflow.retries import STEP_CACHE_POLICY, retry_options


def resolve_options(options: LyricsOptions, lyrics: str) -> LyricsOptions:
    """Options with 'auto' replaced by the transcriber the configured keys select.

    Resolved before the task is called, so the cache key names the transcriber that really
    runs: setting a key later re-times the lyrics instead of reusing the local result.
    """
    if options.lrc is not None:
        return options.model_copy(update={"transcriber": "lrc-file"})
    chosen = choose_transcriber(options.transcriber)
    return options.model_copy(update={"transcriber": chosen})


def make_lyrics(song: Song, out_dir: Path | str, options: LyricsOptions, title: str | None = None) -> SyncedLyrics:
    """Time `song.lyrics` (what was sung) against `song.audio`, writing LRC/SRT/ASS/JSON files."""
    from mvflow.lyrics.sync import sync_lyrics, synced_from_lrc

    folder = step_dir(out_dir, "lyrics", song.audio.sha256, song.lyrics, options, title)
    if options.lrc is not None:
        return synced_from_lrc(Path(options.lrc.path), folder, title=title, offset=options.offset,
                               song_end=song.duration)
    return sync_lyrics(
        Path(song.audio.path), song.lyrics, folder, transcriber=options.transcriber,
        title=title, model=options.whisper_model, language=options.language, offset=options.offset,
    )


@task(
    name="transcribe_lyrics",
    task_run_name="transcribe_lyrics [{options.transcriber}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def transcribe_lyrics(song: Song, out_dir: str, options: LyricsOptions, title: str | None = None) -> SyncedLyrics:
    logger = get_run_logger()
    logger.info("timing lyrics with transcriber %r", options.transcriber)
    lyrics = make_lyrics(song, out_dir, options, title)
    logger.info("%d lyric lines timed (%s, %s): %s", len(lyrics.lines), lyrics.source, lyrics.provider,
                lyrics.timing_summary())
    for line in lyrics.unsung:
        logger.info("not sung, left out: %r", line)
    for line in lyrics.unplaced:
        logger.warning("could not place lyric line: %r", line)
    for warning in outside_warnings(lyrics.outside, song.duration):
        logger.warning(warning)
    return lyrics
