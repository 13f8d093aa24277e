"""The video options `mvflow make`, `mvflow batch` files and `mvflow render` share, defined once.

Each option is a Typer `Annotated` type (import it as a parameter's annotation), and
`build_render_options` turns the values (None = not given) into the render step's
`RenderOptions`: settings precedence flags > environment (MVFLOW_STYLE, MVFLOW_ASPECT,
MVFLOW_RESOLUTION, MVFLOW_FPS, MVFLOW_CODEC, MVFLOW_QUALITY) > mvflow.toml > the style's own
canvas and defaults. The
style knobs (--visualiser, --accent, --background, --dim, --karaoke, --credit) become
dotted style overrides, validated like the style's own TOML keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from mvflow.inputs import check_short_range, song_time
from mvflow.models import RenderOptions
from mvflow.render.codecs import CODECS, check_quality, require_codec
from mvflow.render.visualiser import VISUALISERS
from mvflow.settings import Settings, load_settings

#: --background choices -> the style keys they set.
BACKGROUNDS: dict[str, dict[str, Any]] = {
    "cover": {"background.gradient": False, "background.motion": "none", "background.blur": 0.0},
    "blur": {"background.gradient": False, "background.motion": "none", "background.blur": 0.03},
    "pan": {"background.gradient": False, "background.motion": "pan"},
    "zoom": {"background.gradient": False, "background.motion": "zoom"},
    "gradient": {"background.gradient": True},
}

StyleOption = Annotated[Optional[str], typer.Option(
    "--style", help="Video style: classic, karaoke, minimal, vertical, or a path to a style .toml (default classic).")]
AspectOption = Annotated[Optional[str], typer.Option(
    "--aspect", help="Frame shape: 16:9, 9:16 or 1:1 (default: the style's; vertical is 9:16).")]
ResolutionOption = Annotated[Optional[str], typer.Option(
    "--resolution", help="1080p or 720p (short side, the aspect gives the other) or WIDTHxHEIGHT (default 1080p). "
                         "Up to what the codec plays (8K fits; H.264 at most 16384 px a side) and the free memory "
                         "holds: larger is refused before rendering, naming what fits.")]
FpsOption = Annotated[Optional[int], typer.Option("--fps", help="Frames per second (default 30, at most 120).")]
VisualiserOption = Annotated[Optional[str], typer.Option(
    "--visualiser", help=f"Visualiser kind, overriding the style's: {', '.join(VISUALISERS)}.")]
AccentOption = Annotated[Optional[str], typer.Option(
    "--accent", help="Accent colour '#rrggbb' for sung text and the visualiser (default: from the cover).")]
BackgroundOption = Annotated[Optional[str], typer.Option(
    "--background", help="Backdrop: cover (sharp, still), blur, pan (slow drift), zoom (slow zoom) or gradient.")]
DimOption = Annotated[Optional[float], typer.Option(
    "--dim", help="Backdrop brightness, 0-1 (lower = darker; classic 0.5).")]
KaraokeOption = Annotated[Optional[bool], typer.Option(
    "--karaoke/--no-karaoke", help="Word-by-word fill when the lyrics have word timings (style default: on).")]
CreditOption = Annotated[Optional[str], typer.Option(
    "--credit", help="A small credit line on the video, e.g. 'Music: ACE-Step' ('' for none).")]
CodecOption = Annotated[Optional[str], typer.Option(
    "--codec", metavar="CODEC",
    help=f"Video codec: {CODECS.help()}; default h264. `mvflow doctor` lists the usable ones.")]
QualityOption = Annotated[Optional[str], typer.Option(
    "--quality", metavar="PRESET",
    help="Encoder preset: draft (fastest encode, softer picture), standard (default) or high (sharper, "
         "~2x the encode time). Sizes and speeds: README 'Encoding'.")]
MaxSizeOption = Annotated[Optional[float], typer.Option(
    "--max-size", metavar="MB",
    help="Fit the video in MB megabytes (two-pass, 96 kb/s audio), e.g. 16 for WhatsApp, 25 for Discord, "
         "50 for Telegram. Refused up front when even a low bitrate cannot fit.")]

OutputsOption = Annotated[Optional[str], typer.Option(
    "--outputs", metavar="LIST",
    help="Videos to make from one song, comma-separated: full (default), short (9:16, the first chorus, "
         "<= 59 s), square (1:1). Each is its own cached render.")]
RenderOutputsOption = Annotated[Optional[str], typer.Option(
    "--outputs", metavar="LIST",
    help="Videos to make from the song, comma-separated: full (default), short (9:16, the loudest section "
         "or --short-from/--short-to, <= 59 s), square (1:1): song.mp4, song.short.mp4, song.square.mp4.")]
ShortFromOption = Annotated[Optional[str], typer.Option(
    "--short-from", metavar="TIME", help="The short's start in the song, seconds or m:ss (with --short-to).")]
ShortToOption = Annotated[Optional[str], typer.Option(
    "--short-to", metavar="TIME", help="The short's end in the song, seconds or m:ss (with --short-from).")]

#: How an override's style key is named in errors.
OPTION_LABELS = {"visualiser.kind": "--visualiser", "text.accent": "--accent", "background.dim": "--dim",
                 "lyrics.karaoke": "--karaoke", "text.credit": "--credit"}

def style_overrides(visualiser: str | None = None, accent: str | None = None, background: str | None = None,
                    dim: float | None = None, karaoke: bool | None = None,
                    credit: str | None = None) -> dict[str, Any]:
    """The dotted style keys the knob options set (validated when the style is loaded)."""
    overrides: dict[str, Any] = {}
    if background is not None:
        if background not in BACKGROUNDS:
            raise ValueError(f"background must be one of: {', '.join(BACKGROUNDS)}, not {background!r}")
        overrides.update(BACKGROUNDS[background])
    given = {"visualiser.kind": visualiser, "text.accent": accent, "background.dim": dim,
             "lyrics.karaoke": karaoke, "text.credit": credit}
    overrides.update({k: v for k, v in given.items() if v is not None})
    return overrides


def build_render_options(style: str | None = None, aspect: str | None = None, resolution: str | None = None,
                         fps: int | None = None, visualiser: str | None = None, accent: str | None = None,
                         background: str | None = None, dim: float | None = None, karaoke: bool | None = None,
                         credit: str | None = None, settings: Settings | None = None, codec: str | None = None,
                         quality: str | None = None, max_size: float | None = None,
                         short_from: float | str | None = None, short_to: float | str | None = None) -> RenderOptions:
    """RenderOptions for these option values (None = not given). ValueError naming the option when bad.

    The codec is checked against the bundled ffmpeg here; whether --max-size can hold the
    song is checked once its duration is known (mvflow.render.max_size.check_fits).

    `settings`, when given, already holds the merged flags/env/config values of style,
    aspect, resolution and fps (mvflow.flows.spec does that for every step at once).
    """
    from mvflow.render.canvas import canvas_size
    from mvflow.render.style_loader import load_style

    if settings is None:
        settings = load_settings({"style": style, "aspect": aspect, "resolution": resolution, "fps": fps,
                                  "codec": codec, "quality": quality})
    if settings.fps <= 0:
        raise ValueError(f"fps must be positive, got {settings.fps}")
    ref = settings.style
    if ref.endswith(".toml") or "/" in ref:
        ref = str(Path(ref).expanduser().resolve())  # the render may run from another directory
    overrides = style_overrides(visualiser, accent, background, dim, karaoke, credit)
    chosen = load_style(ref, overrides, labels=OPTION_LABELS)
    exact = f"{settings.width}x{settings.height}" if settings.width and settings.height else None
    width, height = canvas_size(settings.aspect, settings.resolution or exact, chosen.canvas.aspect,
                                chosen.canvas.resolution)
    codec, quality = codec or settings.codec, quality or settings.quality
    check_quality(require_codec(codec), quality)
    start, end = song_time(short_from, "--short-from"), song_time(short_to, "--short-to")
    check_short_range(start, end)
    return RenderOptions(width=width, height=height, fps=settings.fps, style=ref, overrides=overrides,
                         codec=codec, quality=quality, max_size_mb=max_size, short_from=start, short_to=end)
