"""The look of a video — canvas, background, visualiser, layout, text and lyric timing — as data.

A style is a TOML file (templates/styles/<name>.toml for the bundled ones, or any path the
user gives); `load_style` turns it into a frozen `Style`, refusing unknown keys and bad
values with one error that names the key and the valid choices. Sizes are fractions of the
frame's shorter side (`unit`) and boxes are fractions of the frame, so one style works at
320x180, 1920x1080 and 1080x1920 alike. The colour helpers at the end derive the accent
colours from the cover when a style leaves them open.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from mvflow.render.motion import MotionSpec
from mvflow.render.style_types import Color
from mvflow.render.visualiser import VisualiserSpec

#: A rectangle as fractions of the frame (x0, y0, x1, y1), 0..1.
Frac = tuple[float, float, float, float]

MOTIONS = ("none", "pan", "zoom")
FITS = ("crop", "fit")
ALIGNS = ("left", "center", "right")


@dataclass(frozen=True)
class CanvasSpec:
    """The default frame when the user asks for no --aspect/--resolution."""

    aspect: str = "16:9"
    resolution: str = "1080p"


@dataclass(frozen=True)
class BackgroundSpec:
    """How the cover becomes the backdrop (an animated gradient stands in when there is none)."""

    motion: str = "none"  # none | pan (Ken Burns drift over an oversized copy) | zoom (slow breathing zoom)
    fit: str = "crop"  # crop: fill the frame; fit: whole cover letterboxed over a blurred copy
    dim: float = 0.5  # brightness multiplier (plus vignette and darker title/visualiser bands)
    blur: float = 0.012  # Gaussian radius, fraction of the short side; 0 = sharp
    gradient: bool = False  # ignore the cover and use the animated gradient
    travel: float = 0.05  # how far pan/zoom move, fraction of the frame
    period: float = 40.0  # seconds for one pan/zoom cycle


@dataclass(frozen=True)
class LayoutSpec:
    """Where things go. A box left out (None) is derived from the frame size (the classic layout).

    The lyric and visualiser boxes are redrawn independently and must not overlap.
    """

    title: Frac | None = None
    lyrics: Frac | None = None
    visualiser: Frac | None = None
    art: Frac | None = None  # a square cover picture, centred in this box (none by default)
    credit: Frac | None = None
    focus: float = 0.58  # where the current lyric line's centre sits, fraction of the frame height


@dataclass(frozen=True)
class Style:
    name: str = "classic"
    description: str = ""
    outputs: tuple[str, ...] | None = None  # the videos a run makes with this style; None: full only
    canvas: CanvasSpec = field(default_factory=CanvasSpec)
    background: BackgroundSpec = field(default_factory=BackgroundSpec)
    layout: LayoutSpec = field(default_factory=LayoutSpec)
    # The audio visualiser (kind, count, colours, smoothing).
    visualiser: VisualiserSpec = field(default_factory=VisualiserSpec)
    # Motion from the music (beat pulse, bar-line accent, chorus colour shift, lyric entrance).
    motion: MotionSpec = field(default_factory=MotionSpec)
    # Colours. accent=None means "pick the cover's most vivid colour".
    accent: Color | None = None
    fallback_accent: Color = (92, 204, 255)
    text_color: Color = (255, 255, 255)
    # Lyrics timing (seconds).
    fade: float = 0.16  # each fade in and out (a change of line dips out, then in)
    lead: float = 0.35  # a line appears this long before it is sung
    hold: float = 0.7  # and stays this long after it ends when nothing follows
    karaoke: bool = True  # word-by-word fill when the lyrics have word timings
    next_line: bool = True  # show the upcoming line small under the current one
    # Text and box. Sizes are fractions of the short side.
    box_opacity: float = 0.45
    title_weight: str = "Bold"
    subtitle_weight: str = "Regular"
    line_weight: str = "Bold"
    next_weight: str = "Semibold"
    next_opacity: float = 0.6
    title_size: float = 0.05
    subtitle_size: float = 0.03
    line_size: float = 0.068  # the current line, shrunk down to line_min_size to fit
    line_min_size: float = 0.04
    next_size: float = 0.04
    max_rows: int = 0  # rows the current line may wrap to; 0 = 2 (landscape) or 3 (portrait)
    title_align: str = "left"
    title_thumbnail: bool = True  # the cover's thumbnail beside the title
    credit: str = ""
    credit_size: float = 0.024
    credit_align: str = "right"


# ---------------------------------------------------------------- colour helpers


def accent_from_image(image: Image.Image, default: Color) -> Color:
    """The cover's most vivid colour, brightened: ties bars and highlights to the artwork."""
    small = np.asarray(image.convert("RGB").resize((48, 48), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    mx, mn = small.max(axis=-1), small.min(axis=-1)
    saturation = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0)
    score = (saturation * mx).ravel()
    if score.max() < 0.12:  # greyscale art: nothing to pick, keep the style's colour
        return default
    top = small.reshape(-1, 3)[score >= np.quantile(score, 0.9)].mean(axis=0)
    h, _, s = colorsys.rgb_to_hls(*top)
    return _hls(h, 0.64, max(s, 0.85))


def shifted_hue(color: Color, degrees: float, lightness: float = 0.7) -> Color:
    h, _, s = colorsys.rgb_to_hls(*(c / 255 for c in color))
    return _hls((h + degrees / 360.0) % 1.0, lightness, max(s, 0.6))


def _hls(h: float, l: float, s: float) -> Color:  # noqa: E741 - colour-science name
    return tuple(int(round(c * 255)) for c in colorsys.hls_to_rgb(h, l, min(s, 1.0)))  # type: ignore[return-value]
