"""Alignment of transcribed words onto known lyrics, with synthetic transcripts."""

from __future__ import annotations

import time

import pytest

from mvflow.lyrics.align import (
    FIRST_WORD_MAX_MEDIANS,
    align_lines,
    instrumental_flags,
    known_lyric_lines,
    lines_from_transcript,
    normalise,
    similarity,
)
from mvflow.models import LyricLine, LyricWord

SONG = [
    "The city lights are calling me tonight",
    "We drive until the morning arrives",
    "Nothing can stop us now",
]
#: SONG as heard: lines at 1 s, 5 s and 9 s (see `heard`).
SUNG = (
    "@1 the city lights are calling me tonight @5 we drive until the morning arrives "
    "@9 nothing can stop us now"
)


def heard(spec: str, step: float = 0.5, length: float = 0.4) -> list[LyricWord]:
    """Transcript from 'word word @5 word': words every `step` s, '@t' jumps the clock to t."""
    words, clock = [], 0.0
    for token in spec.split():
        if token.startswith("@"):
            clock = float(token[1:])
            continue
        words.append(LyricWord(text=f" {token}", start=clock, end=clock + length))
        clock += step
    return words


def starts(lines: list[LyricLine]) -> list[float]:
    return [round(line.start, 3) for line in lines]


def assert_monotone(lines: list[LyricLine]) -> None:
    clock = 0.0
    for line in lines:
        assert line.start == line.words[0].start and line.end == line.words[-1].end
        for w in line.words:
            assert clock <= w.start <= w.end
            clock = w.end


# --------------------------------------------------------------------------- known lines


def test_known_lines_drop_tags_and_blanks_but_keep_the_users_words():
    lyrics = (
        "[Verse 1]\nThe City lights, are calling   me!\n\n[Chorus]\n"
        "[inst]\n  [Chorus] Don’t stop — now  \n( oh oh )\n[Outro]\n"
    )
    assert known_lyric_lines(lyrics) == [
        "The City lights, are calling me!",
        "Don’t stop — now",
        "( oh oh )",
    ]
    assert known_lyric_lines("[inst]") == []
    assert known_lyric_lines("") == []


def test_lines_under_instrumental_tags_are_flagged():
    lyrics = (
        "[Verse]\nsung one\n[Instrumental]\n(guitar solo)\n[Female vocal]\nstill the solo\n"
        "[Chorus] sung two\n[inst]\n[Solo] sax here\n[Bridge]\nsung three\n"
    )
    assert list(zip(known_lyric_lines(lyrics), instrumental_flags(lyrics))) == [
        ("sung one", False),
        ("(guitar solo)", True),
        ("still the solo", True),  # a performance hint is not a new section
        ("sung two", False),
        ("sax here", True),
        ("sung three", False),
    ]


def test_normalise_folds_case_punctuation_apostrophes_and_small_numbers():
    assert normalise("Don’t,") == normalise("dont") == "dont"
    assert normalise("\"Tonight!\"") == "tonight"
    assert normalise("Café") == "cafe"
    assert normalise("2") == "two"
    assert normalise("—") == ""


def test_similarity_likes_misheard_words_more_than_unrelated_ones():
    assert similarity("arrives", "eyes") >= 0.5
    assert similarity("morning", "mourning") > 0.9
    assert similarity("the", "a") == 0.0


# --------------------------------------------------------------------------- alignment


def test_exact_transcript_copies_word_times():
    lines, unplaced = align_lines(SONG, heard(SUNG))
    assert unplaced == []
    assert starts(lines) == [1.0, 5.0, 9.0]
    assert [w.start for w in lines[1].words] == [5.0, 5.5, 6.0, 6.5, 7.0, 7.5]
    assert [line.text for line in lines] == SONG
    assert_monotone(lines)


def test_misheard_word_keeps_user_text_and_takes_the_heard_time():
    lines, _ = align_lines(SONG, heard("@1 the city lice are call in me tonight "
                                       "@5 we dry until the mourning eyes @9 nothing can stop us out"))
    assert [w.text for w in lines[1].words] == SONG[1].split()
    arrives = lines[1].words[-1]
    assert (arrives.text, arrives.start, arrives.end) == ("arrives", 7.5, 7.9)
    assert starts(lines) == [1.0, 5.0, 9.0]
    assert lines[2].words[-1].start == 11.0  # "out" stands for "now"


def test_merged_words_share_the_heard_word():
    lines, _ = align_lines(["In the night time we run"], heard("in the nighttime we run"))
    night, time_ = lines[0].words[2:4]
    assert (night.start, time_.end) == (1.0, 1.4)
    assert night.end == time_.start and 1.0 < night.end < 1.4


def test_split_word_spans_both_heard_words():
    lines, _ = align_lines(["Into the nighttime"], heard("into the night time"))
    assert (lines[0].words[2].start, lines[0].words[2].end) == (1.0, 1.9)


def test_missing_word_is_interpolated_between_its_neighbours():
    lines, _ = align_lines(["We drive until the morning arrives"], heard("we drive the morning arrives"))
    until = lines[0].words[2]
    assert lines[0].words[1].end <= until.start < until.end <= lines[0].words[3].start


def test_missing_last_word_is_packed_after_the_line_not_stretched_to_the_next():
    lines, _ = align_lines(SONG[1:], heard("@5 we drive until the morning @20 nothing can stop us now"))
    arrives = lines[0].words[-1]
    assert arrives.start == pytest.approx(7.4) and arrives.end < 8.5


def test_extra_words_are_ignored():
    spec = ("@0 yeah yeah oh @1 the city lights are calling me tonight baby "
            "@5 we drive oh yeah until the morning arrives @9 nothing can stop us now thank you for watching")
    lines, unplaced = align_lines(SONG, heard(spec))
    assert unplaced == []
    assert starts(lines) == [1.0, 5.0, 9.0]
    assert lines[1].words[2].start == 7.0  # "until", after the ad-lib "oh yeah"


def test_repeated_chorus_lines_each_get_their_own_occurrence():
    chorus = ["Hey hey we are the runners", "Running through the neon rain"]
    song = chorus + ["Verse words go here"] + chorus + chorus
    spec = ("@0 hey hey we are the runners @3 running through the neon rain @6 verse words go here "
            "@10 hey hey we are the runners @13 running through the neon rain "
            "@20 hey hey we are the runners @23 running through the neon rain")
    lines, unplaced = align_lines(song, heard(spec))
    assert unplaced == []
    assert starts(lines) == [0.0, 3.0, 6.0, 10.0, 13.0, 20.0, 23.0]
    assert_monotone(lines)


def test_chorus_whisper_skipped_is_unplaced_not_stacked_on_the_other():
    chorus = ["Hey hey we are the runners", "Running through the neon rain"]
    song = chorus + ["Verse words go here"] + chorus
    spec = "@0 hey hey we are the runners @3 running through the neon rain @6 verse words go here"
    lines, unplaced = align_lines(song, heard(spec), end_time=60.0)
    assert [line.text for line in lines] == song[:3]
    assert unplaced == chorus


def test_line_missing_in_a_long_gap_is_unplaced():
    lines, unplaced = align_lines(SONG, heard("@1 the city lights are calling me tonight "
                                              "@30 nothing can stop us now"))
    assert unplaced == [SONG[1]]
    assert [line.text for line in lines] == [SONG[0], SONG[2]]


def test_line_missing_in_a_gap_of_its_size_is_placed_inside_the_gap():
    lines, unplaced = align_lines(SONG, heard("@1 the city lights are calling me tonight "
                                              "@9 nothing can stop us now"))
    assert unplaced == []
    middle = lines[1]
    assert middle.text == SONG[1]
    assert lines[0].end <= middle.start < middle.end <= lines[2].start
    assert_monotone(lines)


def test_unheard_line_under_an_instrumental_tag_is_not_guessed_into_a_gap():
    """The gap fits, but the sheet says nobody sings there: the line is unplaced."""
    spec = "@1 the city lights are calling me tonight @9 nothing can stop us now"
    lines, unplaced = align_lines(SONG, heard(spec), maybe_unsung=[False, True, False])
    assert unplaced == [SONG[1]]
    assert starts(lines) == [1.0, 9.0]


def test_heard_line_under_an_instrumental_tag_is_placed():
    lines, unplaced = align_lines(SONG, heard(SUNG), maybe_unsung=[False, True, False])
    assert unplaced == [] and starts(lines) == [1.0, 5.0, 9.0]


def test_line_missing_in_a_too_short_gap_is_unplaced():
    spec = "@1 the city lights are calling me tonight @4.5 nothing can stop us now"
    _, unplaced = align_lines(SONG, heard(spec))
    assert unplaced == [SONG[1]]


@pytest.mark.parametrize("missing", [0, 2])
def test_unheard_first_or_last_line_is_unplaced_even_if_the_song_edge_would_fit_it(missing: int):
    spec = ["@1 the city lights are calling me tonight", "@5 we drive until the morning arrives",
            "@9 nothing can stop us now"]
    del spec[missing]
    lines, unplaced = align_lines(SONG, heard(" ".join(spec)), end_time=12.0)
    assert unplaced == [SONG[missing]]
    assert len(lines) == 2


def test_unheard_last_word_is_packed_no_later_than_the_song_end():
    lines, _ = align_lines(SONG[2:], heard("@9 nothing can stop us"), end_time=11.1)
    assert lines[0].words[-1].start == pytest.approx(10.9) and lines[0].end == pytest.approx(11.1)


def test_nothing_heard_places_nothing():
    lines, unplaced = align_lines(SONG, [], end_time=200.0)
    assert lines == [] and unplaced == SONG


def test_first_word_that_swallowed_a_pause_is_trimmed():
    words = heard("@1 the city lights are calling me tonight @9 nothing can stop us now")
    words[7] = LyricWord(text="nothing", start=5.0, end=9.4)  # whisper: pause + word
    lines, _ = align_lines([SONG[0], SONG[2]], words)
    assert lines[1].start == pytest.approx(9.4 - FIRST_WORD_MAX_MEDIANS * 0.4)


def test_first_word_collapsed_onto_its_end_gets_a_median_length():
    words = heard("@1 the city lights are calling me tonight @9 nothing can stop us now")
    words[7] = LyricWord(text="nothing", start=9.39, end=9.4)  # whisper: zero-length line opener
    lines, _ = align_lines([SONG[0], SONG[2]], words)
    assert lines[1].start == pytest.approx(9.4 - 0.4)  # one median word before its end


def test_collapsed_first_word_never_starts_before_the_previous_word_ends():
    words = heard("@1 the city lights are calling me tonight nothing can stop us now")  # no pause
    words[7] = LyricWord(text="nothing", start=4.58, end=4.6)
    lines, _ = align_lines([SONG[0], SONG[2]], words)
    assert lines[1].start == pytest.approx(words[6].end)


def test_stretched_first_heard_word_is_trimmed_even_when_the_line_opener_was_unheard():
    words = heard("@1 the city lights are calling me tonight @9 can stop us now")  # "nothing" unheard
    words[7] = LyricWord(text="can", start=5.0, end=9.4)
    lines, _ = align_lines([SONG[0], SONG[2]], words)
    can = lines[1].words[1]
    assert can.start == pytest.approx(9.4 - FIRST_WORD_MAX_MEDIANS * 0.4)
    assert lines[1].start == pytest.approx(can.start - 0.7)  # "nothing" packed before it


def test_song_shorter_than_its_lyrics_sings_the_earlier_chorus_copy():
    """Lines run out at the end; the heard chorus is the first copy, the last one is unsung."""
    chorus = ["Hey hey we are the runners", "Running through the neon rain"]
    song = ["Verse words go here", *chorus, "Bridge words right here", *chorus]
    spec = "@0 verse words go here @3 hey hey we are the runners @6 running through the neon rain"
    lines, unplaced = align_lines(song, heard(spec), end_time=9.0)
    assert [line.text for line in lines] == song[:3]
    assert starts(lines) == [0.0, 3.0, 6.0]
    assert unplaced == song[3:]


def test_one_short_word_in_common_does_not_anchor_a_line():
    """An unsung line must not be placed on a misheard "the" or an outro's hallucination."""
    song = [SONG[0], "(guitar solo over the last chords)", SONG[2], "Hold me till the morning light"]
    spec = "@1 the city lights are calling me tonight @4.5 the @5 nothing can stop us now @12 all right"
    lines, unplaced = align_lines(song, heard(spec), end_time=15.0)
    assert [line.text for line in lines] == [SONG[0], SONG[2]]
    assert unplaced == [song[1], song[3]]


def test_overlapping_transcript_times_still_give_non_decreasing_lines():
    words = heard(SUNG, step=0.3, length=0.9)
    words[8] = LyricWord(text="drive", start=4.0, end=4.2)  # earlier than the word before it
    lines, _ = align_lines(SONG, words)
    assert_monotone(lines)


def test_alignment_of_a_long_song_is_fast():
    verse = "walking down the empty street with the moonlight in my eyes"
    song = [f"{verse} number {k}" for k in range(30)]  # 360 words, lots of repetition
    spec = " ".join(f"{verse} number {k}" for k in range(30) if k != 7)
    t0 = time.perf_counter()
    lines, unplaced = align_lines(song, heard(spec), end_time=400.0)
    assert time.perf_counter() - t0 < 5.0
    assert unplaced == [song[7]]  # no room between its neighbours
    by_text = {line.text: line for line in lines}
    assert by_text[song[10]].start == pytest.approx(heard(spec)[9 * 13].start)


# --------------------------------------------------------------------------- no known lyrics


def test_transcript_lines_break_on_punctuation_pauses_and_length():
    words = heard("Hello there. how are you @5 fine thanks one two three four five six seven eight nine")
    lines = lines_from_transcript(words)
    assert [line.text for line in lines] == [
        "Hello there.",
        "how are you",
        "fine thanks one two three four five six",
        "seven eight nine",
    ]
    assert lines[2].start == 5.0 and lines[1].end == pytest.approx(2.4)


def test_transcript_lines_skip_words_without_letters():
    assert lines_from_transcript([LyricWord(text=" ♪", start=0, end=1)]) == []
