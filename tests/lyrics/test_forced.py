"""Forced alignment of known lyrics (the local transcriber): timing, confidence, unsung lines and the
estimated fallback, measured on songs the built-in engine sings (placement.json is the truth; the
lyrics code never reads it)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from mvflow.lyrics.align import instrumental_flags, known_lyric_lines
from mvflow.lyrics.forced import time_lines
from mvflow.lyrics.sync import sync_lyrics
from mvflow.lyrics.whisper_align import WhisperAligner
from mvflow.models import SongRequest
from mvflow.song.builtin.engine import generate_local_song

VERSE = ["The city lights are calling me", "I walk along the river side",
         "Every window tells a story", "And every story finds me home"]
SHEET = "[Verse]\n" + "\n".join(VERSE) + "\n"


@cache
def sung(folder: str, lyrics: str, duration: float, seed: int = 7) -> tuple[Path, list[dict]]:
    """A song the built-in engine sings (cached per test session), and where it sang each line."""
    out = Path(folder)
    song = generate_local_song(SongRequest(caption="pop", lyrics=lyrics, duration=duration, bpm=110, seed=seed), out)
    return Path(song.audio.path), json.loads((out / "placement.json").read_text())


@pytest.fixture(scope="module")
def verse_song(tmp_path_factory) -> tuple[Path, list[dict]]:
    audio, truth = sung(str(tmp_path_factory.mktemp("verse")), SHEET, 22.0)
    assert len(truth) == len(VERSE), "the song must be long enough for every line"
    return audio, truth


def timing_of(audio: Path, sheet: str):  # noqa: ANN201 - Timing
    return time_lines(WhisperAligner.from_file(audio), known_lyric_lines(sheet), instrumental_flags(sheet))


def test_every_sung_line_is_placed_with_its_words_and_a_confidence(verse_song):
    audio, truth = verse_song
    timing = timing_of(audio, SHEET)
    placed = timing.placed()
    assert [t.index for t in placed] == [0, 1, 2, 3] and not timing.unsung
    for line, true in zip(placed, truth):
        assert abs(line.start - true["start"]) < 0.3, (line, true["start"])
        onsets = [abs(w.start - t["start"]) for w, t in zip(line.words, true["words"])]
        assert sum(e < 0.3 for e in onsets) >= 0.75 * len(onsets), onsets
        assert line.source in ("heard", "aligned") and line.confidence >= 0.5


def test_a_line_nobody_sings_is_unsung_and_not_shown(tmp_path):
    """An [Instrumental] note between sung lines: the engine plays there and sings nothing."""
    sheet = "[Verse]\n" + "\n".join(VERSE[:2]) + "\n[Instrumental]\n(guitar solo over the chords)\n[Chorus]\n" \
            + "\n".join(VERSE[2:]) + "\n"
    audio, truth = sung(str(tmp_path), sheet, 24.0)
    timing = timing_of(audio, sheet)
    assert timing.unsung == {2}
    assert [t.index for t in timing.placed()] == [0, 1, 3, 4]
    assert abs(timing.lines[3].start - truth[2]["start"]) < 0.3


def test_lines_the_song_is_too_short_for_are_unsung(tmp_path):
    """The engine drops lines from the end when the song is short (result.json lists them)."""
    sheet = SHEET + "[Chorus]\nHold on the morning is near\nSing it loud so the world can hear\n"
    audio, _ = sung(str(tmp_path), sheet, 12.0)
    never = json.loads((audio.parent / "result.json").read_text())["unsung_lines"]
    assert never, "the song should be too short for the whole sheet"
    timing = timing_of(audio, sheet)
    lines = known_lyric_lines(sheet)
    assert {lines[k] for k in timing.unsung} == set(never)
    assert all(timing.lines[lines.index(text)] is None for text in never)


def test_a_line_sung_with_other_words_is_estimated_where_the_voice_is(verse_song):
    """The sheet says one thing, the singer sang another (generated vocals mangle lines): no evidence
    for its words, but a voice in the gap, so it is shown there, marked estimated."""
    audio, truth = verse_song
    sheet = SHEET.replace(VERSE[1], "Purple elephants dance on broken glass")
    timing = timing_of(audio, sheet)
    guess = timing.lines[1]
    assert guess is not None and guess.source == "estimated" and guess.confidence < 0.3
    assert truth[1]["start"] - 1.0 < guess.start < truth[1]["end"] and guess.end > truth[1]["start"]
    assert all(timing.lines[k].source != "estimated" for k in (0, 2, 3))


def test_sync_lyrics_reports_sources_and_unsung_in_the_files(tmp_path):
    sheet = "[Verse]\n" + "\n".join(VERSE[:2]) + "\n[Instrumental]\n(solo)\n[Chorus]\n" + "\n".join(VERSE[2:]) + "\n"
    audio, _ = sung(str(tmp_path / "song"), sheet, 24.0)
    synced = sync_lyrics(audio, sheet, tmp_path / "lyrics")
    assert synced.unsung == ["(solo)"] and synced.unplaced == []
    saved = json.loads(Path(synced.files["json"].path).read_text())
    assert [item["text"] for item in saved] == VERSE
    assert all(item["source"] in ("heard", "aligned") and 0 < item["confidence"] <= 1 for item in saved)
    assert synced.timing_summary().endswith("0 estimated, 1 unsung, 0 unplaced")


CHORUS = ["Hold on the morning is near", "Sing it loud so the world can hear"]
DENSE_SHEET = ("[Verse]\n" + "\n".join(VERSE) + "\n[Chorus]\n" + "\n".join(CHORUS)
               + "\n[Chorus]\n" + "\n".join(CHORUS) + "\n")


def test_a_dense_sung_mix_with_a_skipped_line_and_a_repeated_chorus(tmp_path):
    """The hard case in small: sung notes, the band as loud as the voice with a room, the singer skips
    the verse's second line, the chorus comes twice. Every sung line is placed near its truth (the
    repeat after the first chorus, not on it), the skipped one is unsung."""
    out = tmp_path / "dense"
    song = generate_local_song(SongRequest(caption="pop", lyrics=DENSE_SHEET, duration=34.0, bpm=120, seed=11,
                                           engine_options={"vocal_style": "sung", "mix": "dense", "skip_lines": [2]}),
                               out)
    truth = {p["line"] - 1: p for p in json.loads((out / "placement.json").read_text())}
    assert 1 not in truth and len(truth) == 7, "the song must sing every line but the skipped one"
    timing = timing_of(Path(song.audio.path), DENSE_SHEET)
    assert timing.unsung == {1}
    errors = [abs(timing.lines[k].start - t["start"]) for k, t in truth.items() if timing.lines[k] is not None]
    assert len(errors) >= 6, "at most one sung line unplaced"
    assert sorted(errors)[len(errors) // 2] < 0.3 and max(errors) < 1.0, errors
