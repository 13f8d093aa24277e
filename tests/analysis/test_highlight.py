"""The short's cut: the first full chorus, from a bar line to a phrase boundary, at most 59 s with its
fades; the loudest section without a chorus; the user's own range."""

from __future__ import annotations

import pytest

from mvflow.analysis.highlight import MAX_SHORT, phrase_boundaries, short_clip
from mvflow.errors import InputError
from mvflow.models import FileArtifact, LyricLine, SongAnalysis, SongSection

BAR = 2.0  # 120 bpm, 4/4


def analysis_of(sections: list[SongSection], duration: float) -> SongAnalysis:
    beats = [i * BAR / 4 for i in range(int(duration / (BAR / 4)))]
    return SongAnalysis(tempo=120.0, beats_per_bar=4, beats=beats, downbeats=beats[::4], sections=sections,
                        sections_from="lyrics", duration=duration,
                        file=FileArtifact(path="/nonexistent/analysis.json", sha256="0" * 64, size=0))


def line(text: str, start: float, end: float) -> LyricLine:
    return LyricLine(text=text, start=start, end=end)


def test_the_short_is_the_first_full_chorus_from_its_bar_line_to_a_phrase_boundary():
    sections = [SongSection(kind="verse", start=0.0, end=16.0, lines=2),
                SongSection(kind="chorus", start=16.0, end=24.0, lines=2),
                SongSection(kind="verse", start=24.0, end=32.0, lines=1),
                SongSection(kind="chorus", start=32.0, end=40.0, lines=2)]
    lines = [line("a", 0.1, 3.0), line("b", 8.1, 11.0), line("chorus one", 16.05, 19.5),
             line("chorus two", 20.1, 22.7), line("c", 24.1, 27.0), line("chorus one", 32.1, 35.0)]
    analysis = analysis_of(sections, 44.0)
    clip = short_clip(analysis, lines)
    assert clip.reason == "first full chorus"
    assert clip.phrase_start == 16.0  # the bar line of the first chorus line (within one bar of it)
    assert clip.phrase_end == 24.0  # after its last line, four bars: the next bar line no line crosses
    assert clip.phrase_end in phrase_boundaries(analysis, lines)
    assert (clip.start, clip.end, clip.fade_in, clip.fade_out) == (15.5, 24.5, 0.5, 0.5)


def test_a_phrase_end_closes_an_even_number_of_bars_when_the_next_section_allows():
    """The transcript stamps a held last word early: three bars become the four the phrase has."""
    sections = [SongSection(kind="chorus", start=4.0, end=16.0, lines=2),
                SongSection(kind="outro", start=16.0, end=20.0)]
    lines = [line("x", 4.0, 7.5), line("y", 8.0, 9.6)]
    clip = short_clip(analysis_of(sections, 20.0), lines)
    assert clip.phrase_end == 12.0  # 9.6 -> bar line 10.0 is 3 bars from 4.0; 12.0 makes 4


def test_a_bar_line_inside_a_sung_line_is_not_a_boundary():
    analysis = analysis_of([SongSection(kind="chorus", start=0.0, end=10.0, lines=1)], 10.0)
    bounds = phrase_boundaries(analysis, [line("long", 1.0, 5.0)])
    assert 2.0 not in bounds and 4.0 not in bounds and 6.0 in bounds and 0.0 in bounds and 10.0 in bounds


def test_a_long_chorus_is_cut_to_59_seconds_at_a_phrase_boundary():
    chorus_lines = [line(f"l{i}", 10.0 + 4 * i + 0.05, 10.0 + 4 * i + 3.0) for i in range(20)]
    analysis = analysis_of([SongSection(kind="verse", start=0.0, end=10.0),
                            SongSection(kind="chorus", start=10.0, end=92.0, lines=20)], 100.0)
    clip = short_clip(analysis, chorus_lines)
    assert clip.duration <= MAX_SHORT
    assert clip.phrase_end in phrase_boundaries(analysis, chorus_lines)
    assert clip.phrase_end >= MAX_SHORT - 4.0  # as long as fits, not far shorter


def test_an_incomplete_chorus_is_used_only_when_no_complete_one_exists():
    sections = [SongSection(kind="chorus", start=0.0, end=8.0, lines=1, complete=False),
                SongSection(kind="chorus", start=8.0, end=16.0, lines=2)]
    assert short_clip(analysis_of(sections, 16.0), [line("a", 8.0, 10.0)]).phrase_start == 8.0
    only = [SongSection(kind="verse", start=0.0, end=8.0, lines=1),
            SongSection(kind="chorus", start=8.0, end=16.0, lines=1, complete=False)]
    assert short_clip(analysis_of(only, 16.0), [line("a", 8.0, 10.0)]).reason.startswith("first chorus")


def test_without_a_chorus_the_loudest_section_is_the_short():
    sections = [SongSection(start=0.0, end=8.0, energy=-6.0), SongSection(start=8.0, end=20.0, energy=0.0),
                SongSection(start=20.0, end=30.0, energy=-2.0)]
    clip = short_clip(analysis_of(sections, 30.0), [])
    assert clip.reason == "loudest section" and clip.phrase_start == 8.0 and clip.phrase_end in (16.0, 20.0)


def test_a_range_by_hand_is_taken_as_given_and_fades_inside_it():
    analysis = analysis_of([SongSection(kind="verse", start=0.0, end=30.0)], 30.0)
    clip = short_clip(analysis, [], start=3.0, end=13.0)
    assert (clip.start, clip.end, clip.reason) == (3.0, 13.0, "chosen by hand")
    assert clip.phrase_start - clip.start == clip.fade_in == 0.5
    with pytest.raises(InputError, match="give both --short-from and --short-to"):
        short_clip(analysis, [], start=3.0)
    with pytest.raises(InputError, match="past the song's end"):
        short_clip(analysis, [], start=40.0, end=50.0)
    with pytest.raises(InputError, match="must be before --short-to"):
        short_clip(analysis, [], start=13.0, end=3.0)
    with pytest.raises(InputError, match="0 or more seconds"):
        short_clip(analysis, [], start=-1.0, end=3.0)


def test_a_last_word_stretched_to_the_end_of_the_song_does_not_stretch_the_short():
    """Aligners may give the chorus's last word the whole outro; its start says where the phrase is."""
    from mvflow.models import LyricWord

    sections = [SongSection(kind="chorus", start=4.0, end=20.0, lines=2)]
    lines = [line("x", 4.0, 7.5), LyricLine(text="y z", start=8.0, end=20.0,
                                             words=[LyricWord(text="y", start=8.0, end=8.5),
                                                    LyricWord(text="z", start=9.0, end=20.0)])]
    clip = short_clip(analysis_of(sections, 20.0), lines)
    assert clip.phrase_end == 12.0  # z starts at 9.0, held at most two beats: the phrase ends at bar 12.0
