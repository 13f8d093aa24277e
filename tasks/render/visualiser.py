"""The audio visualiser: what a style asks for (VisualiserSpec) and the part that draws it.

A visualiser is a compositor Part (see compositor.py) that owns one box of the frame and
redraws it from values precomputed for every frame. Each kind is a `Visualiser` in the
registry VISUALISERS (bars and mirrored in bars.py, waveform.py, circular.py, "none" here)
that builds its part; `build_visualiser` asks the spec's kind, so a style only names a kind
and its knobs, and adding a kind is one entry, not another branch.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mvflow.registry import Provider, Registry
from mvflow.render.compositor import Part
from mvflow.render.style_types import Color
from mvflow.render.yuv import Box


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
        if self.kind not in VISUALISERS:
            raise VISUALISERS.unknown(self.kind)
        if self.count < 1:
            raise ValueError(f"visualiser count must be at least 1, got {self.count}")


class Visualiser(Provider):
    """One kind of visualiser: builds the Part drawing a spec of its kind."""

    role: ClassVar[str] = "visualiser"

    @abstractmethod
    def build(self, spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
              colours: tuple[Color, Color]) -> Part:
        """The Part drawing `spec` inside `box` for a song's mono `samples` (at FEATURE_RATE), in `colours`."""


VISUALISERS: Registry[Visualiser] = Registry(Visualiser, {
    "bars": "mvflow.render.bars:BARS",
    "mirrored": "mvflow.render.bars:MIRRORED",
    "waveform": "mvflow.render.waveform:WAVEFORM",
    "circular": "mvflow.render.circular:CIRCULAR",
    "none": "mvflow.render.visualiser:NONE",
})


def build_visualiser(spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
                     colours: tuple[Color, Color]) -> Part:
    """The Part drawing `spec` inside `box` for a song's mono `samples` (at FEATURE_RATE).

    `colours` are used when the spec leaves its own colours open.
    """
    return VISUALISERS.get(spec.kind).build(spec, box, unit, samples, n_frames, fps, spec.colors or colours)


class NoVisualiserKind(Visualiser):
    name = "none"
    description = "no visualiser"

    def build(self, spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
              colours: tuple[Color, Color]) -> Part:
        return NoVisualiser()


class NoVisualiser:
    """The part for kind "none": an empty box at the frame's corner that never draws."""

    box = Box(0, 0, 0, 0)  # empty, so it overlaps no other part wherever the layout put the visualiser

    def draw(self, frame, bg, bg_version: int, index: int, t: float) -> bool:
        return False

    def close(self) -> None:
        """Nothing to release."""


NONE = NoVisualiserKind()
