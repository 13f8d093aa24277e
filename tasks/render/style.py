"""The look of a video: colours, timings and proportions, by style name.

A style is data, not code, so new looks (e.g. loaded from templates/*.toml later) need
no changes to the compositor. Sizes are fractions of the frame's shorter side, so one
style works at 320x180, 1920x1080 and 1080x1920 alike. The colour helpers at the end
derive the accent colours from the cover when a style leaves them open.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

from tasks.render.style_types import Color
from tasks.render.visualiser import VisualiserSpec


@dataclass(frozen=True)
class Style:
    name: str = "classic"
    # Colours. accent=None means "pick the cover's most vivid colour".
    accent: Color | None = None
    fallback_accent: Color = (92, 204, 255)
    text_color: Color = (255, 255, 255)
    # Backdrop: brightness multiplier and Gaussian blur radius (fraction of the short side).
    dim: float = 0.5
    blur: float = 0.012
    # The audio visualiser (kind, count, colours, smoothing).
    visualiser: VisualiserSpec = field(default_factory=VisualiserSpec)
    # Lyrics timing (seconds).
    fade: float = 0.16  # each fade in and out (a change of line dips out, then in)
    lead: float = 0.35  # a line appears this long before it is sung
    hold: float = 0.7  # and stays this long after it ends when nothing follows
    karaoke: bool = True
    # Text and box.
    box_opacity: float = 0.45
    title_weight: str = "Bold"
    subtitle_weight: str = "Regular"
    line_weight: str = "Bold"
    next_weight: str = "Semibold"
    next_opacity: float = 0.6


_STYLES: dict[str, Style] = {
    "classic": Style(),
    "minimal": Style(name="minimal", blur=0.0, dim=0.42, box_opacity=0.0, karaoke=False,
                     visualiser=VisualiserSpec(count=48)),
}


def resolve_style(name: str, **overrides: object) -> Style:
    """The style called `name` (one clear error naming the choices when unknown)."""
    try:
        style = _STYLES[name]
    except KeyError:
        raise ValueError(f"unknown render style {name!r}; choose one of: {', '.join(sorted(_STYLES))}") from None
    return replace(style, **overrides) if overrides else style


def style_names() -> list[str]:
    return sorted(_STYLES)


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
