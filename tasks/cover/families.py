"""The visual families of procedural covers. Each painter fills a Canvas with one kind of artwork.

A painter takes its layout decisions (motif, positions, sizes) from `c.rng` with a fixed number
of draws, and everything size-dependent (noise, particles) from `c.detail`, so the 16:9
background and the 1:1 square of one song show the same composition. Every family keeps its
bright focal point in the upper two thirds; procedural.py then calms the bottom third for lyrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

from mvflow.cover.elements import glow_light, soft_spot, starfield, twinkle
from mvflow.cover.fields import (
    Canvas,
    Color,
    add,
    add_upscaled,
    box_blur,
    draw_mask,
    fbm,
    luminance,
    mix,
    over,
    ramp,
    row_band,
    screen,
    smoothstep,
    soften,
    value_noise,
    vertical_gradient,
    warp,
)
from mvflow.cover.mood import Mood
from mvflow.cover.palettes import Palette, at_night

Painter = Callable[[Canvas, Palette, Mood], None]


@dataclass(frozen=True)
class Family:
    """A painter plus how much grain and vignette suit it (rock wants grit, pastel does not)."""

    paint: Painter
    grain: float = 0.022
    vignette: float = 0.35


def _wave(x: np.ndarray, rng: np.random.Generator, amp: float, waves: int = 3) -> np.ndarray:
    """Sum of a few random sines over relative x: a smooth, non-repeating curve."""
    out = np.zeros_like(x)
    for i in range(waves):
        freq = rng.uniform(0.6, 1.6) * (i + 1)
        out += np.sin(2 * np.pi * freq * x + rng.uniform(0, 2 * np.pi)) * amp / (i + 1)
    return out


# --------------------------------------------------------------------------- synthwave


def _sun(c: Canvas, pal: Palette, cx: float, cy: float, radius: float, horizon: float, bands: int) -> None:
    """Retro sun: light-to-magenta disc whose visible lower part is cut by widening horizontal gaps."""
    dx, dy = c.iso(cx, cy)
    d = np.sqrt(dx * dx + dy * dy)
    t = dy / radius  # -1 at the top of the disc, the horizon at t_h
    t_h = (horizon - cy) * c.sy / radius
    aa = 1.5 / c.unit
    disc = smoothstep(radius + aa, radius - aa, d)
    t0 = -0.5
    v = (t - t0) / (t_h - t0)  # 0..1 over the striped part
    gap = np.where(v > 0, 0.15 + 0.55 * v, 0.0)
    period_px = (t_h - t0) * radius * c.unit / bands
    cut = np.clip((gap - (v * bands) % 1.0) * period_px, 0.0, 1.0) * (v > 0)
    above = (c.y < horizon).astype(np.float32)
    height = np.broadcast_to((t + 1.0) / (t_h + 1.0), d.shape)
    color = ramp(height, [(0.0, pal.light), (0.45, pal.accent), (1.0, pal.primary)])
    over(c, color, disc * (1.0 - cut) * above)
    halo = np.exp(-np.maximum(d - radius, 0.0) / (radius * 0.45))
    add(c, mix(pal.primary, pal.accent, 0.4), halo * (1.0 - disc) * 0.45 * above)


def _ridge_profile(rng: np.random.Generator, xs: np.ndarray, height: float) -> np.ndarray:
    """Mountain silhouette: overlapping triangular peaks with a little jaggedness."""
    prof = np.zeros_like(xs)
    for _ in range(6):
        px, h, w = rng.uniform(-0.1, 1.1), rng.uniform(0.35, 1.0) * height, rng.uniform(0.12, 0.3)
        prof = np.maximum(prof, h * (1.0 - np.abs(xs - px) / w))
    return prof + np.abs(_wave(xs * 6, rng, height * 0.08))


def _skyline_boxes(rng: np.random.Generator, height: float) -> list[tuple[float, float, float]]:
    """City skyline as (x0, x1, height) boxes spanning the width, tallest away from the centre."""
    boxes, x = [], -0.02
    while x < 1.02:
        w = rng.uniform(0.02, 0.06)
        edge = 0.4 + 1.2 * abs(x + w / 2 - 0.5)
        boxes.append((x, x + w, rng.uniform(0.25, 1.0) * height * edge))
        x += w
    return boxes


def _silhouette(c: Canvas, pal: Palette, horizon: float, kind: str) -> None:
    """Mountains (with a neon rim) or a skyline (with lit windows) standing on the horizon."""
    rng = c.rng
    dark = mix(pal.ground, pal.mid, 0.35)
    height = rng.uniform(0.07, 0.12)  # iso
    hy_px = horizon * c.h
    if kind == "mountains":
        xs = np.linspace(0.0, 1.0, 96, dtype=np.float32)
        prof = _ridge_profile(rng, xs, height)
        pts = [c.px(float(x), horizon - float(p) / c.sy) for x, p in zip(xs, prof, strict=True)]

        def body(draw: ImageDraw.ImageDraw, s: int) -> None:
            draw.polygon(
                [(0, hy_px * s)] + [(x * s, y * s) for x, y in pts] + [(c.w * s, hy_px * s)], fill=255
            )

        def rim(draw: ImageDraw.ImageDraw, s: int) -> None:
            draw.line([(x * s, y * s) for x, y in pts], fill=255, width=max(1, int(0.0025 * c.unit * s)))

        over(c, dark, draw_mask(c, body))
        glow_light(c, pal.primary, draw_mask(c, rim) * 0.8, halo=0.6)
        return
    boxes = _skyline_boxes(rng, height * 1.4)
    lit = rng.random((len(boxes), 64)) < 0.22

    def city(draw: ImageDraw.ImageDraw, s: int) -> None:
        for x0, x1, h in boxes:
            draw.rectangle([x0 * c.w * s, (horizon - h / c.sy) * c.h * s, x1 * c.w * s, hy_px * s], fill=255)

    def windows(draw: ImageDraw.ImageDraw, s: int) -> None:
        cell = 0.009 * c.unit * s
        for (x0, x1, h), on in zip(boxes, lit, strict=True):
            top = (horizon - h / c.sy) * c.h * s + cell
            cols = max(1, int((x1 - x0) * c.w * s / (cell * 2)))
            rows = max(1, int((hy_px * s - top) / (cell * 2)))
            for k in range(min(rows * cols, 64)):
                if on[k]:
                    px = x0 * c.w * s + (k % cols) * cell * 2 + cell * 0.5
                    py = top + (k // cols) * cell * 2
                    draw.rectangle([px, py, px + cell * 0.8, py + cell], fill=255)

    over(c, dark, draw_mask(c, city))
    glow_light(c, pal.accent, draw_mask(c, windows) * 0.7, halo=0.4)


def _grid_floor(c: Canvas, horizon: float, color: Color, vanish_x: float) -> None:
    """Perspective grid computed analytically per pixel: lines keep a constant on-screen width and
    fade out where they would crowd (and alias) near the horizon."""
    row0 = int(np.searchsorted(c.y[:, 0], horizon))
    v = np.maximum((c.y[row0:] - horizon) * c.sy, 1e-4)  # iso units below the horizon
    cam = 0.3
    z = cam / v
    dzdp = cam / (v * v) / c.unit  # world depth per pixel row
    spacing, phase = 0.55, c.rng.random()
    fz = z / spacing + phase
    dist_h = np.abs(fz - np.round(fz)) * spacing / dzdp
    width = max(0.8, 0.0016 * c.unit)
    lines_h = np.clip(1.0 - dist_h / width, 0.0, 1.0) * smoothstep(2.0, 8.0, spacing / dzdp)
    wx = (c.x - vanish_x) * c.sx * z
    fx = wx / spacing
    dist_v = np.abs(fx - np.round(fx)) * spacing * c.unit / z
    lines_v = np.clip(1.0 - dist_v / width, 0.0, 1.0) * smoothstep(2.0, 10.0, spacing * c.unit / z)
    grid = np.maximum(lines_h, lines_v) * (0.25 + 0.75 * smoothstep(0.0, 0.35, v))
    full = np.zeros((c.h, c.w), np.float32)
    full[row0:] = grid
    glow_light(c, color, full * 1.3, halo=1.0)


def paint_synthwave(c: Canvas, pal: Palette, mood: Mood) -> None:
    """Neon retro: gradient sky with stars, striped sun on the horizon, silhouette, glowing grid."""
    pal = at_night(pal)
    rng = c.rng
    horizon = rng.uniform(0.57, 0.63)
    floor_top = mix(pal.ground, pal.horizon, 0.3)
    vertical_gradient(
        c,
        [
            (0.0, pal.sky),
            (horizon * 0.55, pal.mid),
            (horizon, pal.horizon),
            (horizon + 1e-3, floor_top),
            (1.0, pal.ground),
        ],
    )
    add(c, pal.light, starfield(c, 700, horizon * 0.8) * 0.8)
    radius = rng.uniform(0.2, 0.27)
    room = min(0.16, max(0.0, c.sx / 2 - radius * 1.2))  # keep the sun inside narrow frames
    cx = 0.5 + rng.uniform(-1.0, 1.0) * room / c.sx
    cy = horizon - radius * rng.uniform(0.05, 0.4) / c.sy
    _sun(c, pal, cx, cy, radius, horizon, int(rng.integers(4, 7)))
    _silhouette(c, pal, horizon, "mountains" if rng.random() < 0.6 else "city")
    # horizon line and haze
    dy = np.abs(c.y - horizon) * c.sy
    add(
        c,
        mix(pal.horizon, pal.light, 0.4),
        np.broadcast_to(np.exp(-dy / 0.006) * 0.8 + np.exp(-dy / 0.06) * 0.18, (c.h, c.w)),
    )
    # the sun's reflection on the floor
    rx, ry = c.iso(cx, horizon)
    below = (ry > 0) * np.exp(-np.abs(rx) / (radius * 0.35)) * np.exp(-np.maximum(ry, 0) / 0.12)
    add(c, pal.accent, below * 0.25)
    grid_color = pal.secondary if rng.random() < 0.5 else pal.primary
    _grid_floor(c, horizon, grid_color, cx)


# --------------------------------------------------------------------------- bokeh


def _bokeh_layer(
    c: Canvas,
    colors: list[Color],
    count: int,
    r_range: tuple[float, float],
    hexagon: bool,
    blur: float,
    band: float,
) -> np.ndarray:
    """Out-of-focus light discs with brighter rims, as a reduced-resolution RGB light field.

    Discs cluster around the relative height `band` (like distant city lights) and are drawn and
    blurred small: they are soft by nature, so the caller scales up only the result.
    """
    rng = c.detail
    f = max(1, c.unit // 300)
    h, w = max(1, c.h // f), max(1, c.w // f)
    unit = c.unit / f
    acc = np.zeros((h, w, 3), np.float32)
    for _ in range(count):
        x, y = rng.random(), float(np.clip(rng.normal(band, 0.17), 0.0, 0.78))
        r = rng.uniform(*r_range) * unit
        color = colors[rng.integers(len(colors))] * rng.uniform(0.3, 0.85)
        cxp, cyp = x * w, y * h
        x0, x1 = int(max(0, cxp - r - 2)), int(min(w, cxp + r + 3))
        y0, y1 = int(max(0, cyp - r - 2)), int(min(h, cyp + r + 3))
        if x0 >= x1 or y0 >= y1:
            continue
        dx = np.abs(np.arange(x0, x1, dtype=np.float32)[None, :] + 0.5 - cxp)
        dy = np.abs(np.arange(y0, y1, dtype=np.float32)[:, None] + 0.5 - cyp)
        d = np.maximum(dx * 0.866 + dy * 0.5, dy) if hexagon else np.sqrt(dx * dx + dy * dy)
        disc = np.clip(r - d + 0.5, 0.0, 1.0) * (0.65 + 0.5 * smoothstep(0.6 * r, r, d))
        acc[y0:y1, x0:x1] += disc[..., None] * color
    return box_blur(acc.transpose(2, 0, 1), blur * unit).transpose(1, 2, 0) if blur > 0 else acc


def _crescent(c: Canvas, pal: Palette, cx: float, cy: float, radius: float) -> None:
    """A crescent moon: a disc minus an offset disc, with a soft halo."""
    lit = smoothstep(radius + 1.5 / c.unit, radius - 1.5 / c.unit, c.dist(cx, cy))
    shadow = smoothstep(
        radius * 0.95, radius * 0.8, c.dist(cx + radius * 0.45 / c.sx, cy - radius * 0.2 / c.sy)
    )
    screen(c, pal.light, soft_spot(c, cx, cy, radius * 4) * 0.25)
    over(c, mix(pal.light, pal.accent, 0.25), lit * (1.0 - shadow))


def _distant_city(c: Canvas, pal: Palette, horizon: float) -> None:
    """A far, out-of-focus skyline on the horizon: gives the lights a place to be."""
    boxes = _skyline_boxes(c.rng, c.rng.uniform(0.08, 0.14))

    def city(draw: ImageDraw.ImageDraw, s: int) -> None:
        for x0, x1, h in boxes:
            top = (horizon - h / c.sy) * c.h * s
            draw.rectangle([x0 * c.w * s, top, x1 * c.w * s, horizon * c.h * s], fill=255)
        draw.rectangle([0, horizon * c.h * s, c.w * s, c.h * s], fill=255)

    over(c, mix(pal.ground, pal.mid, 0.3), soften(c, draw_mask(c, city), 0.006) * 0.75)


def paint_bokeh(c: Canvas, pal: Palette, mood: Mood) -> None:
    """Dusky soft gradient, a glowing horizon, layered out-of-focus lights; a crescent moon at night."""
    rng = c.rng
    horizon = rng.uniform(0.48, 0.58)
    glow = mix(pal.mid, pal.horizon, 0.75)
    vertical_gradient(c, [(0.0, pal.sky), (horizon * 0.55, pal.mid), (horizon, glow), (1.0, pal.ground)])
    for color in (pal.primary, pal.secondary, pal.horizon):
        spot = soft_spot(c, rng.uniform(0.05, 0.95), rng.uniform(0.1, 0.55), rng.uniform(0.35, 0.6))
        screen(c, color, spot * rng.uniform(0.12, 0.28))
    c.rgb *= (0.8 + 0.35 * fbm(c, 1.2, 3))[..., None]  # uneven light, like a real lens
    if rng.random() < 0.5 and luminance(pal.sky) < 0.25 and mood.overlay != "rain":
        moon_x = rng.choice([0.18, 0.82]) if not c.portrait else rng.choice([0.25, 0.75])
        _crescent(c, pal, float(moon_x), 0.17, rng.uniform(0.04, 0.06))  # far away: behind everything
    else:
        corner = 0.0 if rng.random() < 0.5 else 1.0
        screen(c, pal.accent, soft_spot(c, corner, 0.0, 0.7) * 0.3)  # light leak from one corner
    if rng.random() < 0.6:
        _distant_city(c, pal, horizon)
    hexagon = rng.random() < 0.35
    band = horizon - rng.uniform(0.05, 0.15)
    scale = (0.7 + 0.6 * mood.energy) * c.sx * c.sy
    colors = [pal.primary, pal.secondary, pal.accent, pal.accent, pal.light]
    for count, radii, blur, amount in (
        (int(40 * scale), (0.006, 0.018), 0.002, 1.0),
        (int(16 * scale), (0.025, 0.06), 0.004, 0.7),
        (int(5 * scale) + 2, (0.08, 0.15), 0.012, 0.4),
    ):
        add_upscaled(c, _bokeh_layer(c, colors, count, radii, hexagon, blur, band), amount)


# --------------------------------------------------------------------------- geometric


def _regular_polygon(cx: float, cy: float, r: float, sides: int, rot: float) -> list[tuple[float, float]]:
    return [
        (cx + r * math.cos(rot + 2 * math.pi * k / sides), cy + r * math.sin(rot + 2 * math.pi * k / sides))
        for k in range(sides)
    ]


def _motif_tunnel(c: Canvas, cx: float, cy: float, size: float) -> list[Callable]:
    """Nested rotating polygons receding into the centre: a vortex / tunnel."""
    rng = c.rng
    sides = int(rng.choice([3, 4, 6]))
    steps, q, twist = int(rng.integers(7, 11)), rng.uniform(0.78, 0.86), rng.uniform(0.05, 0.18)
    rot0 = rng.uniform(0, math.pi)

    def layer(parity: int) -> Callable:
        def paint(draw: ImageDraw.ImageDraw, s: int) -> None:
            px, py = c.px(cx, cy, s)
            for i in range(parity, steps, 2):
                r = size * c.unit * s * q**i
                pts = _regular_polygon(px, py, r, sides, rot0 + twist * i)
                draw.polygon(pts, outline=255, width=max(1, int(0.005 * c.unit * s * q ** (i * 0.5))))

        return paint

    return [layer(0), layer(1)]


def _motif_rings(c: Canvas, cx: float, cy: float, size: float) -> list[Callable]:
    """Concentric arcs of varied weight and extent, like a turntable or a HUD."""
    rng = c.rng
    rings = [(rng.uniform(0.25, 1.0), rng.uniform(0, 360), rng.uniform(60, 330), rng.uniform(0.003, 0.02))
             for _ in range(9)]  # fmt: skip

    def layer(parity: int) -> Callable:
        def paint(draw: ImageDraw.ImageDraw, s: int) -> None:
            px, py = c.px(cx, cy, s)
            for i, (rf, start, extent, width) in enumerate(rings):
                if i % 2 != parity:
                    continue
                r = rf * size * c.unit * s
                draw.arc([px - r, py - r, px + r, py + r], start, start + extent, fill=255,
                         width=max(1, int(width * c.unit * s)))  # fmt: skip
            if parity == 1:
                r = 0.12 * size * c.unit * s
                draw.ellipse([px - r, py - r, px + r, py + r], fill=255)

        return paint

    return [layer(0), layer(1)]


def _motif_bauhaus(c: Canvas, cx: float, cy: float, size: float) -> list[Callable]:
    """Overlapping solid primitives: a disc, a half disc, a bar and a triangle outline."""
    rng = c.rng
    ang = rng.uniform(0, 360)
    off = rng.uniform(-0.4, 0.4, size=4)

    def disc(draw: ImageDraw.ImageDraw, s: int) -> None:
        px, py = c.px(cx, cy, s)
        r = size * c.unit * s
        draw.ellipse([px - r * 0.62 + off[0] * r, py - r * 0.62, px + r * 0.62 + off[0] * r, py + r * 0.62],
                     outline=255, width=max(1, int(0.006 * c.unit * s)))  # fmt: skip
        draw.pieslice([px - r * 0.45, py - r * 0.45 + off[1] * r, px + r * 0.45, py + r * 0.45 + off[1] * r],
                      ang, ang + 180, fill=255)  # fmt: skip

    def bars(draw: ImageDraw.ImageDraw, s: int) -> None:
        px, py = c.px(cx, cy, s)
        r = size * c.unit * s
        pts = _regular_polygon(px + off[2] * r, py + off[3] * r * 0.5, r * 0.85, 3, math.radians(ang) / 3)
        draw.polygon(pts, outline=255, width=max(1, int(0.008 * c.unit * s)))
        for k in range(4):
            y = py + r * (0.55 + 0.1 * k)
            draw.rectangle([px - r * (0.9 - 0.2 * k), y, px + r * (0.2 + 0.15 * k), y + r * 0.035], fill=255)

    return [disc, bars]


MOTIFS = {"tunnel": _motif_tunnel, "rings": _motif_rings, "bauhaus": _motif_bauhaus}


def _dot_grid(c: Canvas, corner_x: float, corner_y: float) -> Callable:
    """A small halftone dot matrix near a corner: texture that reads as 'designed'."""

    def paint(draw: ImageDraw.ImageDraw, s: int) -> None:
        step = 0.022 * c.unit * s
        x0, y0 = c.px(corner_x, corner_y, s)
        for i in range(6):
            for j in range(6):
                r = step * 0.16 * (1.0 - 0.12 * (i + j) / 2)
                x, y = x0 + (i - 2.5) * step, y0 + (j - 2.5) * step
                draw.ellipse([x - r, y - r, x + r, y + r], fill=200)

    return paint


def _light_beams(c: Canvas, color: Color, count: int) -> None:
    """Club light shafts fanning down from above the frame."""
    rng = c.rng
    dx, dy = c.iso(rng.uniform(0.3, 0.7), -0.12)
    ang = np.arctan2(dx, dy)
    dist = np.sqrt(dx * dx + dy * dy)
    beams = np.zeros((c.h, c.w), np.float32)
    for _ in range(count):
        beams += np.exp(-(((ang - rng.uniform(-0.7, 0.7)) / rng.uniform(0.015, 0.05)) ** 2))
    add(c, color, beams * np.exp(-dist / 0.9) * 0.16)


def paint_geometric(c: Canvas, pal: Palette, mood: Mood) -> None:
    """Dark stage with light beams and a glowing neon geometric motif plus small satellites."""
    pal = at_night(pal)
    rng = c.rng
    vertical_gradient(c, [(0.0, pal.sky), (0.45, pal.mid), (1.0, pal.ground)])
    cy = 0.38 if not c.portrait else 0.36
    size = rng.uniform(0.27, 0.33)
    room = min(0.12, max(0.0, c.sx / 2 - size * 1.4))  # keep the motif inside narrow frames
    cx = 0.5 + rng.uniform(-1.0, 1.0) * room / c.sx
    add(c, mix(pal.mid, pal.primary, 0.4), soft_spot(c, cx, cy, 0.5) * 0.22)
    texture = fbm(c, 3.0, 3)
    c.rgb *= (0.8 + 0.35 * texture)[..., None]  # concrete / haze unevenness
    _light_beams(c, mix(pal.light, pal.secondary, 0.4), int(rng.integers(4, 8)) + int(4 * mood.energy))
    motif = list(MOTIFS)[int(rng.integers(len(MOTIFS)))]
    first, second = MOTIFS[motif](c, cx, cy, size)
    glow_light(c, pal.primary, draw_mask(c, first), halo=0.9)
    glow_light(c, pal.secondary, draw_mask(c, second), halo=0.9)
    gx = rng.choice([0.14, 0.86]) if not c.portrait else rng.choice([0.2, 0.8])
    dots = _dot_grid(c, float(gx), 0.13 if not c.portrait else 0.1)
    add(c, pal.accent, draw_mask(c, dots) * 0.7)
    sat_x, sat_y, sat_r, sat_rot = (
        1.0 - gx,
        rng.uniform(0.6, 0.68),
        rng.uniform(0.035, 0.06),
        rng.uniform(0, 3),
    )

    def satellite(draw: ImageDraw.ImageDraw, s: int) -> None:
        px, py = c.px(float(sat_x), float(sat_y), s)
        pts = _regular_polygon(px, py, sat_r * c.unit * s, 3, sat_rot)
        draw.polygon(pts, outline=255, width=max(1, int(0.004 * c.unit * s)))

    glow_light(c, pal.accent, draw_mask(c, satellite) * 0.8, halo=0.6)


# --------------------------------------------------------------------------- waves


def _ribbon(
    c: Canvas, pal: Palette, base: float, amp: float, thick: float, colors: tuple[Color, Color]
) -> None:
    """A silk ribbon: a twisting band along a wavy curve, made of fine parallel threads.

    It is alpha-blended in its own colours (not added as light) so it stays coloured on a
    bright summer sky as well as on a night one. Only the rows it can reach are computed.
    """
    rng = c.rng
    xs = c.x[0]
    centre = base + _wave(xs, rng, amp) / c.sy
    twist = thick * (0.25 + 0.75 * np.abs(np.cos(np.pi * rng.uniform(0.8, 1.8) * xs + rng.uniform(0, np.pi))))
    half = twist / c.sy
    rows = row_band(c, float((centre - half).min()), float((centre + half).max()))
    t = (c.y[rows] - centre[None, :]) / half[None, :]  # -1..1 across the ribbon
    inside = smoothstep(1.0, 0.8, np.abs(t))
    n_threads = int(rng.integers(9, 16))
    resolved = smoothstep(2.5, 5.0, 2 * twist * c.unit / n_threads)[None, :]  # no moire when tiny
    threads = 1.0 - resolved * 0.55 * (1.0 - np.cos(np.pi * t * n_threads) ** 2)
    along = ramp(xs, [(0.0, colors[0]), (1.0, colors[1])])[None, :, :]
    shade = (0.8 + 0.3 * (1.0 - np.abs(t)))[..., None]  # rounded: brighter along the middle
    over(c, along * shade, inside * threads * 0.6, rows)
    add(c, pal.light, inside * np.exp(-np.abs(t + 0.6) * 8) * 0.22, rows)  # sheen along one edge


def _wave_layer(c: Canvas, pal: Palette, base: float, amp: float, color: Color, rim: float) -> None:
    """One filled wave/hill from a wavy top edge down to the bottom, with a light rim on the crest."""
    curve = base + _wave(c.x[0], c.rng, amp) / c.sy
    rows = row_band(c, float(curve.min()) - 0.01, 1.0)
    below = c.y[rows] - curve[None, :]
    body = smoothstep(-0.0015, 0.0015, below)
    shade = (1.0 - 0.4 * smoothstep(0.0, 0.25, below))[..., None]
    over(c, color * shade, body, rows)
    add(c, pal.light, np.exp(-np.maximum(below, 0.0) * c.sy / 0.004) * body * rim, rows)


def paint_waves(c: Canvas, pal: Palette, mood: Mood) -> None:
    """Open sky with a soft sun, silk ribbons drifting across it, layered waves/hills below."""
    rng = c.rng
    horizon = rng.uniform(0.5, 0.58)
    vertical_gradient(
        c, [(0.0, pal.sky), (horizon * 0.6, pal.mid), (horizon, pal.horizon), (1.0, pal.ground)]
    )
    sx, sy = rng.uniform(0.25, 0.75), rng.uniform(0.18, 0.32)
    screen(c, pal.light, np.clip(soft_spot(c, sx, sy, 0.06) * 2.5, 0, 1) * 0.9)
    screen(c, pal.accent, soft_spot(c, sx, sy, 0.35) * 0.45)
    pairs = [(pal.primary, pal.secondary), (pal.accent, pal.primary), (pal.secondary, pal.accent)]
    for i in range(int(rng.integers(2, 4))):
        _ribbon(c, pal, rng.uniform(0.3, 0.48), rng.uniform(0.05, 0.11), rng.uniform(0.035, 0.07), pairs[i])
    far = mix(pal.horizon, pal.primary, 0.55)
    layers = 5
    for i in range(layers):
        depth = i / (layers - 1)
        color = mix(far, pal.ground, 0.3 + 0.6 * depth)
        _wave_layer(
            c, pal, horizon + 0.04 + depth * (0.86 - horizon), 0.02 + 0.035 * depth, color, 0.35 - 0.2 * depth
        )


# --------------------------------------------------------------------------- embers


def _angular_noise(rng: np.random.Generator, ang: np.ndarray, lobes: int) -> np.ndarray:
    """Smooth periodic noise over an angle field (radian), 0..1: corona and burst ray lengths."""
    knots = rng.random(lobes + 1).astype(np.float32)
    knots[-1] = knots[0]
    pos = (ang / (2 * np.pi) + 0.5) * lobes
    return np.interp(pos, np.arange(lobes + 1), knots).astype(np.float32)


def _fire_ramp(pal: Palette) -> list[tuple[float, Color]]:
    """Black -> deep red -> red -> orange -> yellow -> white-hot: colour by temperature."""
    roles = (pal.ground, pal.horizon, pal.primary, pal.secondary, pal.accent, pal.light)
    return list(zip((0.0, 0.25, 0.5, 0.75, 0.92, 1.0), roles, strict=True))


def _eclipse(c: Canvas, pal: Palette, cx: float, cy: float, heat: np.ndarray) -> None:
    """A black disc with a ragged fiery corona and a hot rim."""
    radius = c.rng.uniform(0.14, 0.19)
    dx, dy = c.iso(cx, cy)
    d = np.sqrt(dx * dx + dy * dy)
    ang = np.arctan2(dy, dx)
    rays = 0.5 * _angular_noise(c.rng, ang, 24) + 0.5 * _angular_noise(c.rng, ang, 7)
    length = 0.02 + 0.11 * rays * (0.5 + heat)
    corona = np.exp(-np.maximum(d - radius, 0.0) / length)
    over(c, ramp(np.clip(corona, 0, 1), _fire_ramp(pal)), smoothstep(0.0, 0.6, corona))
    over(c, pal.ground * 0.4, smoothstep(radius + 1.5 / c.unit, radius - 1.5 / c.unit, d))
    rim = np.exp(-np.abs(d - radius) * c.unit / max(1.5, 0.004 * c.unit))
    add(c, pal.light, rim * 0.9)


def _rift(c: Canvas, pal: Palette, cx: float, cy: float, heat: np.ndarray) -> None:
    """A jagged vertical crack of fire splitting the dark, widest around its middle."""
    rng = c.rng
    ys = c.y[:, 0]
    steps = rng.normal(0, 1, 40).cumsum()
    walk = np.interp(ys, np.linspace(0, 1, 40), (steps - steps.mean()) * 0.012).astype(np.float32)
    centre = cx + walk / c.sx
    span = np.exp(-(((ys - cy) / 0.3) ** 2))
    width = (0.004 + 0.03 * span)[:, None] * (0.6 + 0.8 * heat)
    dx = np.abs(c.x - centre[:, None]) * c.sx
    crack = np.exp(-dx / width) * span[:, None]
    over(c, ramp(np.clip(crack, 0, 1), _fire_ramp(pal)), smoothstep(0.0, 0.5, crack))
    add(c, pal.light, np.exp(-dx / 0.002) * span[:, None] * 0.8)
    add(c, pal.primary, np.exp(-dx / (width * 5.0)) * span[:, None] * 0.35)  # heat haze around it


def _burst(c: Canvas, pal: Palette, cx: float, cy: float, heat: np.ndarray) -> None:
    """An explosion of light rays from a hot core."""
    dx, dy = c.iso(cx, cy)
    d = np.sqrt(dx * dx + dy * dy)
    rays = _angular_noise(c.rng, np.arctan2(dy, dx), 48) ** 3
    energy = np.exp(-d / (0.08 + 0.35 * rays)) * (0.6 + 0.6 * heat)
    energy = np.maximum(energy, np.exp(-d / 0.05))
    over(c, ramp(np.clip(energy, 0, 1), _fire_ramp(pal)), smoothstep(0.0, 0.5, energy))


COLD_SMOKE = np.array([0.25, 0.36, 0.62], np.float32)
EMBER_MOTIFS = {"eclipse": _eclipse, "rift": _rift, "burst": _burst}


def _sparks(c: Canvas, pal: Palette, cx: float, cy: float, count: int) -> None:
    """Embers rising around the focal point: short bright streaks, denser near it."""
    rng = c.detail
    n = int(count * c.sx * c.sy * c.fine)

    def paint(draw: ImageDraw.ImageDraw, s: int) -> None:
        for _ in range(n):
            x = cx + rng.normal(0, 0.28) / c.sx
            y = cy + rng.normal(0, 0.25) / c.sy - abs(rng.normal(0, 0.08))
            length = rng.uniform(0.004, 0.02) * c.unit * s
            ang = -math.pi / 2 + rng.normal(0, 0.5)
            width = max(1, int(rng.uniform(0.8, 2.2) * s * c.unit / 1080))
            px, py = c.px(x, y, s)
            end = (px + math.cos(ang) * length, py + math.sin(ang) * length)
            draw.line([(px, py), end], fill=int(rng.uniform(80, 255)), width=width)

    glow_light(c, pal.secondary, draw_mask(c, paint), core=1.0, halo=0.8)


def paint_embers(c: Canvas, pal: Palette, mood: Mood) -> None:
    """Near-black, smoky, with a burning focal motif (eclipse, rift or burst) and rising sparks."""
    pal = at_night(pal)
    rng = c.rng
    vertical_gradient(c, [(0.0, pal.sky), (0.45, pal.mid), (1.0, pal.ground)])
    cx = 0.5 + rng.uniform(-0.1, 0.1) / c.sx
    cy = rng.uniform(0.33, 0.4)
    smoke = warp(c, fbm(c, 2.5, 5), 0.12, 2.0)
    near = soft_spot(c, cx, cy, 0.6)
    add(c, mix(pal.mid, pal.primary, 0.35), smoke**2 * (0.18 + 0.5 * near))
    # a cold counter-light far from the fire makes it look hotter; near it the smoke glows orange
    add(c, COLD_SMOKE, smoke**2 * (1.0 - near) * 0.3)
    add(c, pal.secondary, (0.4 + smoke) * soft_spot(c, cx, cy, 0.32) * 0.3)
    heat = fbm(c, 5.0, 3)
    motif = list(EMBER_MOTIFS)[int(rng.integers(len(EMBER_MOTIFS)))]
    EMBER_MOTIFS[motif](c, pal, cx, cy, heat)
    add(c, pal.primary, soft_spot(c, cx, cy, 0.45) * 0.18)
    _sparks(c, pal, cx, cy, int(70 + 150 * mood.energy))


# --------------------------------------------------------------------------- nebula


def _band(c: Canvas, cx: float, cy: float, angle: float, width: float) -> np.ndarray:
    """Gaussian band across the image through (cx, cy): where the nebula's clouds live."""
    dx, dy = c.iso(cx, cy)
    dist = -dx * math.sin(angle) + dy * math.cos(angle)
    return np.exp(-((dist / width) ** 2))


def _planet(c: Canvas, pal: Palette, cx: float, cy: float, radius: float, light: tuple[float, float]) -> None:
    """A banded planet lit from one side, with an atmospheric rim; it hides what is behind it."""
    dx, dy = c.iso(cx, cy)
    d = np.sqrt(dx * dx + dy * dy)
    disc = smoothstep(radius + 1.5 / c.unit, radius - 1.5 / c.unit, d)
    nz = np.sqrt(np.clip(1.0 - (d / radius) ** 2, 0.0, 1.0))
    lambert = np.clip((dx / radius) * light[0] + (dy / radius) * light[1] + nz * 0.35, 0.0, 1.0)
    bands = value_noise(c, 5.0 / radius, stretch=(0.04, 1.0))
    surface = ramp(
        bands, [(0.0, pal.mid), (0.5, mix(pal.secondary, pal.mid, 0.6)), (1.0, mix(pal.accent, pal.mid, 0.4))]
    )
    over(c, surface * (0.04 + 0.96 * lambert)[..., None], disc)
    rim = np.exp(-np.abs(d - radius) / 0.006) * (
        0.2 + 0.8 * np.clip((dx * light[0] + dy * light[1]) / radius, 0, 1)
    )
    add(c, mix(pal.secondary, pal.light, 0.3), rim * 0.9)


def paint_nebula(c: Canvas, pal: Palette, mood: Mood) -> None:
    """Deep space: coloured cloud filaments along a band, dust lanes, stars, maybe a planet."""
    pal = at_night(pal)
    rng = c.rng
    vertical_gradient(c, [(0.0, pal.sky), (0.5, pal.mid), (1.0, pal.ground)])
    ncx, ncy = rng.uniform(0.35, 0.65), rng.uniform(0.28, 0.4)
    band = _band(c, ncx, ncy, rng.uniform(-0.6, 0.6), rng.uniform(0.28, 0.42))
    band *= 1.0 - 0.7 * smoothstep(0.5, 1.0, c.y)
    clouds = warp(c, fbm(c, 1.8, 6), 0.15, 1.5)
    clouds2 = warp(c, fbm(c, 2.6, 6), 0.1, 2.5)
    ridge = (1.0 - np.abs(2.0 * clouds - 1.0)) ** 4  # thin bright filaments along the cloud edges
    detail = 0.55 + 0.9 * fbm(c, 9.0, 3)
    d1 = clouds**2.0 * band * detail * (0.6 + 0.7 * ridge)
    d2 = clouds2**2.4 * band * detail
    add(c, pal.primary, d1 * 0.95)
    add(c, pal.secondary, d2 * 0.7)
    add(c, pal.accent, d1 * d2 * 0.9)
    add(c, pal.light, ridge**3 * band * 0.12)
    dust = smoothstep(0.55, 0.85, fbm(c, 3.0, 4))
    c.rgb *= (1.0 - 0.55 * dust * band)[..., None]
    add(c, pal.light, starfield(c, 900, 1.0) * (0.55 + 0.45 * band))
    twinkle(c, mix(pal.light, pal.secondary, 0.2), int(rng.integers(4, 9)), 0.6)
    if rng.random() < 0.6:
        side = 1.0 if ncx < 0.5 else -1.0
        px = 0.5 + side * rng.uniform(0.18, 0.3) / c.sx * max(1.0, c.sx * 0.8)
        radius = rng.uniform(0.08, 0.15)
        _planet(c, pal, px, rng.uniform(0.2, 0.42), radius, (-side * 0.8, -0.6))


FAMILIES: dict[str, Family] = {
    "synthwave": Family(paint_synthwave, grain=0.02, vignette=0.3),
    "bokeh": Family(paint_bokeh, grain=0.018, vignette=0.3),
    "geometric": Family(paint_geometric, grain=0.028, vignette=0.45),
    "waves": Family(paint_waves, grain=0.016, vignette=0.28),
    "embers": Family(paint_embers, grain=0.05, vignette=0.55),
    "nebula": Family(paint_nebula, grain=0.02, vignette=0.35),
}
