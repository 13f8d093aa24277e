"""Where things go on the frame: the style's boxes, or boxes derived from the frame size.

A style may place the title, lyrics, visualiser, cover art and credit boxes itself
(fractions of the frame, see LayoutSpec); any box it leaves out is derived from the size
as in the classic look: every length a fraction of the frame's shorter side (`unit`),
every box inside a 5% safe area, so the same proportions hold from 320x180 test renders
to 1080x1920 portrait. The lyric and visualiser boxes must not overlap (the compositor
redraws them independently); the others are painted into the backdrop once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvflow.render.style import Frac, LayoutSpec
from mvflow.render.yuv import Box, even_round


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    unit: int
    safe: Box
    title_box: Box
    lyric_box: Box
    bars_box: Box
    focus_y: int  # where the current lyric line's centre sits
    portrait: bool
    wipe_step: int  # karaoke highlight edges move on this grid (frame pixels)
    art_box: Box | None = None  # the square cover picture (centred in this box)
    credit_box: Box | None = None

    @classmethod
    def for_size(cls, width: int, height: int) -> Layout:
        return cls.for_style(width, height, LayoutSpec())

    @classmethod
    def for_style(cls, width: int, height: int, spec: LayoutSpec) -> Layout:
        if width % 2 or height % 2 or width < 64 or height < 64:
            raise ValueError(f"video size must be even and at least 64x64, got {width}x{height}")
        unit = min(width, height)
        safe = Box(even_round(0.05 * width), even_round(0.05 * height),
                   width - even_round(0.05 * width), height - even_round(0.05 * height))

        def place(frac: Frac | None) -> Box | None:
            if frac is None:
                return None
            x0, y0, x1, y1 = (even_round(f * s) for f, s in zip(frac, (width, height, width, height), strict=True))
            return Box(x0, y0, max(x1, x0 + 2), max(y1, y0 + 2))

        gap = even_round(0.03 * unit)
        title_box = place(spec.title) or Box(safe.x0, safe.y0, safe.x1, safe.y0 + even_round(0.11 * unit))
        bars_bottom = height - even_round(0.045 * unit)
        bars_box = place(spec.visualiser) or Box(safe.x0, bars_bottom - even_round(0.16 * unit), safe.x1, bars_bottom)
        lyric_box = place(spec.lyrics) or Box(safe.x0, title_box.y1 + gap, safe.x1, bars_box.y0 - gap)
        if lyric_box.intersects(bars_box):
            raise ValueError(f"style layout: the lyrics box {lyric_box} overlaps the visualiser box {bars_box} "
                             f"at {width}x{height}; move [layout] lyrics or visualiser apart")
        focus = min(max(even_round(spec.focus * height), lyric_box.y0), lyric_box.y1)
        # x264 codes 16x16 macroblocks: a wipe that crosses each block once (instead of
        # nibbling at it over several frames) costs the encoder several times less, and at
        # 1080p a 16 px step is a third of a letter.
        wipe_step = max(2, min(16, even_round(0.015 * unit)))
        return cls(width, height, unit, safe, title_box, lyric_box, bars_box, focus, height > width, wipe_step,
                   place(spec.art), place(spec.credit))

    def px(self, fraction: float, minimum: int = 1) -> int:
        """A length given as a fraction of the short side, in whole pixels."""
        return max(minimum, int(round(fraction * self.unit)))
