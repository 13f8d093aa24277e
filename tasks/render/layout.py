"""Where things go on the frame, derived from its size alone.

Every size is a fraction of the frame's shorter side (`unit`) and every box is inside a
5% safe area, so the same proportions hold from 320x180 test renders to 1080x1920
portrait. The three boxes never overlap: the compositor redraws them independently.
"""

from __future__ import annotations

from dataclasses import dataclass

from tasks.render.yuv import Box, even_round


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

    @classmethod
    def for_size(cls, width: int, height: int) -> Layout:
        if width % 2 or height % 2 or width < 64 or height < 64:
            raise ValueError(f"video size must be even and at least 64x64, got {width}x{height}")
        unit = min(width, height)
        safe = Box(even_round(0.05 * width), even_round(0.05 * height),
                   width - even_round(0.05 * width), height - even_round(0.05 * height))
        gap = even_round(0.03 * unit)
        title_h = even_round(0.11 * unit)
        title_box = Box(safe.x0, safe.y0, safe.x1, safe.y0 + title_h)
        bars_bottom = height - even_round(0.045 * unit)
        bars_box = Box(safe.x0, bars_bottom - even_round(0.16 * unit), safe.x1, bars_bottom)
        lyric_box = Box(safe.x0, title_box.y1 + gap, safe.x1, bars_box.y0 - gap)
        focus = min(max(even_round(0.58 * height), lyric_box.y0), lyric_box.y1)
        # x264 codes 16x16 macroblocks: a wipe that crosses each block once (instead of
        # nibbling at it over several frames) costs the encoder several times less, and at
        # 1080p a 16 px step is a third of a letter.
        wipe_step = max(2, min(16, even_round(0.015 * unit)))
        return cls(width, height, unit, safe, title_box, lyric_box, bars_box, focus, height > width, wipe_step)

    def px(self, fraction: float, minimum: int = 1) -> int:
        """A length given as a fraction of the short side, in whole pixels."""
        return max(minimum, int(round(fraction * self.unit)))
