"""The lyrics step's plain-Python core: audio (+ known lyrics) -> timed lines and files.

No Prefect here; the step's @task in tasks/lyrics/__init__.py wraps `sync_lyrics`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mvflow.audio import audio_duration
from mvflow.files import write_text_atomic
from mvflow.lyrics.align import instrumental_flags, known_lyric_lines, lines_from_transcript, timing_from_words
from mvflow.lyrics.formats import to_ass, to_enhanced_lrc, to_json, to_lrc, to_srt
from mvflow.lyrics.outside import lines_outside
from mvflow.models import LyricLine, LyricWord, OutsideLine, SyncedLyrics

if TYPE_CHECKING:
    from mvflow.lyrics.timing import Timing


def shift_lines(lines: list[LyricLine], offset: float) -> list[LyricLine]:
    """Lines with `offset` seconds added to every time (positive = later), clamped at 0."""
    return [line.shifted(offset) for line in lines] if offset else lines


def place_on_song(lines: list[LyricLine], offset: float,
                  song_end: float | None) -> tuple[list[LyricLine], list[OutsideLine]]:
    """(the lines shifted by `offset`, clamped at 0; the lines that start outside a song ending at
    `song_end`: after its end, or before 0 by the offset: see mvflow.lyrics.outside)."""
    return shift_lines(lines, offset), lines_outside(lines, offset, song_end)


def write_lyric_files(lines: list[LyricLine], out_dir: Path, title: str | None = None) -> dict:
    """Write lyrics.lrc / .words.lrc / .srt / .ass / .json atomically; times are used as given."""
    out_dir = Path(out_dir)
    return {
        "lrc": write_text_atomic(out_dir / "lyrics.lrc", to_lrc(lines, title=title)),
        "elrc": write_text_atomic(out_dir / "lyrics.words.lrc", to_enhanced_lrc(lines)),
        "srt": write_text_atomic(out_dir / "lyrics.srt", to_srt(lines)),
        "ass": write_text_atomic(out_dir / "lyrics.ass", to_ass(lines, title=title)),
        "json": write_text_atomic(out_dir / "lyrics.json", to_json(lines)),
    }


def is_marked_instrumental(known_lyrics: str) -> bool:
    """Lyrics that are only tags ("[inst]", "[Instrumental]"): nothing is sung, so there is
    nothing to transcribe (whisper would only hallucinate "Thank you." onto the music).
    Empty lyrics are different: they mean "unknown", and the transcript decides."""
    return bool(known_lyrics.strip()) and not known_lyric_lines(known_lyrics)


def synced_from_words(
    words: list[LyricWord],
    known_lyrics: str,
    out_dir: Path,
    *,
    end_time: float | None = None,
    title: str | None = None,
    offset: float = 0.0,
    provider: str = "local",
) -> SyncedLyrics:
    """Everything after a transcript, for any transcriber: place `words` on the known lyrics
    (mvflow.lyrics.align.timing_from_words) or, with none, build lines from them; apply `offset`;
    write the files. `end_time` (the audio's length) keeps the unheard last words of the last
    line inside the song, and finds the lines an offset pushes past it."""
    known = known_lyric_lines(known_lyrics)
    if known:
        timing = timing_from_words(known, words, end_time=end_time, maybe_unsung=instrumental_flags(known_lyrics))
        return synced_from_timing(timing, known_lyrics, out_dir, title=title, offset=offset, provider=provider,
                                  song_end=end_time)
    lines = [] if is_marked_instrumental(known_lyrics) else lines_from_transcript(words)
    lines, outside = place_on_song(lines, offset, end_time)
    return SyncedLyrics(lines=lines, outside=outside, provider=provider,
                        source="transcript" if lines else "instrumental",
                        files=write_lyric_files(lines, out_dir, title=title))


def synced_from_timing(
    timing: Timing,
    known_lyrics: str,
    out_dir: Path,
    *,
    title: str | None = None,
    offset: float = 0.0,
    provider: str = "local",
    song_end: float | None = None,
) -> SyncedLyrics:
    """Files and SyncedLyrics from a transcriber's Timing of the known lines (mvflow.lyrics.timing):
    placed lines with their source and confidence, unsung lines, lines left unplaced, and lines
    the offset moves outside a song ending at `song_end`."""
    known = known_lyric_lines(known_lyrics)
    lines, outside = place_on_song([t.as_line(known[t.index]) for t in timing.placed()], offset, song_end)
    unsung = [known[k] for k in sorted(timing.unsung)]
    unplaced = [text for k, text in enumerate(known) if timing.lines[k] is None and k not in timing.unsung]
    return SyncedLyrics(lines=lines, unplaced=unplaced, unsung=unsung, outside=outside, provider=provider,
                        source="aligned", files=write_lyric_files(lines, out_dir, title=title))


def sync_lyrics(
    audio_path: Path,
    known_lyrics: str,
    out_dir: Path,
    *,
    transcriber: str = "local",
    title: str | None = None,
    model: str | None = None,
    language: str = "en",
    offset: float = 0.0,
) -> SyncedLyrics:
    """Time the lyrics of `audio_path` with `transcriber` (see mvflow.lyrics.providers) and write
    them as LRC, word LRC, SRT, ASS and JSON into `out_dir`.

    With known lyrics (tags like [Verse] are ignored) the transcriber times the user's exact
    lines (source "aligned"): each placed line says how (heard, aligned, estimated) and how
    sure (confidence); lines the audio shows were not sung go to `unsung`, lines that could
    not be timed to `unplaced`. With no known lyrics the transcript itself becomes the lines
    (source "transcript"). Lyrics that are only tags ("[inst]") or a transcript with no words
    give an empty result (source "instrumental"); its files are still written, empty.

    `offset` (seconds, positive = lyrics appear later) is already applied to the returned
    lines and to the files: they hold exactly the times the video shows.
    """
    from mvflow.lyrics.providers import TRANSCRIBERS, choose_transcriber

    audio_path = Path(audio_path)
    known = known_lyric_lines(known_lyrics)
    if is_marked_instrumental(known_lyrics):
        return synced_from_words([], known_lyrics, out_dir, title=title, offset=offset, provider=transcriber)
    provider = choose_transcriber(transcriber)
    chosen = TRANSCRIBERS.get(provider)
    end = audio_duration(audio_path)
    if known:
        timing = chosen.time(audio_path, known_lyrics, language, model)
        return synced_from_timing(timing, known_lyrics, out_dir, title=title, offset=offset, provider=provider,
                                  song_end=end)
    words = chosen.words(audio_path, [], language, model)
    return synced_from_words(words, known_lyrics, out_dir, end_time=end, title=title, offset=offset,
                             provider=provider)


def synced_from_lrc(lrc_path: Path, out_dir: Path, *, title: str | None = None, offset: float = 0.0,
                    song_end: float | None = None) -> SyncedLyrics:
    """The user's own LRC, used as is ("keep my lyrics and my timing"): parsed, shifted by
    `offset`, and written out in every format. No audio is transcribed. Lines stamped after a
    song ending at `song_end`, or moved before 0 by the offset, are kept and listed in `outside`."""
    from mvflow.lyrics.formats import parse_lrc

    lines, outside = place_on_song(parse_lrc(Path(lrc_path).read_text(encoding="utf-8-sig")), offset, song_end)
    return SyncedLyrics(lines=lines, outside=outside, provider="lrc-file", source="user-lrc",
                        files=write_lyric_files(lines, out_dir, title=title))
