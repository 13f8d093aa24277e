"""The videos one run can make from one song, lyrics and cover: `full`, `short` and `square`.

Each is an `Output` in the registry OUTPUTS and answers what its render differs in: the frame
(its aspect at the main video's short side: 1080p makes 1920x1080, 1080x1920 and 1080x1080),
the part of the song it shows (the short: mvflow.analysis.highlight), the cover picture it
starts from (the one closest to its shape) and its file name. Each output is its own cached
render step, so adding `square` to a finished run renders only the square.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import ClassVar

from mvflow.errors import InputError
from mvflow.inputs import check_short_start
from mvflow.models import Clip, Cover, FileArtifact, LyricLine, RenderOptions, SongAnalysis
from mvflow.registry import Provider, Registry

DEFAULT_OUTPUTS = ("full",)


class Output(Provider):
    """One kind of video a run makes."""

    role: ClassVar[str] = "output"

    def __init__(self, name: str, description: str, aspect: str | None) -> None:
        self.name, self.description = name, description
        self.aspect = aspect  # None: the main video's frame

    def options(self, main: RenderOptions) -> RenderOptions:
        """This output's render options, from the main video's (only the frame and the clip differ)."""
        from mvflow.render.canvas import canvas_size

        update: dict = {"short_from": None, "short_to": None}
        if self.aspect is not None:
            width, height = canvas_size(self.aspect, f"{min(main.width, main.height)}p")
            update.update(width=width, height=height)
        return main.model_copy(update=update)

    @abstractmethod
    def clip(self, analysis: SongAnalysis | None, lines: list[LyricLine], options: RenderOptions) -> Clip | None:
        """The part of the song this output shows; None for all of it."""

    def file_name(self, stem: str, extension: str) -> str:
        return f"{stem}{extension}" if self.name == "full" else f"{stem}.{self.name}{extension}"

    @staticmethod
    def cover_picture(cover: Cover, width: int, height: int) -> FileArtifact:
        """The cover picture closest to the frame's shape: the background, or the square for
        portrait and square frames (cropping a 16:9 picture to 9:16 keeps a third of it)."""
        return cover.background if width > height * 1.2 else cover.square


class WholeSong(Output):
    """The whole song in a frame of its own shape."""

    def clip(self, analysis: SongAnalysis | None, lines: list[LyricLine], options: RenderOptions) -> None:
        return None


class Short(Output):
    """9:16, the song's strongest part: see mvflow.analysis.highlight."""

    def options(self, main: RenderOptions) -> RenderOptions:
        return super().options(main).model_copy(update={"short_from": main.short_from, "short_to": main.short_to})

    def clip(self, analysis: SongAnalysis | None, lines: list[LyricLine], options: RenderOptions) -> Clip:
        from mvflow.analysis.highlight import short_clip

        if analysis is None:
            raise ValueError("the short needs the song's analysis (its sections and bar lines)")
        return short_clip(analysis, lines, options.short_from, options.short_to)


OUTPUTS: Registry[Output] = Registry(Output, {
    "full": "mvflow.render.outputs:FULL",
    "short": "mvflow.render.outputs:SHORT",
    "square": "mvflow.render.outputs:SQUARE",
})

FULL = WholeSong("full", "the whole song in the style's frame (or --aspect/--resolution)", None)
SHORT = Short("short", "9:16, the first full chorus (or --short-from/--short-to), at most 59 s, faded in and out",
              "9:16")
SQUARE = WholeSong("square", "1:1, the whole song, for feeds", "1:1")


def render_step_name(output: str) -> str:
    """The render step of an output, as the flow's step list and the progress bars name it:
    "render" for the full video, "render-short", "render-square"."""
    return "render" if output == "full" else f"render-{output}"


def parse_outputs(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """'full,short' (or a list) -> checked, de-duplicated output names in order; None -> the default."""
    if value is None:
        return list(DEFAULT_OUTPUTS)
    items = value.split(",") if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        name = str(item).strip().lower()
        if not name:
            continue
        if name not in OUTPUTS:
            raise InputError(f"unknown output {name!r}; choose from: {', '.join(OUTPUTS)} (comma-separated)")
        if name not in names:
            names.append(name)
    if not names:
        raise InputError(f"--outputs names no output; choose from: {', '.join(OUTPUTS)}")
    return names


def check_short_choice(outputs: list[str], short_from: float | None, duration: float | None) -> None:
    """A short's part chosen by hand needs a short to show it, and must start inside the song when its
    length is known up front (before the song is made, not after)."""
    if short_from is None:
        return
    if "short" not in outputs:
        raise InputError(f"--short-from/--short-to choose the short's part of the song, and the outputs are "
                         f"{','.join(outputs)}: add short (e.g. --outputs {','.join([*outputs, 'short'])})")
    if duration is not None:
        check_short_start(short_from, duration)
