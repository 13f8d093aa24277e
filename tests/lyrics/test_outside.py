"""Timed lines outside the song: which lines, the warning's words, and the lyrics step recording them."""

from __future__ import annotations

from mvflow.lyrics.outside import lines_outside, outside_warnings
from mvflow.lyrics.sync import synced_from_lrc
from mvflow.models import LyricLine
from tests.support.media import read_lrc


def lines(*stamps: float) -> list[LyricLine]:
    return [LyricLine(text=f"line {k}", start=t, end=t + 1.0) for k, t in enumerate(stamps)]


def test_the_boundaries_a_line_starting_at_the_end_is_outside_one_at_zero_is_not():
    found = lines_outside(lines(2.0, 5.0, 9.99, 10.0, 12.0), -2.0, 10.0)
    assert [(o.text, o.where, o.start) for o in found] == [("line 4", "after_end", 10.0)]
    assert lines_outside(lines(2.0, 10.0), 0.0, 10.0)[0].text == "line 1"
    assert [o.where for o in lines_outside(lines(0.5, 3.0), -1.0, None)] == ["before_start"]  # no end: not checked


def test_warnings_name_three_lines_count_the_rest_and_say_the_fix():
    late = lines_outside(lines(*range(20, 26)), 0.0, 10.0)
    assert outside_warnings(late, 10.0) == [
        "6 lyric lines start after the song ends (00:10.00) and never show: [00:20.00] 'line 0', "
        "[00:21.00] 'line 1', [00:22.00] 'line 2' and 3 more; is it this song's lyrics file?"]
    pushed = lines_outside(lines(1.0, 8.0), 4.0, 10.0)
    assert outside_warnings(pushed, 10.0) == [
        "1 lyric line starts after the song ends (00:10.00) and never shows: [00:08.00] 'line 1'; "
        "check the lyrics offset (+4 s)"]
    early = lines_outside(lines(1.0, 8.0), -1.5, 10.0)
    assert outside_warnings(early, 10.0) == [
        "1 lyric line starts before the song after the lyrics offset (-1.5 s) and is moved to 00:00.00: "
        "[00:01.00] 'line 0'"]
    assert outside_warnings([], 10.0) == []


def test_an_lrc_step_keeps_the_lines_and_lists_the_outside_ones(tmp_path):
    lrc = tmp_path / "song.lrc"
    lrc.write_text("[00:01.00]first\n[00:04.00]second\n[00:30.00]much later\n")
    synced = synced_from_lrc(lrc, tmp_path / "out", offset=-2.0, song_end=10.0)
    assert [(o.text, o.where) for o in synced.outside] == [("first", "before_start"), ("much later", "after_end")]
    assert read_lrc(tmp_path / "out" / "lyrics.lrc") == [(0.0, "first"), (2.0, "second"), (28.0, "much later")]


def test_an_offset_moves_lines_and_words_and_clamps_at_zero():
    from mvflow.lyrics.sync import place_on_song
    from mvflow.models import LyricWord

    line = LyricLine(text="hold on", start=1.0, end=3.0,
                     words=[LyricWord(text="hold", start=1.0, end=2.0), LyricWord(text="on", start=2.0, end=3.0)])
    moved, outside = place_on_song([line], -1.5, 10.0)
    assert (moved[0].start, moved[0].end) == (0.0, 1.5)
    assert [(w.start, w.end) for w in moved[0].words] == [(0.0, 0.5), (0.5, 1.5)]
    assert [o.where for o in outside] == ["before_start"]
    assert place_on_song([line], 0.0, 10.0)[0][0] is line  # no offset: the same lines
