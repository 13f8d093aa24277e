"""LRC / enhanced LRC / SRT / JSON writers and the LRC reader."""

from __future__ import annotations

import json
import re

import pytest

from mvflow.errors import LrcError
from mvflow.lyrics.formats import (
    MAX_LINE_SECONDS,
    lrc_stamp,
    parse_lrc,
    to_ass,
    to_enhanced_lrc,
    to_json,
    to_lrc,
    to_srt,
)
from mvflow.models import LyricLine, LyricWord


def line(text: str, start: float, end: float, word_times: bool = True) -> LyricLine:
    """A line whose words split [start, end] evenly."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = [
        LyricWord(text=t, start=start + k * step, end=start + (k + 1) * step) for k, t in enumerate(tokens)
    ]
    return LyricLine(text=text, start=start, end=end, words=words if word_times else [])


LINES = [
    line("The City lights, calling!", 1.0, 3.0),
    line("Don’t stop — now", 3.2, 5.0),  # starts right after: no gap mark between
    line("Nothing can stop us", 65.5, 68.25),
]


def times(lines: list[LyricLine]) -> list[tuple[str, float, float]]:
    return [(ln.text, round(ln.start, 2), round(ln.end, 2)) for ln in lines]


# --------------------------------------------------------------------------- writers


def test_stamp_rounds_once_and_carries_into_minutes():
    assert lrc_stamp(59.999) == "01:00.00"
    assert lrc_stamp(65.5) == "01:05.50"
    assert lrc_stamp(6000.0) == "100:00.00"


def test_lrc_has_title_line_stamps_and_gap_marks():
    text = to_lrc(LINES, title="Night Drive")
    assert text.splitlines() == [
        "[ti:Night Drive]",
        "[00:01.00]The City lights, calling!",
        "[00:03.20]Don’t stop — now",
        "[00:05.00]",
        "[01:05.50]Nothing can stop us",
        "[01:08.25]",
    ]


def test_lrc_round_trips_through_the_reader():
    assert times(parse_lrc(to_lrc(LINES, title="x"))) == [
        ("The City lights, calling!", 1.0, 3.2),  # no gap mark: shown until the next line
        ("Don’t stop — now", 3.2, 5.0),
        ("Nothing can stop us", 65.5, 68.25),
    ]


def test_enhanced_lrc_round_trips_words():
    text = to_enhanced_lrc(LINES)
    assert text.splitlines()[0] == (
        "[00:01.00]<00:01.00>The <00:01.50>City <00:02.00>lights, <00:02.50>calling!<00:03.00>"
    )
    back = parse_lrc(text)
    assert times(back) == times(LINES)
    for got, want in zip(back, LINES):
        assert [(w.text, round(w.start, 2), round(w.end, 2)) for w in got.words] == [
            (w.text, round(w.start, 2), round(w.end, 2)) for w in want.words
        ]


def test_enhanced_lrc_without_word_times_is_plain():
    assert to_enhanced_lrc([line("Just text", 2, 4, word_times=False)]) == "[00:02.00]Just text\n[00:04.00]\n"


def test_srt_parses_with_a_small_regex():
    blocks = re.findall(
        r"(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)\n", to_srt(LINES)
    )
    assert [b[0] for b in blocks] == ["1", "2", "3"]
    assert blocks[2][1:5] == ("00", "01", "05", "500") and blocks[2][5:9] == ("00", "01", "08", "250")
    assert [b[9] for b in blocks] == [ln.text for ln in LINES]


_ASS_TIME = r"(\d+):(\d\d):(\d\d)\.(\d\d)"
_ASS_EVENT = re.compile(rf"^Dialogue: 0,{_ASS_TIME},{_ASS_TIME},Default,,0,0,0,,(.*)$", re.M)


def ass_events(text: str) -> list[tuple[int, int, str]]:
    """[(start cs, end cs, text)] of every Dialogue line, read with a small regex."""

    def centis(h: str, m: str, s: str, c: str) -> int:
        return ((int(h) * 60 + int(m)) * 60 + int(s)) * 100 + int(c)

    return [(centis(*m.groups()[0:4]), centis(*m.groups()[4:8]), m.group(9)) for m in _ASS_EVENT.finditer(text)]


def karaoke(text: str) -> list[tuple[str, int, str]]:
    """[(tag, centiseconds, word)] of a karaoke event: '{\\kf50}The ' -> ('kf', 50, 'The')."""
    return [(tag, int(cs), word.strip()) for tag, cs, word in re.findall(r"\{\\(kf?)(\d+)\}([^{]*)", text)]


def test_ass_has_script_info_styles_and_events():
    text = to_ass(LINES, title="Night Drive")
    sections = [ln for ln in text.splitlines() if ln.startswith("[")]
    assert sections == ["[Script Info]", "[V4+ Styles]", "[Events]"]
    for field in ("Title: Night Drive", "ScriptType: v4.00+", "PlayResX: 1920", "PlayResY: 1080"):
        assert field in text.splitlines()
    styles = [ln for ln in text.splitlines() if ln.startswith(("Format:", "Style:"))]
    assert len(styles[0].split(",")) == len(styles[1].split(",")) == 23  # V4+ style fields
    assert len(ass_events(text)) == len(LINES)


def test_ass_karaoke_sweeps_add_up_to_each_line_and_times_match():
    events = ass_events(to_ass(LINES))
    for (start, end, text), want in zip(events, LINES):
        assert (start, end) == (round(want.start * 100), round(want.end * 100))
        sweeps = karaoke(text)
        assert [word for _, _, word in sweeps] == [w.text for w in want.words]
        assert {tag for tag, _, _ in sweeps} == {"kf"}
        assert sum(cs for _, cs, _ in sweeps) == end - start
    assert karaoke(events[0][2])[0] == ("kf", 50, "The")
    assert events[2][:2] == (6550, 6825)  # 0:01:05.50 -> 0:01:08.25


def test_ass_time_stamps_are_h_mm_ss_cc():
    text = to_ass([line("Late", 3725.5, 3727.0)])
    assert "Dialogue: 0,1:02:05.50,1:02:07.00,Default,,0,0,0,,{\\kf150}Late" in text


def test_ass_pause_before_first_word_is_an_empty_k_and_rounding_keeps_the_sum():
    words = [LyricWord(text="Oh", start=1.004, end=1.333), LyricWord(text="yes", start=1.337, end=2.0)]
    start, end, text = ass_events(to_ass([LyricLine(text="Oh yes", start=0.5, end=2.0, words=words)]))[0]
    sweeps = karaoke(text)
    assert sweeps[0] == ("k", 50, "")
    assert [(tag, word) for tag, _, word in sweeps[1:]] == [("kf", "Oh"), ("kf", "yes")]
    assert sum(cs for _, cs, _ in sweeps) == end - start == 150


def test_ass_without_word_times_is_one_plain_event_per_line():
    lines = [line("Just text", 2, 4, word_times=False), line("{odd} back\\slash", 5, 6, word_times=False)]
    events = ass_events(to_ass(lines))
    assert [(s, e) for s, e, _ in events] == [(200, 400), (500, 600)]
    assert events[0][2] == "Just text"
    assert "{" not in events[1][2] and "\\" not in events[1][2]  # no accidental override tags


def test_ass_offset_shifts_events_and_sweeps_and_clamps_at_zero():
    later = ass_events(to_ass(LINES, offset=0.5))
    assert later[0][:2] == (150, 350)
    assert sum(cs for _, cs, _ in karaoke(later[0][2])) == 200
    clamped = ass_events(to_ass(LINES, offset=-2.0))
    assert clamped[0][:2] == (0, 100)
    assert sum(cs for _, cs, _ in karaoke(clamped[0][2])) == 100


def test_ass_with_no_lines_is_a_valid_empty_script():
    text = to_ass([])
    assert "[Events]" in text and ass_events(text) == []


def test_json_loads_with_lines_and_words():
    data = json.loads(to_json(LINES))
    assert data[0]["text"] == "The City lights, calling!"
    assert (data[2]["start"], data[2]["end"]) == (65.5, 68.25)
    assert data[0]["words"][1] == {"text": "City", "start": 1.5, "end": 2.0}


def test_positive_offset_makes_lyrics_later_and_times_clamp_at_zero():
    assert to_lrc(LINES, offset=0.5).splitlines()[0] == "[00:01.50]The City lights, calling!"
    assert to_lrc(LINES, offset=-2.0).splitlines()[0] == "[00:00.00]The City lights, calling!"
    assert json.loads(to_json(LINES, offset=-1.5))[1]["start"] == 1.7
    assert "00:00:00,000 --> 00:00:01,000" in to_srt(LINES, offset=-2.0)
    assert "<00:02.00>City" in to_enhanced_lrc(LINES, offset=0.5)


def test_empty_lines_write_empty_files():
    assert to_lrc([]) == to_enhanced_lrc([]) == to_srt([]) == ""
    assert to_lrc([], title="Instrumental") == "[ti:Instrumental]\n"
    assert json.loads(to_json([])) == []


# --------------------------------------------------------------------------- reader


def test_reader_accepts_every_stamp_precision():
    text = "[00:01]one\n[00:02.5]two\n[00:03.25]three\n[00:04.125]four\n[00:05:50]five\n[1:06.00]six\n"
    assert [ln.start for ln in parse_lrc(text)] == [1.0, 2.5, 3.25, 4.125, 5.5, 66.0]


def test_reader_expands_repeated_stamps_and_sorts():
    text = "[00:10.00][00:30.00]Chorus line\n[00:20.00]Verse line\n"
    assert times(parse_lrc(text)) == [
        ("Chorus line", 10.0, 18.0),  # capped at MAX_LINE_SECONDS
        ("Verse line", 20.0, 28.0),  # capped: 30 - 20 > MAX_LINE_SECONDS
        ("Chorus line", 30.0, 30.0 + MAX_LINE_SECONDS),
    ]


def test_reader_skips_metadata_and_handles_bom_and_crlf():
    text = "\ufeff[ti:Song]\r\n[ar:Someone]\r\n[al:Album]\r\n[by:me]\r\n[length: 03:20]\r\n\r\n"
    text += "[00:01.00]Hi\r\n"
    assert times(parse_lrc(text)) == [("Hi", 1.0, 1.0 + MAX_LINE_SECONDS)]


def test_reader_offset_tag_follows_lrc_convention_positive_is_earlier():
    assert parse_lrc("[offset:+500]\n[00:02.00]a\n")[0].start == 1.5
    assert parse_lrc("[offset:-500]\n[00:02.00]a\n")[0].start == 2.5
    assert parse_lrc("[offset:5000]\n[00:02.00]a\n")[0].start == 0.0


def test_empty_stamped_line_is_a_gap_that_ends_the_previous_line():
    lines = parse_lrc("[00:01.00]one\n[00:02.00]\n[00:05.00]two\n[00:06.00]  \n")
    assert times(lines) == [("one", 1.0, 2.0), ("two", 5.0, 6.0)]


def test_reader_reads_enhanced_words_with_and_without_trailing_stamp():
    lines = parse_lrc("[00:01.00]<00:01.00> Hello <00:01.60> world\n[00:03.00]<00:03.00>Bye<00:03.50>\n")
    assert [(w.text, w.start, w.end) for w in lines[0].words] == [("Hello", 1.0, 1.6), ("world", 1.6, 3.0)]
    assert lines[0].text == "Hello world"
    assert (lines[1].end, lines[1].words[0].end) == (3.5, 3.5)


@pytest.mark.parametrize(
    "bad, number",
    [
        ("[00:01.00]ok\njust some text\n", 2),
        ("[ti:x]\n\n[00:61.00]bad seconds\n", 3),
        ("[0a:01.00]typo\n", 1),
        ("[offset:soon]\n", 1),
    ],
)
def test_malformed_line_raises_naming_the_line(bad: str, number: int):
    with pytest.raises(LrcError, match=rf"line {number}\b") as info:
        parse_lrc(bad)
    assert bad.splitlines()[number - 1].strip() in str(info.value)
    assert "\n" not in str(info.value)
