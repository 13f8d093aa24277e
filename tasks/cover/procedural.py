"""Offline procedural cover art: the cover users get when no image API key is configured.

The caption is read as a mood (family of artwork + palette + energy, see mood.py), the seed
picks the variation (composition, exact hues, element positions), and a painter from
families.py draws it with numpy fields and Pillow shapes. The result is deterministic: the
same caption, title, seed and size always give the same pixels, so cached videos stay valid.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
from PIL import Image

from mvflow.cover.elements import OVERLAYS
from mvflow.cover.families import FAMILIES, Family
from mvflow.cover.fields import Canvas, calm_bottom, film_grain, to_image, tonemap, vignette
from mvflow.cover.mood import Mood, cover_mood
from mvflow.cover.palettes import PALETTES, vary

__all__ = ["Mood", "cover_mood", "procedural_cover"]

MIN_SIDE = 8


def _generators(caption: str, title: str, seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Two independent streams from a hash of all inputs: layout (shared by every size) and detail."""
    blob = json.dumps([caption, title, int(seed)]).encode()
    entropy = int.from_bytes(hashlib.sha256(blob).digest()[:16], "big")
    layout, detail = np.random.SeedSequence(entropy).spawn(2)
    return np.random.default_rng(layout), np.random.default_rng(detail)


def _finish(c: Canvas, family: Family) -> None:
    """Shared last steps: roll off highlights, calm the lyric area, vignette, then grain on top."""
    tonemap(c)
    calm_bottom(c)
    vignette(c, family.vignette)
    film_grain(c, family.grain)


def procedural_cover(caption: str, title: str, seed: int, size: tuple[int, int]) -> Image.Image:
    """Paint an RGB cover of exactly `size` (width, height) for a song's caption and title."""
    width, height = (int(v) for v in size)
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ValueError(f"cover size {width}x{height} is too small; both sides must be >= {MIN_SIDE} px")
    mood = cover_mood(caption, title)
    layout, detail = _generators(caption, title, seed)
    palette = vary(PALETTES[mood.palette], layout)
    canvas = Canvas(width, height, layout, detail)
    family = FAMILIES[mood.family]
    family.paint(canvas, palette, mood)
    if mood.overlay:
        OVERLAYS[mood.overlay](canvas, palette)
    _finish(canvas, family)
    return to_image(canvas)
