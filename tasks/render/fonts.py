"""Fonts, all installed from PyPI packages, chosen per text by glyph coverage.

Pillow draws a string with one font and has no per-glyph fallback: a character the font
lacks comes out as its .notdef box ("tofu"). So each piece of text (a lyric line, the
title) gets the first family whose character map covers all of it:

  * Source Sans Pro (package font-source-sans-pro, SIL OFL): Latin, Greek, Cyrillic, in
    five weights — what most lyrics use;
  * Noto Sans CJK TC (packages cvttf-notosanscjk-regular / -bold, SIL OFL, Adobe/Google):
    Chinese, Japanese kana, Korean Hangul, and Latin too, so a mixed line ("Tokyo 夜の街")
    stays in one consistent font. Two weights: Light/Regular map to Regular, the heavier
    ones to Bold.

Text no family covers completely gets the family covering most of it.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageFont

WEIGHTS = ("Light", "Regular", "Semibold", "Bold", "Black")


@dataclass(frozen=True)
class Family:
    """A font family: its name and the font file for each of WEIGHTS."""

    name: str
    files: tuple[tuple[str, Path], ...]

    def path(self, weight: str) -> Path:
        return dict(self.files)[weight]

    def covers(self, cp: int) -> bool:
        return cp in _charset(self.path("Regular"))


def _source_sans() -> Family:
    import font_source_sans_pro

    folder = Path(font_source_sans_pro.__file__).parent / "files"
    return Family("Source Sans Pro", tuple((w, folder / f"SourceSansPro-{w}.ttf") for w in WEIGHTS))


def _noto_cjk() -> Family:
    import cvttf_NotoSansCJK_Bold
    import cvttf_NotoSansCJK_Regular

    regular = Path(cvttf_NotoSansCJK_Regular.get_TTF_path())
    bold = Path(cvttf_NotoSansCJK_Bold.get_TTF_path())
    return Family("Noto Sans CJK", tuple((w, regular if w in ("Light", "Regular") else bold) for w in WEIGHTS))


@functools.cache
def families() -> tuple[Family, ...]:
    """The families in order of preference."""
    return (_source_sans(), _noto_cjk())


@functools.cache
def _charset(path: Path) -> frozenset[int]:
    """Code points the font maps to a glyph (its cmap; the only table read)."""
    from fontTools.ttLib import TTFont

    with TTFont(str(path), lazy=True) as font:
        return frozenset(font.getBestCmap())


def _needs_glyph(ch: str) -> bool:
    """Spaces, controls and format characters (ZWJ, variation selectors) are not drawn."""
    return not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf")


@functools.lru_cache(maxsize=4096)
def family_for(text: str) -> Family:
    """The first family that has a glyph for every character of `text`, else the one
    missing the fewest."""
    needed = {ord(ch) for ch in text if _needs_glyph(ch)}
    best, best_missing = None, None
    for family in families():
        missing = sum(1 for cp in needed if not family.covers(cp))
        if missing == 0:
            return family
        if best_missing is None or missing < best_missing:
            best, best_missing = family, missing
    return best


def check_weight(weight: str) -> None:
    if weight not in WEIGHTS:
        raise ValueError(f"unknown font weight {weight!r}; choose one of {', '.join(WEIGHTS)}")


def font_path(weight: str, text: str = "") -> Path:
    """The font file that draws `text` at `weight`."""
    check_weight(weight)
    return family_for(text).path(weight)


@functools.cache
def _truetype(path: Path, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), size)


def load_font(weight: str, size: int, text: str = "") -> ImageFont.FreeTypeFont:
    """The font for `text` (see family_for) at `weight` (Light/Regular/Semibold/Bold/Black)
    and pixel `size`; without text, Source Sans Pro."""
    return _truetype(font_path(weight, text), size)
