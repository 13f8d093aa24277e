"""The cover prompt: the caption's music and mood, the title's themes, the layout the video needs."""

from __future__ import annotations

from mvflow.cover.prompt import caption_terms, cover_prompt, title_themes

DEMO_CAPTION = "dreamy synthwave, female vocal, night drive, neon city, 100 bpm, in A minor, 4/4"


def test_demo_request_prompt():
    prompt = cover_prompt(DEMO_CAPTION, "Night Drive", "16:9")
    assert "Music: synthwave, night drive, neon city." in prompt
    assert "Mood: dreamy." in prompt
    assert "evoking night, drive" in prompt
    assert "16:9 landscape" in prompt and "lower third calm, darker" in prompt
    assert "no text, letters" in prompt and "logos or watermarks" in prompt
    lowered = prompt.lower()
    for absent in ("vocal", "bpm", "minor", "4/4", "$"):
        assert absent not in lowered


def test_title_is_never_quoted_into_the_prompt():
    """Image models paint quoted titles as lettering; only the title's words are used, as themes."""
    prompt = cover_prompt("lofi", "Rainy Days in Kyoto", "1:1")
    assert "Rainy Days in Kyoto" not in prompt and '"' not in prompt
    assert "evoking rainy, days, kyoto" in prompt and "1:1 square" in prompt


def test_caption_terms_split_music_from_mood_and_drop_performance_details():
    music, moods = caption_terms(
        "Dreamy lo-fi R&B, drum and bass, energetic 80s synthpop with pulsing bass and male vocals, "
        "120 BPM, key of F# minor"
    )
    assert music == ["lo-fi r&b", "drum and bass", "80s synthpop"]
    assert moods == ["dreamy", "energetic"]


def test_title_themes_drop_small_words_and_numbers():
    assert title_themes("Don't Stop Me Now (1999 Remaster)") == ["don't", "stop", "now", "remaster"]


def test_override_is_used_verbatim_and_blank_override_is_ignored():
    assert (
        cover_prompt(DEMO_CAPTION, "Night Drive", "16:9", override="  a red fox in snow \n")
        == "a red fox in snow"
    )
    assert "synthwave" in cover_prompt(DEMO_CAPTION, "Night Drive", "16:9", override="   ")


def test_empty_request_still_gives_a_complete_prompt():
    prompt = cover_prompt("", "", "9:16")
    assert "Music: instrumental." in prompt and "9:16 portrait" in prompt and "$" not in prompt


def test_long_caption_is_clipped_at_a_descriptor():
    caption = ", ".join(f"style{i} texture{i}" for i in range(40))
    line = next(x for x in cover_prompt(caption, "", "16:9").splitlines() if x.startswith("Music:"))
    assert len(line) < 220 and ", ." not in line and line.split(". Mood")[0].endswith(tuple("0123456789"))


def test_style_can_ask_for_a_different_calm_area():
    assert "keep the centre calm" in cover_prompt("rock", "Fire", "16:9", lyrics_area="centre")
