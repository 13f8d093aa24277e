"""Checking a song plan without any server: tags, sections, singable lines, the lyric budget, flags winning."""

from __future__ import annotations

import pytest

from mvflow.models import SongIdea
from mvflow.songwriting.checks import (
    PlanDraft,
    budget_hint,
    draft_schema,
    lines_for,
    merged,
    problems,
    read_draft,
    title_from_lyrics,
)
from mvflow.songwriting.sheet import bar_seconds, normalise_tag, read_sheet, sheet_seconds, syllables

SHEET = """[Intro]

[Verse 1]
City lights are fading in the mirror
Engine hums a song I used to know

[Chorus]
Drive on, drive on, the neon highway
We never have to slow

[Outro]
"""
DRAFT = {"title": "Neon Highway", "caption": "dreamy synthwave, analog synths, female vocal", "lyrics": SHEET,
         "bpm": 100, "key_scale": "A minor", "time_signature": "4", "duration": 40, "vocal_language": "en"}
IDEA = SongIdea(idea="a synthwave song about night driving")


def check(draft: dict, idea: SongIdea = IDEA) -> tuple[list[str], list[str]]:
    parsed, shape = read_draft(draft)
    assert shape == []
    return problems(merged(parsed, idea), idea)


def test_a_good_plan_has_no_problems():
    assert check(DRAFT) == ([], [])


@pytest.mark.parametrize("tag, name, written, renamed", [
    ("verse 2", "Verse", "Verse 2", False),
    ("Chorus - anthemic", "Chorus", "Chorus - anthemic", False),
    ("Intro: soft piano", "Intro", "Intro - soft piano", False),
    ("Pre-Chorus", "Pre-Chorus", "Pre-Chorus", False),
    ("Hook", "Chorus", "Chorus", True),
    ("Guitar Solo", "Instrumental", "Instrumental - guitar solo", True),
    ("Fade Out", "Outro", "Outro", True),
])
def test_section_tags_and_their_other_names(tag, name, written, renamed):
    found = normalise_tag(tag)
    assert (found.name, found.written, found.renamed) == (name, written, renamed)


@pytest.mark.parametrize("tag", ["Female vocal", "whispered", "Chorus x2", "123"])
def test_tags_that_are_no_section(tag):
    assert normalise_tag(tag) is None


def test_renamed_tags_are_rewritten_and_noted_but_every_line_is_kept():
    lyrics = SHEET.replace("[Chorus]", "[Hook]") + "\n[Guitar Solo]\n"
    found, notes = check({**DRAFT, "lyrics": lyrics})
    assert found == []
    assert notes == ["tag [Hook] written as [Chorus]", "tag [Guitar Solo] written as [Instrumental - guitar solo]"]
    sheet = read_sheet(lyrics)
    assert "[Chorus]\nDrive on, drive on, the neon highway\nWe never have to slow" in sheet.text()
    assert sheet.sung_lines == read_sheet(SHEET).sung_lines


@pytest.mark.parametrize("lyrics, expected", [
    (SHEET.replace("[Chorus]", "[Female vocal]"), "tag(s) [Female vocal] are not sections"),
    ("Some words first\n" + SHEET, "1 line(s) come before the first section tag (starting 'Some words first')"),
    (SHEET + "\n[Verse 2]\n\n[Bridge]\n", "[Verse 2], [Bridge] have no lines"),
    (SHEET + "\n[Instrumental]\nla la la\n", "[Instrumental] has lines, but nobody sings in an instrumental part"),
    ("[Intro]\n\n[Outro]\n", "the lyrics have no sung lines"),
    ("just words\nno tags", "the lyrics have no section tags"),
])
def test_sheet_problems_name_what_is_wrong(lyrics, expected):
    found, _ = check({**DRAFT, "lyrics": lyrics})
    assert any(expected in problem for problem in found), found


def test_an_instrumental_idea_must_have_no_sung_lines():
    idea = IDEA.model_copy(update={"instrumental": True})
    found, _ = check(DRAFT, idea)
    assert found == ["the song is instrumental, but the lyrics have 4 sung line(s): use only [Intro], [Instrumental] "
                     "and [Outro] tags without lines"]
    assert check({**DRAFT, "lyrics": "[Intro]\n\n[Instrumental - sax solo]\n\n[Outro]"}, idea) == ([], [])


def test_lines_too_long_to_sing_are_reported_with_their_syllables():
    long_line = "I have been walking down the longest winding road of my entire life tonight"
    found, _ = check({**DRAFT, "lyrics": SHEET.replace("We never have to slow", long_line)})
    assert found == [f"1 line(s) have more than 16 syllables, too long to sing in one breath: '{long_line[:50]}' "
                     f"({syllables(long_line)}); split them or say less"]


@pytest.mark.parametrize("line, count", [
    ("City lights are fading out", 7), ("I love the time we had", 6), ("我们在夜里开车", 7),
    ("Caminando por la ciudad", 8), ("Привет мой друг", 4), ("夜の街を走る", 6),
])
def test_syllables_are_counted_in_several_scripts(line, count):
    assert syllables(line) == count


def test_lyrics_that_do_not_fit_are_refused_with_how_many_would_not_cut():
    verse = "\n".join(["We are running through the city tonight"] * 20)
    lyrics = f"[Verse]\n{verse}\n\n[Chorus]\nDrive on"
    found, _ = check({**DRAFT, "lyrics": lyrics, "duration": 30})
    assert len(found) == 1
    assert found[0].startswith("the lyrics do not fit: 21 sung lines need about ")
    assert "at 100 bpm, but the song is 30 s long; write at most about 5 lines" in found[0]


def test_the_budget_counts_the_tempo_and_the_meter():
    sheet = read_sheet(SHEET)
    slow, fast = sheet_seconds(sheet, bar_seconds(70, "4")), sheet_seconds(sheet, bar_seconds(160, "4"))
    assert slow > fast  # whole bars: a slow bar holds more of a line, so not in proportion to the tempo
    assert bar_seconds(120, "3") == pytest.approx(1.5) and bar_seconds(120, "6") == pytest.approx(1.5)
    low, high = lines_for(60, 120, "4")
    assert (low, high) == (6, 13)


def test_sparse_lyrics_are_a_note_not_a_problem():
    found, notes = check({**DRAFT, "duration": 240})
    assert found == [] and notes == ["the lyrics fill about 22 s of the 240 s song: expect long instrumental stretches"]


def test_the_users_values_win_over_the_plan_and_are_checked_as_made():
    idea = SongIdea(idea="x", title="My Title", caption="lofi hip hop", language="es", duration=12, bpm=80,
                    key_scale="D minor", time_signature="3", vocal="male")
    plan = merged(PlanDraft.model_validate(DRAFT), idea)
    assert plan == {"title": "My Title", "caption": "lofi hip hop, male vocal", "lyrics": SHEET.strip(), "bpm": 80,
                    "key_scale": "D minor", "time_signature": "3", "duration": 12, "language": "es"}
    found, _ = problems(plan, idea)  # the plan's lyrics were written for 40 s, the user wants 12
    assert len(found) == 1 and "but the song is 12 s long" in found[0]


@pytest.mark.parametrize("field, value, expected", [
    ("bpm", 500, "bpm 500 is outside 30-300"),
    ("key_scale", "blue", "key_scale 'blue' is not a key"),
    ("duration", 2000, "duration 2000 s is outside 10-600 s"),
    ("vocal_language", "English", "vocal_language 'english' is not a language code"),
    ("caption", "", "caption is empty"),
    ("vocal_language", "unknown", "vocal_language is 'unknown', but the lyrics are sung"),
])
def test_the_songwriters_values_are_checked(field, value, expected):
    found, _ = check({**DRAFT, field: value})
    assert any(problem.startswith(expected) for problem in found), found


def test_shape_problems_list_every_field():
    draft, found = read_draft({"title": "x", "bpm": "fast", "time_signature": "5/4"})
    assert draft is None
    assert "bpm: Input should be a valid integer, unable to parse string as an integer (got 'fast')" in found
    assert "caption is missing" in found and "lyrics is missing" in found
    assert any(problem.startswith("time_signature:") for problem in found)
    assert read_draft(["not", "an", "object"])[1][0].startswith("the answer must be a JSON object")
    assert read_draft({**DRAFT, "time_signature": "3/4"})[0].time_signature == "3"


def test_the_schema_is_strict_and_describes_every_field():
    schema = draft_schema()
    assert schema["additionalProperties"] is False and schema["required"] == list(PlanDraft.model_fields)
    assert all(spec.get("description") for spec in schema["properties"].values())
    assert schema["properties"]["time_signature"]["enum"] == ["2", "3", "4", "6"]


def test_the_budget_hint_says_how_many_lines_fit():
    assert budget_hint(SongIdea(idea="x", duration=60, bpm=120)) == (
        "This song is 60 seconds long: at 120 bpm that holds about 6 to 13 sung lines of 6 to 10 syllables. "
        "Do not write more.")
    assert "Choose a duration" in budget_hint(IDEA)
    assert budget_hint(SongIdea(idea="x", instrumental=True)) == "The song is instrumental: no sung lines at all."


@pytest.mark.parametrize("lyrics, title", [
    (SHEET, "Drive On"),
    ("[Verse]\nHello city lights tonight\n", "Hello City Lights Tonight"),
    ("[Intro]\n", "Fallback"),
])
def test_a_title_from_the_hook(lyrics, title):
    assert title_from_lyrics(lyrics, "Fallback") == title
