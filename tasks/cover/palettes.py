"""Colour palettes for procedural covers, and the seeded variations of them.

A palette names colours by the role they play in a composition (sky, horizon, the main light
colour...) rather than listing swatches, so every visual family can use every palette: a
"sad, rainy" synthwave cover and a "happy summer" one share a layout but not a mood.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, fields, replace

import numpy as np

from mvflow.cover.fields import Color, hex_color


@dataclass(frozen=True)
class Palette:
    """Colours by role. `sky` -> `mid` -> `horizon` is the background from the top down,
    `ground` the darkest tone (bottom of the image), `primary`/`secondary` the two main light
    colours, `accent` a contrasting highlight and `light` the near-white of the brightest spots."""

    name: str
    sky: Color
    mid: Color
    horizon: Color
    ground: Color
    primary: Color
    secondary: Color
    accent: Color
    light: Color

    @classmethod
    def from_hex(cls, name: str, *codes: str) -> Palette:
        return cls(name, *(hex_color(code) for code in codes))

    def colors(self) -> dict[str, Color]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "name"}


#                       sky        mid        horizon    ground     primary    secondary  accent     light
_DEFINITIONS = {
    "neon_night": ("#0a0422", "#2a0b4d", "#b0178f", "#07020f", "#ff2fb3", "#00e1ff", "#ff9e4a", "#fff3a8"),
    "sunset":     ("#1b1046", "#6e2a6e", "#ff7a52", "#170a1c", "#ff5e62", "#ffb36b", "#ffd86e", "#fff5da"),
    "golden":     ("#4aa3d8", "#9fd6ee", "#ffe2a0", "#123f4f", "#2a9d8f", "#e9c46a", "#f4a261", "#fffbe6"),
    "pastel":     ("#2a1a4c", "#8559a8", "#f3a1c6", "#1a1130", "#ffb3d5", "#b7a6ff", "#ffd5a3", "#fff4fa"),
    "dusk_rain":  ("#161e2c", "#2e3852", "#66668c", "#0b1017", "#86a3c8", "#e0a660", "#e8786c", "#eef3ff"),
    "lofi":       ("#2b2846", "#5d4a7b", "#e39a8b", "#15132a", "#f2b4a0", "#7cc4cf", "#f7d08a", "#fff1e2"),
    "acid":       ("#040806", "#0b1c16", "#123a2c", "#020303", "#3dff8f", "#00b7ff", "#e8ff3a", "#e9fff4"),
    "electric":   ("#060a28", "#15185e", "#3a2ad0", "#03041a", "#00dcff", "#ff3dc8", "#8b5cff", "#eaf6ff"),
    "ember":      ("#0a0404", "#2a0805", "#6b1407", "#050202", "#ff3f1a", "#ff9a1f", "#ffd23f", "#fff0c8"),
    "cosmic":     ("#03030f", "#0e0b30", "#241656", "#020208", "#b93cff", "#1fd1c9", "#ff5fa2", "#f4f1ff"),
    "ocean":      ("#0d3653", "#1f6f8b", "#98d6cf", "#05202e", "#2ec4b6", "#a0e7e5", "#ffbf69", "#f2fffd"),
    "forest":     ("#21382a", "#5b7c49", "#e6be7b", "#111b14", "#8fb573", "#d98f4e", "#f2d492", "#fff8e5"),
    "ice":        ("#0d1b2e", "#2c4f73", "#a6d1ef", "#07101c", "#bfe6ff", "#7aa7d9", "#ffd9e8", "#ffffff"),
}  # fmt: skip

PALETTES: dict[str, Palette] = {name: Palette.from_hex(name, *codes) for name, codes in _DEFINITIONS.items()}


def _shift(color: Color, hue: float, sat: float, val: float) -> Color:
    h, s, v = colorsys.rgb_to_hsv(*(float(ch) for ch in color))
    r, g, b = colorsys.hsv_to_rgb((h + hue) % 1.0, min(1.0, s * sat), min(1.0, v * val))
    return np.array([r, g, b], np.float32)


def vary(palette: Palette, rng: np.random.Generator) -> Palette:
    """A seeded variant: the whole palette rotates a little in hue (keeping its harmony), and each
    colour gets a smaller nudge of its own, so two seeds of one song look related but not equal."""
    base_hue = rng.uniform(-0.035, 0.035)  # about +-13 degrees
    sat = rng.uniform(0.9, 1.1)
    changes = {
        role: _shift(col, base_hue + rng.uniform(-0.012, 0.012), sat, rng.uniform(0.94, 1.06))
        for role, col in palette.colors().items()
    }
    return replace(palette, **changes)


def _dimmed(color: Color, max_luma: float) -> Color:
    luma = float(color[0] * 0.2126 + color[1] * 0.7152 + color[2] * 0.0722)
    return (color * min(1.0, max_luma / max(luma, 1e-6))).astype(np.float32)


def at_night(palette: Palette, max_luma: float = 0.07) -> Palette:
    """The palette's background roles darkened (hue kept) for families that glow on a dark stage:
    neon on a bright summer sky washes out, neon on a deep teal night with summer colours does not."""
    return replace(
        palette,
        sky=_dimmed(palette.sky, max_luma * 0.6),
        mid=_dimmed(palette.mid, max_luma),
        ground=_dimmed(palette.ground, max_luma * 0.3),
    )
