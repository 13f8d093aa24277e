"""The look of a video: colours, timings and proportions, by style name.

A style is data, not code, so new looks (e.g. loaded from templates/*.toml later) need
no changes to the compositor. Sizes are fractions of the frame's shorter side, so one
style works at 320x180, 1920x1080 and 1080x1920 alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

Color = tuple[int, int, int]


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
    # Spectrum bars.
    bar_count: int = 64
    bar_gap: float = 0.32  # fraction of each bar's pitch left empty
    bar_opacity: float = 0.9
    bar_release: float = 0.16  # seconds for a bar to fall ~63% of the way back
    peak_hold: float = 0.6  # seconds a peak cap stays up before dropping onto its bar
    # Lyrics timing (seconds).
    fade: float = 0.3
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
    "minimal": Style(name="minimal", blur=0.0, dim=0.42, box_opacity=0.0, karaoke=False, bar_count=48),
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
