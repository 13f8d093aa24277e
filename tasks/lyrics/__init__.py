"""Step 2 — time the lyrics: transcribe the song and align the words onto the lyrics actually sung.

A song with takes (`--takes N`) is timed take by take instead, and the best take becomes the
song (`time_takes`, mvflow.lyrics.takes); `lyrics_task` says which task a song needs and
`song_and_lyrics` unpacks either result for the flow.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from mvflow.files import step_dir
from mvflow.lyrics.outside import outside_warnings
from mvflow.lyrics.providers import choose_transcriber
from mvflow.lyrics.takes import TakeChoice, choose_take
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


def lyrics_step(name: str):  # noqa: ANN201 - a Prefect task decorator
    """The lyrics step's Prefect task options: cached on its inputs, transient faults retried."""
    return task(name=name, task_run_name=f"{name} [{{options.transcriber}}]", cache_policy=STEP_CACHE_POLICY,
                **retry_options())


@lyrics_step("transcribe_lyrics")
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


@lyrics_step("time_takes")
def time_takes(song: Song, out_dir: str, options: LyricsOptions, title: str | None = None) -> TakeChoice:
    """Time the lyrics on every take and keep the take whose vocals carry them best (mvflow.lyrics.takes)."""
    logger = get_run_logger()
    logger.info("timing the lyrics of %d takes with transcriber %r", len(song.takes), options.transcriber)
    choice = choose_take(song, out_dir, options, title)
    for take in choice.song.takes:
        score = take.score
        verdict = "not compared (no known lyrics)" if score is None else score.summary() + (
            f", skipped {score.skipped}" if score.skipped else "")
        logger.info("take %d%s: %s", take.number, " (chosen)" if score and score.chosen else "", verdict)
    return choice


def lyrics_task(song: Song, options: LyricsOptions):  # noqa: ANN201 - a Prefect task
    """The lyrics step's task for `song`: time_takes when it has takes to compare (and no LRC of the
    user's own, which fits one take as well as another), else transcribe_lyrics."""
    return time_takes if len(song.takes) > 1 and options.lrc is None else transcribe_lyrics


def song_and_lyrics(song: Song, result: SyncedLyrics | TakeChoice) -> tuple[Song, SyncedLyrics]:
    """(the song, its timed lyrics) after the lyrics step: the chosen take when takes were compared."""
    if isinstance(result, TakeChoice):
        return result.song, result.lyrics
    return song, result
