"""Step 3b — analyse the song: tempo, beats, bar lines, sections and envelopes, for the render's
motion and the short's cut. Runs once the lyrics are timed (their tags and times place the
sections), beside the cover."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from mvflow.files import step_dir
from mvflow.models import Song, SongAnalysis, SyncedLyrics
from mvflow.retries import STEP_CACHE_POLICY, retry_options


def make_analysis(song: Song, lyrics: SyncedLyrics, out_dir: Path | str) -> SongAnalysis:
    """Analyse `song` into a folder named by the audio's hash, the sheet and the timed lines."""
    from mvflow.analysis.analyse import analyse_audio

    lines = [line.model_dump(include={"text", "start", "end"}) for line in lyrics.lines]
    folder = step_dir(out_dir, "analysis", song.audio.sha256, song.lyrics, song.time_signature, lines)
    return analyse_audio(Path(song.audio.path), folder, song.lyrics, lyrics.lines, song.time_signature)


@task(
    name="analyse_song",
    task_run_name="analyse_song",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def analyse_song(song: Song, lyrics: SyncedLyrics, out_dir: str) -> SongAnalysis:
    logger = get_run_logger()
    analysis = make_analysis(song, lyrics, out_dir)
    logger.info("%.1f bpm, %d beats, %d bars, %d sections (from the %s)", analysis.tempo, len(analysis.beats),
                len(analysis.downbeats), len(analysis.sections), analysis.sections_from)
    return analysis
