"""Anti-aliased shapes drawn as per-pixel coverage between two pictures of a part's box.

A part that draws thin or round shapes (the waveform's line, the circular visualiser's
spokes) keeps two pictures of its box per backdrop: the backdrop ("bare", plus any static
decoration such as a ring) and the same with the shape's colours blended over the whole
box ("lit"). Drawing is then `pixel = bare + (lit - bare) * coverage`, only at the pixels
the shape covers now or covered before, given as row/column index arrays: a few thousand
gathers and scatters per frame instead of a redraw of the box.

Luma and chroma (half resolution) get their own coverage, each computed at its plane's
own pixel size, which is what averaging the luma coverage over 2x2 blocks would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mvflow.render.layers import Layer
from mvflow.render.yuv import Box, Planes

_ONE = 256  # coverage is stored as an integer weight in [0, 256]


@dataclass(frozen=True)
class Coverage:
    """Pixels of one plane as positions in the frame buffer, and how much of each the shape covers.

    Chroma positions are the U plane's; the same pixels of the V plane follow a quarter frame
    later in the buffer (yuv420p layout, see yuv.Planes).
    """

    index: np.ndarray
    alpha: np.ndarray  # float in [0, 1]


def ragged_ranges(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the concatenation of range(start, stop) for each pair, each range's length), no Python loop."""
    counts = np.maximum(np.asarray(stops) - np.asarray(starts), 0)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.intp), counts
    firsts = np.cumsum(counts) - counts  # where each range begins in the output
    return np.repeat(np.asarray(starts) - firsts, counts) + np.arange(total), counts


def rgba_image(colour: np.ndarray, alpha: np.ndarray | float) -> Image.Image:
    """An RGBA Pillow image from (H, W, 3) colours in 0..255 and an alpha in 0..1."""
    alpha = np.broadcast_to(np.asarray(alpha, np.float32) * 255, colour.shape[:2])[..., None]
    return Image.fromarray(np.clip(np.concatenate([colour, alpha], axis=-1), 0, 255).astype(np.uint8))


class CoverageCanvas:
    """The bare and lit pictures of a box, refreshed when the backdrop changes, and the blend.

    Both pictures are frame-sized buffers (only the box is ever filled) so that one flat
    index addresses the same pixel in them and in the frame: the per-frame work is then a
    1-D gather from each and a 1-D scatter into the frame.
    """

    def __init__(self, box: Box, wash: Layer | None, decoration: Layer | None = None):
        self.box = box
        self._wash, self._decoration = wash, decoration
        self.bare: Planes | None = None
        self.lit: Planes | None = None
        self._version = -1

    def refresh(self, frame: Planes, bg: Planes, bg_version: int) -> bool:
        """For a new backdrop: remake both pictures and show the bare one; True when that happened
        (the caller must then repaint its whole shape)."""
        if bg_version == self._version:
            return False
        if self.bare is None or self.bare.buffer.shape != frame.buffer.shape:
            self.bare, self.lit = Planes.allocate(frame.width, frame.height), Planes.allocate(frame.width, frame.height)
        bare, lit = self.bare.crop(self.box), self.lit.crop(self.box)
        bare.assign(bg.crop(self.box))
        if self._decoration is not None:
            self._decoration.blend_into(bare, self.box)
        lit.assign(bare)
        if self._wash is not None:
            self._wash.blend_into(lit, self.box)
        frame.crop(self.box).assign(bare)
        self._version = bg_version
        return True

    def flat_index(self, rows: np.ndarray, cols: np.ndarray, chroma: bool) -> np.ndarray:
        """Frame-buffer positions of box-local pixels of the luma or (U) chroma plane."""
        if self.bare is None:
            raise RuntimeError("refresh() the canvas before indexing it")
        width, height = self.bare.width, self.bare.height
        if not chroma:
            return (self.box.y0 + rows) * width + self.box.x0 + cols
        return width * height + (self.box.y0 // 2 + rows) * (width // 2) + self.box.x0 // 2 + cols

    def restore(self, frame: Planes, luma: np.ndarray, chroma: np.ndarray) -> None:
        """Set the given pixels (luma and U-plane positions) of the frame back to the bare picture."""
        index = np.concatenate([luma, chroma, chroma + frame.width * frame.height // 4])
        frame.buffer[index] = self.bare.buffer[index]

    def paint(self, frame: Planes, luma: Coverage, chroma: Coverage) -> None:
        """Set the given pixels of the frame to bare + (lit - bare) * alpha."""
        index = np.concatenate([luma.index, chroma.index, chroma.index + frame.width * frame.height // 4])
        alpha = np.concatenate([luma.alpha, chroma.alpha, chroma.alpha])
        if len(index) == 0:
            return
        a = (np.clip(alpha, 0.0, 1.0) * _ONE + 0.5).astype(np.uint16)
        acc = self.bare.buffer[index].astype(np.uint16)
        acc *= _ONE - a
        acc += self.lit.buffer[index].astype(np.uint16) * a
        acc += _ONE // 2
        acc >>= 8
        frame.buffer[index] = acc
