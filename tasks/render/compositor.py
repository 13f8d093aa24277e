"""Frame assembly: one reused frame buffer, a backdrop, and parts that redraw their own box.

The frame buffer keeps the previous frame's pixels, so a frame costs only what changed:
each part (bars, lyrics) redraws its box when its own state moved, and the whole frame
is refreshed only when the backdrop itself changes (the drifting gradient).
"""

from __future__ import annotations

from typing import Protocol

from mvflow.render.yuv import Box, Planes


class Backdrop(Protocol):
    def at(self, index: int) -> tuple[Planes, int]:
        """(backdrop pixels for frame `index`, version that changes whenever they do)."""


class Part(Protocol):
    box: Box

    def draw(self, frame: Planes, bg: Planes, bg_version: int, index: int, t: float) -> bool:
        """Bring the frame's `box` up to date from the backdrop `bg`; True if pixels changed.

        Both images are whole frames; a part touches only its own box, and may keep views
        into them while bg_version is unchanged (the frame buffer never moves).
        """

    def close(self) -> None:
        """Release helpers (threads) the part started."""


class Finish(Protocol):
    def restore(self) -> None:
        """Undo what the last `apply` changed in the frame buffer itself (before parts draw again)."""

    def apply(self, frame: Planes, bg: Planes, index: int) -> Planes:
        """The frame to send for `index`: `frame` (possibly changed in place, until `restore`) or a copy."""


class Compositor:
    """Renders frame k into one reused buffer (parts must not overlap: each owns its box).

    `finish`, when given, is a last pass (mvflow.render.motion.FrameFinish: glow, pulse, fades);
    what it changes in the reused buffer it undoes before the next frame is drawn.
    """

    def __init__(self, width: int, height: int, fps: int, backdrop: Backdrop, parts: list[Part],
                 finish: Finish | None = None):
        for i, a in enumerate(parts):
            for b in parts[i + 1 :]:
                if a.box.intersects(b.box):
                    raise ValueError(f"parts overlap: {a.box} and {b.box}")
        self.fps = fps
        self.frame = Planes.allocate(width, height)
        self.backdrop = backdrop
        self.parts = parts
        self.finish = finish
        self._version: int | None = None

    def close(self) -> None:
        for part in self.parts:
            part.close()

    def __enter__(self) -> Compositor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def render(self, index: int) -> Planes:
        """The frame at `index` (one of two reused buffers: copy it to keep it)."""
        if self.finish is not None:
            self.finish.restore()
        bg, version = self.backdrop.at(index)
        if version != self._version:
            self.frame.assign(bg)
            self._version = version
        t = index / self.fps
        for part in self.parts:
            part.draw(self.frame, bg, version, index, t)
        return self.finish.apply(self.frame, bg, index) if self.finish is not None else self.frame
