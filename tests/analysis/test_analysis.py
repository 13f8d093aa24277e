"""The analysis step checked against the built-in engine, which knows the grid it played:
result.json has its bpm, bar length and sections, placement.json where every line was sung."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mvflow.analysis.analyse import ENVELOPE_RATE, analyse_audio, read_envelopes
from mvflow.analysis.sections import match_lines, sheet_sections
from mvflow.models import LyricLine, SongRequest
from mvflow.song.builtin.engine import generate_local_song

SHEET = """[Intro]
[Verse]
City lights are fading out
The road is calling me tonight
[Chorus]
WE ARE DRIVING THROUGH THE NIGHT
Neon dreams in silver light
[Outro]
"""


def built_in_song(folder: Path, bpm: int, meter: str, seconds: float, lyrics: str = SHEET) -> tuple[dict, list]:
    song = generate_local_song(SongRequest(caption="synthwave", lyrics=lyrics, duration=seconds, bpm=bpm,
                                           time_signature=meter, seed=5), folder)
    placement = json.loads((folder / "placement.json").read_text())
    lines = [LyricLine(text=p["text"], start=p["start"], end=p["end"]) for p in placement]
    return json.loads(Path(song.result.path).read_text()), lines


def off_grid(times: list[float], step: float) -> np.ndarray:
    """How far each time is from the nearest multiple of `step`, seconds."""
    t = np.asarray(times)
    return np.abs(t - np.round(t / step) * step)


@pytest.mark.parametrize(("bpm", "meter"), [(100, "4"), (84, "3"), (150, "4")])
def test_tempo_beats_and_bar_lines_match_what_the_engine_played(tmp_path, bpm, meter):
    result, lines = built_in_song(tmp_path, bpm, meter, 20.0)
    analysis = analyse_audio(tmp_path / "song.wav", tmp_path, SHEET, lines, meter)
    assert analysis.tempo == pytest.approx(bpm, rel=0.01)
    assert analysis.beats_per_bar == int(meter)
    beat = 60.0 / bpm
    assert len(analysis.beats) >= 0.8 * 20.0 / beat  # the whole song is tracked, not a stretch of it
    errors = off_grid(analysis.beats, beat)
    assert errors.max() < 0.05 and np.median(errors) < 0.015  # a fill may pull one beat by a few ms more
    bar = result["bar_seconds"]
    assert off_grid(analysis.downbeats, bar).max() < 0.05  # every bar line is on a bar line the engine played
    assert analysis.downbeats[0] < bar and analysis.downbeats[-1] > 20.0 - 2 * bar


def test_sections_from_the_sheet_are_the_sections_the_engine_played(tmp_path):
    result, lines = built_in_song(tmp_path, 110, "4", 40.0)
    analysis = analyse_audio(tmp_path / "song.wav", tmp_path, SHEET, lines, "4")
    assert analysis.sections_from == "lyrics"
    played = [(s["kind"], s["start"], s["end"]) for s in result["arrangement"]["sections"]]
    found = [(s.kind, s.start, s.end) for s in analysis.sections]
    assert [k for k, _, _ in found] == [k for k, _, _ in played]
    for (_, start, end), (_, want_start, want_end) in zip(found, played, strict=True):
        assert start == pytest.approx(want_start, abs=0.05) and end == pytest.approx(want_end, abs=0.05)
    chorus = next(s for s in analysis.sections if s.kind == "chorus")
    assert chorus.lines == 2 and chorus.complete
    assert chorus.energy > next(s for s in analysis.sections if s.kind == "intro").energy  # the band plays more


def test_without_tags_the_sections_come_from_the_audio_on_bar_lines(tmp_path):
    plain = "\n".join(line for line in SHEET.splitlines() if not line.startswith("["))
    result, lines = built_in_song(tmp_path, 120, "4", 40.0, lyrics=SHEET)
    analysis = analyse_audio(tmp_path / "song.wav", tmp_path, plain, lines, "4")
    assert analysis.sections_from == "audio" and len(analysis.sections) >= 2
    assert analysis.sections[0].start == 0.0 and analysis.sections[-1].end == pytest.approx(analysis.duration, abs=0.01)
    inner = [s.start for s in analysis.sections[1:]]
    assert off_grid(inner, result["bar_seconds"]).max() < 0.05
    assert all(a.end == b.start for a, b in zip(analysis.sections, analysis.sections[1:], strict=False))
    # The engine's intro (one bar of kick and hats) is quieter than the rest: a boundary ends it.
    assert any(abs(t - result["arrangement"]["sections"][1]["start"]) < 0.05 for t in inner)


def test_analysis_json_keeps_the_envelopes(tmp_path):
    _, lines = built_in_song(tmp_path, 100, "4", 12.0)
    analysis = analyse_audio(tmp_path / "song.wav", tmp_path, SHEET, lines, "4")
    env = read_envelopes(analysis.file)
    assert int(env["rate"]) == ENVELOPE_RATE
    assert len(env["onset_strength"]) == pytest.approx(12.0 * ENVELOPE_RATE, abs=2)
    assert env["onset_strength"].max() == pytest.approx(1.0)
    # Loudness: the song is mastered loud (within 20 dB of full scale) and its fade-out is quieter.
    assert -20 < np.percentile(env["loudness_db"], 90) < 0
    assert env["loudness_db"][-10:].mean() < np.percentile(env["loudness_db"], 90) - 6
    beat_frames = (np.asarray(analysis.beats) * ENVELOPE_RATE).round().astype(int)
    assert env["onset_strength"][beat_frames].mean() > 2 * env["onset_strength"].mean()  # beats are onsets


def test_sheet_lines_are_matched_in_order_even_when_one_was_not_timed():
    sheet = sheet_sections(SHEET)
    timed = [LyricLine(text="city lights are fading out!", start=2.0, end=4.0),
             LyricLine(text="We are driving through the night", start=9.0, end=11.0),
             LyricLine(text="Neon dreams in silver light", start=11.5, end=13.0)]
    found = match_lines(sheet, timed)
    assert [len(f) for f in found] == [0, 1, 2, 0]  # intro, verse (one line missing), chorus, outro
    assert found[2][0].start == 9.0
