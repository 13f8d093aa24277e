"""Spectrum bars: growing up from the bottom of their box ("bars") or up and down from its
centre line ("mirrored").

Two pictures of the bar box are made per backdrop: the backdrop itself and the backdrop
with the bars' colour wash blended over the whole box ("lit"), plus one with the peak
caps' colour. A bar is made of one or two *arms* that start at an anchor row and grow
away from it (bottom bars: one arm growing up from the bottom edge; mirrored bars: two
arms growing up and down from the centre). An arm of length h is the lit picture's h
rows next to the anchor in the bar's columns, so a bar that moved from h to h' only
needs the rows between them copied from the lit picture (growing) or the backdrop
(shrinking). Lengths are whole even pixels, precomputed for every frame as integers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mvflow.render.coverage import rgba_image
from mvflow.render.features import bar_levels
from mvflow.render.layers import Layer
from mvflow.render.style_types import Color
from mvflow.render.visualiser import Visualiser, VisualiserSpec
from mvflow.render.yuv import Box, Planes, even_floor, even_round


def bar_columns(width: int, count: int, gap: float) -> list[tuple[int, int]]:
    """[x0, x1) of each bar inside a box `width` wide (even px, at least 2 px wide)."""
    pitch = width / count
    columns = []
    for i in range(count):
        x0 = even_round(i * pitch + pitch * gap / 2)
        x1 = max(x0 + 2, even_round((i + 1) * pitch - pitch * gap / 2))
        columns.append((x0, min(x1, width)))
    return columns


def fitting_bar_count(width: int, wanted: int) -> int:
    """Fewer bars on narrow frames: a bar and its gap need at least 4 px."""
    return max(4, min(wanted, width // 4))


def wash_colour(t: np.ndarray, reach: np.ndarray, start: Color, end: Color) -> np.ndarray:
    """(..., 3) float colour of the visualisers: `start` to `end` along t in [0, 1], dimmer
    and paler towards the tips (reach 0 at the base, 1 at the farthest tip)."""
    t, reach = np.asarray(t, np.float32)[..., None], np.asarray(reach, np.float32)[..., None]
    colour = np.array(start, np.float32) * (1 - t) + np.array(end, np.float32) * t
    return colour * (0.8 + 0.2 * (1 - reach)) + (255 - colour) * 0.15 * reach**2


def wash_rgba(width: int, height: int, left: Color, right: Color, opacity: float,
              reach: np.ndarray | None = None) -> Image.Image:
    """The bars' colour over their whole box: a left-to-right hue sweep, paler towards the tips.

    `reach` (height,) says how far each row is from the bars' anchor, 0 at the anchor
    and 1 at the farthest tip; by default 1 at the top row and 0 at the bottom one.
    """
    t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    if reach is None:
        reach = np.linspace(1.0, 0.0, height, dtype=np.float32)
    rows = np.asarray(reach, np.float32)[:, None]
    return rgba_image(wash_colour(t, rows, left, right), opacity)


@dataclass(frozen=True)
class Arm:
    """Where one arm of every bar starts (a row of the box) and which way it grows (-1 up, +1 down)."""

    anchor: int
    direction: int

    def rows(self, start: int, stop: int) -> tuple[int, int]:
        """Box rows [a, b) covering distances [start, stop) from the anchor."""
        if self.direction < 0:
            return self.anchor - stop, self.anchor - start
        return self.anchor + start, self.anchor + stop

    def length(self, height: int) -> int:
        """Rows from the anchor to the box's edge in this arm's direction."""
        return self.anchor if self.direction < 0 else height - self.anchor


def bar_arms(height: int, mirrored: bool) -> tuple[Arm, ...]:
    """Bottom bars grow up from the box's bottom edge; mirrored ones both ways from its centre row."""
    if not mirrored:
        return (Arm(height, -1),)
    centre = even_floor(height / 2)
    return Arm(centre, -1), Arm(centre, +1)


def arm_reach_profile(height: int, arms: tuple[Arm, ...]) -> np.ndarray:
    """(height,) distance of each row's centre from its arm's anchor, 0..1 over the arm."""
    rows = np.arange(height, dtype=np.float32) + 0.5
    profile = np.zeros(height, np.float32)
    for arm in arms:
        length = arm.length(height)
        a, b = arm.rows(0, length)
        profile[a:b] = np.abs(rows[a:b] - arm.anchor) / max(length, 1)
    return profile


class Bars:
    """Draws the bar box of each frame from precomputed levels and peak caps."""

    def __init__(self, levels: np.ndarray, peaks: np.ndarray, box: Box, unit: int, spec: VisualiserSpec,
                 colours: tuple[Color, Color], mirrored: bool = False):
        self.box = box
        self.columns = bar_columns(box.width, levels.shape[1], spec.gap)
        self.arms = bar_arms(box.height, mirrored)
        arm_length = min(arm.length(box.height) for arm in self.arms)
        self.cap_h = even_round(max(2, unit * 0.006))
        self.cap_gap = even_round(max(2, unit * 0.004))
        stub = even_round(max(2, unit * 0.004 / len(self.arms)))  # silent bars still show as a baseline
        reach = max(arm_length - self.cap_h - self.cap_gap, 2)
        self.lengths = np.maximum(_even_px(levels, reach), stub)
        cap_px = np.maximum(_even_px(peaks, reach), self.lengths)
        self.caps = np.where(peaks > 0.02, cap_px + self.cap_gap, -1)  # distance of a cap's near edge; -1: none
        wash = wash_rgba(box.width, box.height, *colours, spec.opacity, arm_reach_profile(box.height, self.arms))
        self._wash = Layer.from_rgba(wash, box.x0, box.y0)
        self._cap = Layer.from_rgba(
            Image.new("RGBA", (box.width, box.height), (255, 255, 255, 225)), box.x0, box.y0
        )
        # The bar box's backdrop, lit and capped pictures live in fixed buffers, so the
        # per-bar views below stay valid when a drifting backdrop refreshes them.
        self._backdrop, self._lit, self._capped = (Planes.allocate(box.width, box.height) for _ in range(3))
        self._frame: Planes | None = None
        self._version = -1
        self._views: list[list[tuple[np.ndarray, ...]]] = []
        self._shown: tuple[np.ndarray, np.ndarray] | None = None

    def _prepare(self, frame: Planes, bg: Planes, bg_version: int) -> None:
        """For a new backdrop: refresh the three pictures (and make the views, once)."""
        self._backdrop.assign(bg.crop(self.box))
        for layer, picture in ((self._wash, self._lit), (self._cap, self._capped)):
            picture.assign(self._backdrop)
            layer.blend_into(picture, self.box)
        if frame is not self._frame:
            self._frame, self._views = frame, self._column_views(frame)
        self._version = bg_version
        self._shown = None

    def _column_views(self, frame: Planes) -> list[list[tuple[np.ndarray, ...]]]:
        """Per bar and plane: (frame, backdrop, lit, capped) views of the bar's columns.

        Made once so that moving a bar is a few numpy slice copies and no Python objects:
        with ~60 bars moving every frame, object overhead would dominate.
        """
        dst = frame.crop(self.box)
        views = []
        for x0, x1 in self.columns:
            column = Box(x0, 0, x1, self.box.height)
            sources = [p.crop(column).planes() for p in (dst, self._backdrop, self._lit, self._capped)]
            views.append(list(zip(*sources, strict=True)))
        return views

    def close(self) -> None:
        """Nothing to release (part of the compositor's Part protocol)."""

    def draw(self, frame: Planes, bg: Planes, bg_version: int, index: int, t: float) -> bool:
        """Bring the frame's bar box up to date for frame `index`; False when nothing moved."""
        if bg_version != self._version:
            self._prepare(frame, bg, bg_version)
        index = min(index, len(self.lengths) - 1)
        lengths, caps = self.lengths[index], self.caps[index]
        if self._shown is None:  # start from an empty box: no bars, no caps
            frame.crop(self.box).assign(bg.crop(self.box))
            self._shown = (np.zeros_like(lengths), np.full_like(caps, -1))
        old_lengths, old_caps = self._shown
        changed = np.flatnonzero((lengths != old_lengths) | (caps != old_caps))
        for i in changed.tolist():
            self._move_bar(i, int(old_lengths[i]), int(lengths[i]), int(old_caps[i]), int(caps[i]))
        self._shown = (lengths, caps)
        return len(changed) > 0

    def _move_bar(self, i: int, old_length: int, length: int, old_cap: int, cap: int) -> None:
        """Repaint only the rows of bar i that changed (usually one band per arm; caps mostly hold)."""
        if old_cap != cap and old_cap >= 0:
            self._copy(i, _BACKDROP, old_cap, old_cap + self.cap_h)
        if length > old_length:
            self._copy(i, _LIT, old_length, length)
        elif length < old_length:
            self._copy(i, _BACKDROP, length, old_length)
        if old_cap != cap and cap >= 0:
            self._copy(i, _CAPPED, cap, cap + self.cap_h)

    def _copy(self, i: int, source: int, start: int, stop: int) -> None:
        """Copy the distances [start, stop) from every arm's anchor of bar i from `source`."""
        for arm in self.arms:
            a, b = arm.rows(start, stop)
            # Rows are the second-to-last axis of both luma (rows, cols) and chroma (2, rows, cols).
            for scale, views in zip((1, 2), self._views[i], strict=True):
                views[0][..., a // scale : b // scale, :] = views[source][..., a // scale : b // scale, :]


_BACKDROP, _LIT, _CAPPED = 1, 2, 3  # positions in each bar's (frame, backdrop, lit, capped) views


def _even_px(levels: np.ndarray, reach: int) -> np.ndarray:
    return (np.rint(np.clip(levels, 0, 1) * reach / 2) * 2).astype(np.int32)


class BarsKind(Visualiser):
    """Spectrum bars: the kinds "bars" (growing up) and "mirrored" (growing both ways from the centre)."""

    def __init__(self, name: str, description: str, mirrored: bool) -> None:
        self.name, self.description, self.mirrored = name, description, mirrored

    def build(self, spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
              colours: tuple[Color, Color]) -> Bars:
        n_bars = fitting_bar_count(box.width, spec.count)
        levels, peaks = bar_levels(samples, n_frames, fps, n_bars, spec.release, spec.peak_hold)
        return Bars(levels, peaks, box, unit, spec, colours, mirrored=self.mirrored)


BARS = BarsKind("bars", "spectrum bars growing up from the bottom of the box", mirrored=False)
MIRRORED = BarsKind("mirrored", "spectrum bars growing up and down from the box's centre line", mirrored=True)
