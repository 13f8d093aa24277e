"""The audio visualiser: what a style asks for (VisualiserSpec) and the part that draws it.

A visualiser is a compositor Part (see compositor.py) that owns one box of the frame and
redraws it from values precomputed for every frame. `build_visualiser` is the one place
that turns a spec into a part, so a style only names a kind and its knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.render.compositor import Part
from mvflow.render.features import bar_levels
from mvflow.render.style_types import Color
from mvflow.render.yuv import Box

#: What each kind draws (also the text of `--help` and error messages).
VISUALISER_KINDS = {
    "bars": "spectrum bars growing up from the bottom of the box",
    "mirrored": "spectrum bars growing up and down from the box's centre line",
    "waveform": "an oscilloscope line of the music around each frame's time",
    "circular": "spectrum spokes around a ring, in the largest square centred in the box",
    "none": "no visualiser",
}


@dataclass(frozen=True)
class VisualiserSpec:
    """How the audio is drawn. Sizes are fractions of the frame's short side (`unit`)."""

    kind: str = "bars"
    count: int = 64  # bars (or spokes, points) across the box
    gap: float = 0.32  # fraction of each bar's pitch left empty
    opacity: float = 0.9
    release: float = 0.16  # seconds for a level to fall ~63% of the way back (smoothing)
    peak_hold: float = 0.6  # seconds a peak cap stays up before dropping onto its bar
    thickness: float = 0.006  # line width of line-drawn kinds (and of the circular kind's ring)
    ring: bool = True  # circular: draw a thin ring inside the spokes
    colors: tuple[Color, Color] | None = None  # (left/start, right/end); None: from the accent

    def __post_init__(self) -> None:
        if self.kind not in VISUALISER_KINDS:
            raise ValueError(f"unknown visualiser {self.kind!r}; choose one of: {', '.join(VISUALISER_KINDS)}")
        if self.count < 1:
            raise ValueError(f"visualiser count must be at least 1, got {self.count}")


def build_visualiser(spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
                     colours: tuple[Color, Color]) -> Part:
    """The Part drawing `spec` inside `box` for a song's mono `samples` (at FEATURE_RATE).

    `colours` are used when the spec leaves its own colours open.
    """
    from mvflow.render.bars import Bars, fitting_bar_count

    colours = spec.colors or colours
    if spec.kind == "none":
        return NoVisualiser()
    if spec.kind == "waveform":
        from mvflow.render.waveform import Waveform, scope_traces

        n_points = max(16, min(box.width // 4, 480))
        return Waveform(scope_traces(samples, n_frames, fps, n_points, spec.release), box, unit, spec, colours)
    if spec.kind == "circular":
        from mvflow.render.circular import Circular, centred_square, fitting_spoke_count

        n_spokes = fitting_spoke_count(centred_square(box).width, spec.count)
        levels, _ = bar_levels(samples, n_frames, fps, n_spokes // 2, spec.release, spec.peak_hold)
        return Circular(levels, box, unit, spec, colours)
    n_bars = fitting_bar_count(box.width, spec.count)
    levels, peaks = bar_levels(samples, n_frames, fps, n_bars, spec.release, spec.peak_hold)
    return Bars(levels, peaks, box, unit, spec, colours, mirrored=spec.kind == "mirrored")


class NoVisualiser:
    """The part for kind "none": an empty box at the frame's corner that never draws."""

    box = Box(0, 0, 0, 0)  # empty, so it overlaps no other part wherever the layout put the visualiser

    def draw(self, frame, bg, bg_version: int, index: int, t: float) -> bool:
        return False

    def close(self) -> None:
        """Nothing to release."""
