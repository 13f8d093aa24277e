"""Reusable pieces several cover families share: stars, glowing neon, soft light, weather.

Counts of small things (stars, drops, sparks) scale with the image's area in iso units, not
its pixel count, so a thumbnail is not a noisy mess and a 4K cover not an empty sky.
"""

from __future__ import annotations

import numpy as np
from PIL import ImageDraw

from mvflow.cover.fields import Canvas, Color, add, draw_mask, smoothstep, soften
from mvflow.cover.palettes import Palette


def glow_light(c: Canvas, color: Color, mask: np.ndarray, core: float = 1.0, halo: float = 1.0) -> None:
    """Neon look: the sharp shape plus a tight and a wide blurred copy, all added as light."""
    add(c, color, mask * core + soften(c, mask, 0.012) * (0.9 * halo) + soften(c, mask, 0.06) * (0.55 * halo))


def soft_spot(c: Canvas, cx: float, cy: float, radius: float) -> np.ndarray:
    """Gaussian spot of light (radius in iso units), 1 at the centre."""
    d = c.dist(cx, cy)
    return np.exp(-((d / radius) ** 2))


def _dot(draw: ImageDraw.ImageDraw, x: float, y: float, r: float, fill: int) -> None:
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def starfield(c: Canvas, density: float, y_max: float = 1.0, size: float = 1.0) -> np.ndarray:
    """A 0..1 mask of stars above `y_max` (relative). Brightness follows a power law: many faint
    stars, few bright ones, which is what makes a sky read as deep rather than sprinkled."""
    rng = c.detail
    count = int(density * c.sx * c.sy * y_max * c.fine)
    xs, ys = rng.random(count), rng.random(count) * y_max
    bright = rng.random(count) ** 3.0
    fade = 1.0 - smoothstep(y_max * 0.6, y_max, ys)

    def paint(draw: ImageDraw.ImageDraw, s: int) -> None:
        base = max(0.5, 0.0007 * c.unit * size)
        for x, y, b, f in zip(xs, ys, bright, fade, strict=True):
            px, py = c.px(x, y, s)
            _dot(draw, px, py, (base * (0.5 + 1.8 * b)) * s, int(255 * (0.2 + 0.8 * b) * f))

    return draw_mask(c, paint)


def twinkle(c: Canvas, color: Color, count: int, y_max: float) -> None:
    """A few bright stars with glow and four-point diffraction spikes."""
    rng = c.detail
    for _ in range(count):
        x, y = rng.uniform(0.04, 0.96), rng.uniform(0.03, y_max)
        length = rng.uniform(0.03, 0.08)
        x0, x1 = int(max(0, (x - length / c.sx) * c.w)), int(min(c.w, (x + length / c.sx) * c.w + 1))
        y0, y1 = int(max(0, (y - length / c.sy) * c.h)), int(min(c.h, (y + length / c.sy) * c.h + 1))
        dx = np.abs((c.x[:, x0:x1] - x) * c.sx)
        dy = np.abs((c.y[y0:y1] - y) * c.sy)
        thin = 0.0012
        spikes = np.exp(-dx / thin) * np.exp(-dy / (length * 0.3)) + np.exp(-dy / thin) * np.exp(
            -dx / (length * 0.3)
        )
        core = np.exp(-np.sqrt(dx * dx + dy * dy) / (length * 0.08))
        c.rgb[y0:y1, x0:x1] += color * ((spikes * 0.6 + core) * rng.uniform(0.5, 1.0))[..., None]


def rain(c: Canvas, pal: Palette) -> None:
    """Rain on a window: faint slanted streaks over the whole image and a few lit droplets."""
    rng = c.detail
    slant = rng.uniform(0.08, 0.2)
    n_streaks = int(220 * c.sx * c.sy * c.fine)
    n_drops = int(90 * c.sx * c.sy * c.fine)

    def streaks(draw: ImageDraw.ImageDraw, s: int) -> None:
        for _ in range(n_streaks):
            x, y = rng.random() * 1.1 - 0.05, rng.random()
            length = rng.uniform(0.02, 0.09) * c.unit * s
            x0, y0 = c.px(x, y, s)
            draw.line([(x0, y0), (x0 + slant * length, y0 + length)], fill=int(rng.uniform(40, 140)), width=s)

    def drops(draw: ImageDraw.ImageDraw, s: int) -> None:
        for _ in range(n_drops):
            px, py = c.px(rng.random(), rng.random() * 0.8, s)
            _dot(draw, px, py, rng.uniform(0.002, 0.006) * c.unit * s, int(rng.uniform(60, 160)))

    add(c, pal.light, draw_mask(c, streaks) * 0.18)
    add(c, pal.light, soften(c, draw_mask(c, drops), 0.0025) * 0.35)


def snow(c: Canvas, pal: Palette) -> None:
    """Falling snow with depth: small sharp flakes plus a few large out-of-focus ones."""
    rng = c.detail
    n_small, n_large = int(260 * c.sx * c.sy * c.fine), int(22 * c.sx * c.sy)

    def flakes(count: int, lo: float, hi: float):
        def paint(draw: ImageDraw.ImageDraw, s: int) -> None:
            for _ in range(count):
                px, py = c.px(rng.random(), rng.random(), s)
                _dot(draw, px, py, rng.uniform(lo, hi) * c.unit * s, int(rng.uniform(120, 255)))

        return paint

    add(c, pal.light, draw_mask(c, flakes(n_small, 0.0012, 0.0035)) * 0.7)
    add(c, pal.light, soften(c, draw_mask(c, flakes(n_large, 0.008, 0.018)), 0.01) * 0.35)


OVERLAYS = {"rain": rain, "snow": snow}
