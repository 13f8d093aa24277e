"""The spectrum bar visualiser along the bottom of the frame.

Two pictures of the bar box are made per backdrop: the backdrop itself and the backdrop
with the bars' colour wash blended over the whole box ("lit"), plus one with the peak
caps' colour. A bar of height h is then the lit picture's bottom h rows copied into the
bar's columns; per frame only the bars whose height or cap moved are touched. Heights
are whole even pixels, precomputed for every frame as integers.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from tasks.render.layers import Layer
from tasks.render.layout import Layout
from tasks.render.style import Color, Style
from tasks.render.yuv import Box, Planes, even_round


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


def wash_rgba(width: int, height: int, left: Color, right: Color, opacity: float) -> Image.Image:
    """The bars' colour: a left-to-right hue sweep, lighter towards the top."""
    t = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :, None]
    rows = np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None, None]  # 1 at the top
    colour = np.array(left, np.float32) * (1 - t) + np.array(right, np.float32) * t
    colour = colour * (0.78 + 0.22 * (1 - rows)) + (255 - colour) * 0.35 * rows**2
    alpha = np.full((height, width, 1), 255 * opacity, np.float32)
    return Image.fromarray(np.clip(np.concatenate([colour, alpha], axis=-1), 0, 255).astype(np.uint8))


class Bars:
    """Draws the bar box of each frame from precomputed levels and peak caps."""

    def __init__(self, levels: np.ndarray, peaks: np.ndarray, layout: Layout, style: Style,
                 colours: tuple[Color, Color]):
        self.box = box = layout.bars_box
        self.columns = bar_columns(box.width, levels.shape[1], style.bar_gap)
        self.cap_h = even_round(max(2, layout.unit * 0.006))
        cap_gap = even_round(max(2, layout.unit * 0.004))
        stub = even_round(max(2, layout.unit * 0.004))  # silent bars still show as a baseline
        reach = box.height - self.cap_h - cap_gap
        self.heights = np.maximum(_even_px(levels, reach), stub)
        cap_px = np.maximum(_even_px(peaks, reach), self.heights)
        self.cap_bottoms = np.where(peaks > 0.02, box.height - cap_px - cap_gap, -1)  # -1: no cap
        self._wash = Layer.from_rgba(wash_rgba(box.width, box.height, *colours, style.bar_opacity), box.x0, box.y0)
        self._cap = Layer.from_rgba(
            Image.new("RGBA", (box.width, box.height), (255, 255, 255, 225)), box.x0, box.y0
        )
        self._version = -1
        self._views: list[list[tuple[np.ndarray, ...]]] = []
        self._shown: tuple[np.ndarray, np.ndarray] | None = None

    def _prepare(self, frame: Planes, bg: Planes, bg_version: int) -> None:
        """For a new backdrop: build the lit/capped pictures and per-bar array views.

        Views are made once so that drawing a bar is nine numpy slice copies and no
        Python objects: with ~60 bars moving every frame, object overhead would dominate.
        """
        box = self.box
        backdrop = bg.crop(box)
        lit, capped = backdrop.copy(), backdrop.copy()
        self._wash.blend_into(lit, box)
        self._cap.blend_into(capped, box)
        dst = frame.crop(box)
        self._views = []
        for x0, x1 in self.columns:
            column = Box(x0, 0, x1, box.height)
            self._views.append(list(zip(dst.crop(column).planes(), backdrop.crop(column).planes(),
                                        lit.crop(column).planes(), capped.crop(column).planes(), strict=True)))
        self._version = bg_version
        self._shown = None

    def close(self) -> None:
        """Nothing to release (part of the compositor's Part protocol)."""

    def draw(self, frame: Planes, bg: Planes, bg_version: int, index: int, t: float) -> bool:
        """Bring the frame's bar box up to date for frame `index`; False when nothing moved."""
        if bg_version != self._version:
            self._prepare(frame, bg, bg_version)
        index = min(index, len(self.heights) - 1)
        heights, caps = self.heights[index], self.cap_bottoms[index]
        if self._shown is None:
            frame.crop(self.box).assign(bg.crop(self.box))
            changed = np.arange(len(self.columns))
        else:
            changed = np.flatnonzero((heights != self._shown[0]) | (caps != self._shown[1]))
        bottom = self.box.height
        for i in changed.tolist():
            top, cap_bottom = bottom - int(heights[i]), int(caps[i])
            show_cap = cap_bottom >= self.cap_h
            # Rows are the second-to-last axis of both luma (rows, cols) and chroma (2, rows, cols).
            for scale, (dst, backdrop, lit, capped) in zip((1, 2), self._views[i], strict=True):
                dst[...] = backdrop
                dst[..., top // scale :, :] = lit[..., top // scale :, :]
                if show_cap:
                    c0, c1 = (cap_bottom - self.cap_h) // scale, cap_bottom // scale
                    dst[..., c0:c1, :] = capped[..., c0:c1, :]
        self._shown = (heights, caps)
        return len(changed) > 0


def _even_px(levels: np.ndarray, reach: int) -> np.ndarray:
    return (np.rint(np.clip(levels, 0, 1) * reach / 2) * 2).astype(np.int32)
