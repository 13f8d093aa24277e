"""The circular visualiser: spectrum spokes around a ring, in a square box.

The spectrum is mirrored left/right: bass at the top, treble at the bottom, the two
halves symmetric, so the circle has no seam. Every pixel of the spokes' annulus belongs to
exactly one spoke (its angular sector) and is stored once, with its distance from the
centre along the spoke's axis and how much of it lies across the spoke's width. Sorted by
spoke and that distance, a spoke of length L is a prefix of its pixel list, and a spoke
that moved from L to L' repaints only the pixels between the two (one searchsorted for all
spokes): a few thousand pixels per frame, anti-aliased on every edge.
"""

from __future__ import annotations

import math

import numpy as np

from mvflow.render.bars import wash_colour
from mvflow.render.coverage import Coverage, CoverageCanvas, ragged_ranges, rgba_image
from mvflow.render.features import bar_levels
from mvflow.render.layers import Layer
from mvflow.render.style_types import Color
from mvflow.render.visualiser import Visualiser, VisualiserSpec
from mvflow.render.yuv import Box, Planes, even_floor

RING_RADIUS = 0.40  # of the square's half side
SPOKE_START = 0.47  # spokes begin here (clear of the ring)
SPOKE_END = 0.98
MIN_PITCH = 4.0  # px between spoke centres at the inner radius: fewer spokes on small frames


def centred_square(box: Box) -> Box:
    """The largest square with even corners centred in `box`."""
    side = even_floor(min(box.width, box.height))
    x0, y0 = box.x0 + even_floor((box.width - side) / 2), box.y0 + even_floor((box.height - side) / 2)
    return Box(x0, y0, x0 + side, y0 + side)


def fitting_spoke_count(side: int, wanted: int) -> int:
    """Even (for the mirrored halves), at least 8, and spokes at least MIN_PITCH px apart."""
    inner = SPOKE_START * side / 2
    most = int(2 * math.pi * inner / MIN_PITCH)
    return max(8, min(wanted, most) // 2 * 2)


def spoke_bands(n_spokes: int) -> np.ndarray:
    """Band shown by each spoke, clockwise from the top: 0..n/2-1 down the right, back up the left."""
    half = np.arange(n_spokes // 2)
    return np.concatenate([half, half[::-1]])


def polar_grid(side: int, pixel: int) -> tuple[np.ndarray, np.ndarray]:
    """(radius, clockwise angle from the top) of each pixel centre of a plane with `pixel`-sized
    pixels over a `side`-px square, in luma pixels and radians."""
    centres = (np.arange(side // pixel, dtype=np.float64) + 0.5) * pixel - side / 2
    dx, dy = centres[None, :], centres[:, None]
    return np.hypot(dx, dy), np.mod(np.arctan2(dx, -dy), 2 * math.pi)


class SpokePixels:
    """Every annulus pixel of one plane, grouped by spoke and sorted by distance along it."""

    def __init__(self, side: int, n_spokes: int, r_in: float, r_out: float, half_width: float, pixel: int):
        self.pixel, self.r_in = pixel, r_in
        radius, angle = polar_grid(side, pixel)
        sector = 2 * math.pi / n_spokes
        spoke = np.minimum((angle / sector).astype(np.int64), n_spokes - 1)
        off = angle - (spoke + 0.5) * sector
        across, along = np.abs(radius * np.sin(off)), radius * np.cos(off)
        # Coverage across the spoke's width and at its fixed inner end, for a pixel of this size.
        cover = (np.clip((half_width + pixel / 2 - across) / pixel, 0, 1)
                 * np.clip((along - r_in) / pixel + 0.5, 0, 1))
        keep = (cover > 0) & (along < r_out + pixel)
        rows, cols = np.nonzero(keep)
        order = np.lexsort((along[keep], spoke[keep]))
        self.spoke = spoke[keep][order]
        self.along = along[keep][order].astype(np.float32)
        self.cover = cover[keep][order].astype(np.float32)
        self.rows, self.cols = rows[order], cols[order]
        self._stride = r_out + 4 * pixel  # keys: spoke * stride + along, increasing over the list
        self._keys = self.spoke * self._stride + self.along
        self._flat: np.ndarray | None = None  # frame-buffer positions, once the frame's size is known

    def coverage(self, canvas: CoverageCanvas, spokes: np.ndarray, lengths: np.ndarray, low: np.ndarray,
                 high: np.ndarray) -> Coverage:
        """The pixels of `spokes` whose distance from the inner end is within [low, high] (one pixel
        of margin each side), with their coverage by spokes of the given lengths (per spoke)."""
        if self._flat is None:
            self._flat = canvas.flat_index(self.rows, self.cols, chroma=self.pixel > 1)
        base = spokes * self._stride + self.r_in
        sel, counts = ragged_ranges(np.searchsorted(self._keys, base + low - self.pixel),
                                    np.searchsorted(self._keys, base + high + self.pixel, side="right"))
        tip = self.r_in + np.repeat(lengths, counts)
        alpha = self.cover[sel] * np.clip((tip - self.along[sel]) / self.pixel + 0.5, 0, 1)
        return Coverage(self._flat[sel], alpha)


class Circular:
    """Draws the spokes of each frame from precomputed band levels (n_frames, n_spokes / 2)."""

    def __init__(self, levels: np.ndarray, box: Box, unit: int, spec: VisualiserSpec, colours: tuple[Color, Color]):
        self.box = centred_square(box)
        side = self.box.width
        half = side / 2
        n_spokes = 2 * levels.shape[1]
        r_in, r_out = SPOKE_START * half, SPOKE_END * half
        stub = max(2.0, 0.02 * half)  # silent spokes still show as short ticks
        self.lengths = (stub + np.clip(levels, 0, 1)[:, spoke_bands(n_spokes)] * (r_out - r_in - stub))
        self.lengths = np.round(self.lengths * 4).astype(np.float32) / 4  # quarter pixels: still spokes stay still
        pitch = 2 * math.pi * r_in / n_spokes
        half_width = max(0.75, min(pitch * (1 - spec.gap), pitch - 2) / 2)
        self._pixels = [SpokePixels(side, n_spokes, r_in, r_out, half_width, p) for p in (1, 2)]
        radius, angle = polar_grid(side, 1)
        colour = wash_colour((1 - np.cos(angle)) / 2, np.clip((radius - r_in) / (r_out - r_in), 0, 1), *colours)
        wash = Layer.from_rgba(rgba_image(colour, spec.opacity), self.box.x0, self.box.y0)
        ring = None
        if spec.ring:
            ring_w = max(1.5, spec.thickness * unit)
            ring_alpha = np.clip(ring_w / 2 + 0.5 - np.abs(radius - RING_RADIUS * half), 0, 1) * spec.opacity
            ring = Layer.from_rgba(rgba_image(colour, ring_alpha), self.box.x0, self.box.y0)
        self._canvas = CoverageCanvas(self.box, wash, ring)
        self._shown: np.ndarray | None = None

    def close(self) -> None:
        """Nothing to release (part of the compositor's Part protocol)."""

    def draw(self, frame: Planes, bg: Planes, bg_version: int, index: int, t: float) -> bool:
        """Repaint the spokes whose length changed since the last frame; False when none did."""
        refreshed = self._canvas.refresh(frame, bg, bg_version)
        if refreshed or self._shown is None:
            self._shown = np.zeros(self.lengths.shape[1], np.float32)  # the box now shows no spokes
        lengths = self.lengths[min(index, len(self.lengths) - 1)]
        changed = np.flatnonzero(lengths != self._shown)
        if len(changed) == 0:
            return refreshed
        old, new = self._shown[changed], lengths[changed]
        low, high = np.minimum(old, new), np.maximum(old, new)
        luma, chroma = (p.coverage(self._canvas, changed, new, low, high) for p in self._pixels)
        self._canvas.paint(frame, luma, chroma)
        self._shown = lengths
        return True


class CircularKind(Visualiser):
    name = "circular"
    description = "spectrum spokes around a ring, in the largest square centred in the box"

    def build(self, spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
              colours: tuple[Color, Color]) -> Circular:
        n_spokes = fitting_spoke_count(centred_square(box).width, spec.count)
        levels, _ = bar_levels(samples, n_frames, fps, n_spokes // 2, spec.release, spec.peak_hold)
        return Circular(levels, box, unit, spec, colours)


CIRCULAR = CircularKind()
