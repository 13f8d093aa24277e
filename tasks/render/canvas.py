"""Frame size from an aspect preset and a resolution: `--aspect 9:16 --resolution 720p` -> 720x1280.

A style names its own canvas (e.g. vertical: 9:16 at 1080p); the user's --aspect and
--resolution override either half. "NNNp" names the short side, as video sites do, so
1080p is 1920x1080 at 16:9, 1080x1920 at 9:16 and 1080x1080 at 1:1. An exact WIDTHxHEIGHT
is taken as is (and must agree with an --aspect given alongside it).
"""

from __future__ import annotations

import re

ASPECTS: dict[str, tuple[int, int]] = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1)}
_EXACT = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
_SHORT_SIDE = re.compile(r"^\s*(\d+)\s*[pP]\s*$")


def check_aspect(aspect: str) -> str:
    if aspect not in ASPECTS:
        raise ValueError(f"aspect must be one of {', '.join(ASPECTS)}, not {aspect!r}")
    return aspect


def check_size(width: int, height: int, what: str) -> tuple[int, int]:
    if width < 64 or height < 64 or width % 2 or height % 2:
        raise ValueError(f"{what} must be at least 64x64 with even sides (H.264 needs them), got {width}x{height}")
    return width, height


def parse_resolution(value: str) -> tuple[int, int] | int:
    """(width, height) for 'WxH', the short side for 'NNNp'; ValueError naming the forms otherwise."""
    if m := _EXACT.match(value):
        return check_size(int(m[1]), int(m[2]), f"resolution {value}")
    if m := _SHORT_SIDE.match(value):
        side = int(m[1])
        if side < 64 or side % 2:
            raise ValueError(f"resolution {value}: the short side must be even and at least 64")
        return side
    raise ValueError(f"resolution must look like 1920x1080, 1080p or 720p, not {value!r}")


def canvas_size(aspect: str | None, resolution: str | None, default_aspect: str = "16:9",
                default_resolution: str = "1080p") -> tuple[int, int]:
    """The frame size for the user's choices (None = not given) over a style's canvas."""
    if aspect is not None:
        check_aspect(aspect)
    parsed = parse_resolution(resolution or default_resolution)
    if isinstance(parsed, tuple):
        if aspect is not None and resolution is not None and _aspect_of(*parsed) != aspect:
            raise ValueError(f"resolution {resolution} is not {aspect}: give --resolution 1080p or 720p with "
                             f"--aspect, or an exact WIDTHxHEIGHT alone")
        if resolution is not None or aspect is None:
            return parsed
        parsed = min(parsed)  # the style's exact size, re-shaped to the asked aspect
    rx, ry = ASPECTS[aspect or check_aspect(default_aspect)]
    short = parsed
    long_side = int(round(short * max(rx, ry) / min(rx, ry) / 2)) * 2
    return (long_side, short) if rx >= ry else (short, long_side)


def _aspect_of(width: int, height: int) -> str | None:
    for name, (rx, ry) in ASPECTS.items():
        if abs(width * ry - height * rx) <= max(rx, ry) * 2:
            return name
    return None
