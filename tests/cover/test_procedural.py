"""Procedural covers: deterministic, sized exactly, mood-aware, not flat, calm where lyrics go."""

from __future__ import annotations

import itertools
from functools import cache

import numpy as np
import pytest
from PIL import Image

from mvflow.cover.families import FAMILIES
from mvflow.cover.mood import FAMILY_PALETTE, PALETTE_KEYWORDS, cover_mood
from mvflow.cover.palettes import PALETTES
from mvflow.cover.procedural import procedural_cover

GALLERY = {
    "dreamy synthwave, female vocal, night drive": "synthwave",
    "sad piano ballad, rainy evening": "bokeh",
    "energetic techno, dark warehouse": "geometric",
    "sunny acoustic folk, summer road trip": "waves",
    "heavy metal, angry, fire": "embers",
    "lofi hip hop, chill study beats": "bokeh",
    "ambient space music, cosmic drift": "nebula",
}
# Small stand-ins for 1920x1080, 1024x1024 and 1080x1920: same composition, fast tests.
ASPECTS = [(384, 216), (256, 256), (216, 384)]


@cache
def _cover(caption: str, seed: int, size: tuple[int, int], title: str = "Title") -> np.ndarray:
    img = procedural_cover(caption, title, seed, size)
    assert img.mode == "RGB"
    return np.asarray(img)


def _luma(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.float64)
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def _hue_count(rgb: np.ndarray, bins: int = 24, share: float = 0.003) -> int:
    """Hue bins (15 degrees each) holding at least `share` of all pixels among coloured pixels."""
    hsv = np.asarray(Image.fromarray(rgb).convert("HSV")).reshape(-1, 3).astype(int)
    coloured = hsv[(hsv[:, 1] > 30) & (hsv[:, 2] > 30)]
    hist = np.histogram(coloured[:, 0], bins=bins, range=(0, 256))[0]
    return int((hist >= share * len(hsv)).sum())


# --------------------------------------------------------------------------- determinism & sizes


@pytest.mark.parametrize(
    "caption", ["dreamy synthwave, female vocal, night drive", "sad piano ballad, rainy evening"]
)
def test_same_arguments_give_identical_pixels(caption):
    first = np.asarray(procedural_cover(caption, "Night Drive", 7, (320, 180)))
    second = np.asarray(procedural_cover(caption, "Night Drive", 7, (320, 180)))
    assert np.array_equal(first, second)


@pytest.mark.parametrize("caption", list(GALLERY))
def test_another_seed_gives_another_image(caption):
    a, b = _cover(caption, 0, ASPECTS[0]), _cover(caption, 1, ASPECTS[0])
    # Well above what film grain alone would change: the composition moves too.
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 4


def test_title_is_part_of_the_variation():
    a = _cover("lofi hip hop", 0, (160, 90), "One")
    b = _cover("lofi hip hop", 0, (160, 90), "Two")
    assert not np.array_equal(a, b)


@pytest.mark.parametrize(
    "size", [(1920, 1080), (1024, 1024), (1080, 1920), (320, 180), (64, 64), (90, 160), (17, 9)]
)
def test_cover_has_exactly_the_requested_size(size):
    img = procedural_cover("dreamy synthwave, night drive", "Night Drive", 3, size)
    assert img.size == size
    assert img.mode == "RGB"


def test_too_small_a_cover_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="too small"):
        procedural_cover("synthwave", "x", 0, (4, 4))


# --------------------------------------------------------------------------- mood reading


@pytest.mark.parametrize(("caption", "family"), list(GALLERY.items()))
def test_mood_picks_the_expected_family(caption, family):
    assert cover_mood(caption, "").family == family


@pytest.mark.parametrize(
    ("caption", "palette"),
    [
        ("dreamy synthwave, female vocal, night drive", "neon_night"),
        ("sad piano ballad, rainy evening", "dusk_rain"),
        ("energetic techno, dark warehouse", "acid"),
        ("sunny acoustic folk, summer road trip", "golden"),
        ("heavy metal, angry, fire", "ember"),
        ("lofi hip hop, chill study beats", "lofi"),
        ("ambient space music, cosmic drift", "cosmic"),
        ("happy edm, summer festival", "golden"),
        ("winter ballad, snow", "ice"),
        ("metal", "ember"),
    ],
)
def test_mood_picks_a_palette_from_mood_words(caption, palette):
    assert cover_mood(caption, "").palette == palette


def test_mood_reads_energy_and_weather():
    assert cover_mood("energetic techno, aggressive", "").energy > cover_mood("calm ambient, soft", "").energy
    assert cover_mood("sad piano, rainy evening", "").overlay == "rain"
    assert cover_mood("winter ballad, snow falling", "").overlay == "snow"
    assert cover_mood("techno", "").overlay is None


def test_title_counts_but_less_than_the_caption():
    assert cover_mood("", "Night Drive").family == "synthwave"
    assert cover_mood("sad piano ballad", "Night Drive").family == "bokeh"


def test_phrases_and_spelling_variants_match():
    assert cover_mood("Lo-Fi Hip-Hop", "").family == "bokeh"
    assert cover_mood("'80s RETROWAVE!", "").family == "synthwave"
    assert "night drive" in cover_mood("night drive", "").matched
    assert "drive" not in cover_mood("night drive", "").matched  # the phrase claimed the word


def test_unknown_caption_gets_a_stable_choice():
    first, second = cover_mood("polka accordion", ""), cover_mood("polka accordion", "")
    assert first == second
    assert first.family in FAMILIES and first.palette in PALETTES
    assert "no keywords" in first.describe()


def test_every_name_in_the_tables_exists():
    assert set(FAMILY_PALETTE) == set(FAMILIES)
    assert set(FAMILY_PALETTE.values()) <= set(PALETTES)
    assert set(PALETTE_KEYWORDS) <= set(PALETTES)


# --------------------------------------------------------------------------- how the images look


@pytest.mark.parametrize("caption", list(GALLERY))
@pytest.mark.parametrize("seed", [0, 1])
def test_covers_are_not_flat(caption, seed):
    rgb = _cover(caption, seed, ASPECTS[0])
    assert rgb.std() > 20, "a near-uniform image looks like a placeholder"
    assert _hue_count(rgb) >= 3, "expected several distinct hues"


@pytest.mark.parametrize("caption", list(GALLERY))
@pytest.mark.parametrize("size", ASPECTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottom_third_is_not_brighter_than_the_rest(caption, size, seed):
    luma = _luma(_cover(caption, seed, size))
    split = luma.shape[0] * 2 // 3
    assert luma[split:].mean() <= luma[:split].mean()


def test_different_captions_look_different():
    moods = [cover_mood(caption, "") for caption in GALLERY]
    assert len({m.family for m in moods}) >= 6
    assert len({m.palette for m in moods}) == len(GALLERY)
    # Compare 16x9 thumbnails: a distance of ~20 per channel is a clearly different picture.
    thumbs = {
        caption: np.asarray(Image.fromarray(_cover(caption, 0, ASPECTS[0])).resize((16, 9), Image.BOX), float)
        for caption in GALLERY
    }
    for a, b in itertools.combinations(GALLERY, 2):
        distance = np.abs(thumbs[a] - thumbs[b]).mean()
        assert distance > 12, f"{a!r} and {b!r} look alike ({distance:.1f})"


def test_background_and_square_share_the_palette():
    """The 16:9 and 1:1 covers of one song are one artwork: their mean colours stay close."""
    wide = _cover("dreamy synthwave, night drive", 0, (384, 216)).reshape(-1, 3).mean(0)
    square = _cover("dreamy synthwave, night drive", 0, (256, 256)).reshape(-1, 3).mean(0)
    other = _cover("sunny acoustic folk, summer", 0, (256, 256)).reshape(-1, 3).mean(0)
    assert np.linalg.norm(wide - square) < np.linalg.norm(wide - other) / 3
