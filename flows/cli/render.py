"""`mvflow render`: a music video from files you already have (audio + timed lyrics + cover).

No song, lyrics or cover step and no Prefect: every input is checked first (one clear
line for a missing or unreadable file, a malformed LRC), then the renderer
(mvflow.render.video.render_music_video) is called directly, with a progress bar.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from mvflow.cli import video_options as ro
from mvflow.cli.common import DEBUG, check_audio, console, one_line_errors, terminal_progress, warn
from mvflow.errors import InputError, MvflowError, PermanentError
from mvflow.lyrics.readers import READERS
from mvflow.render.outputs import OUTPUTS, check_short_choice, parse_outputs


def check_cover(cover: Path | None) -> None:
    """The cover must be an image Pillow can decode (checked before any rendering)."""
    if cover is None:
        return
    from mvflow.inputs import check_image_file

    check_image_file(cover)  # the same rules as `mvflow make --cover`: decodes, at least 256 px on the shorter side


def read_lines(lyrics: Path | None, offset: float, seconds: float):  # noqa: ANN201 - (list[LyricLine], dict)
    """(timed lines from the lyrics file, shifted by `offset` s; its tags). No file: an instrumental.
    A warning names the lines that start outside the song of `seconds` (after its end, or before 0
    by the offset): the video renders, without them (mvflow.lyrics.outside)."""
    if lyrics is None:
        return [], {}
    from mvflow.lyrics.outside import outside_warnings
    from mvflow.lyrics.readers import read_lyrics_with_tags
    from mvflow.lyrics.sync import place_on_song

    lines, tags = read_lyrics_with_tags(lyrics)
    if not lines:
        warn([f"{lyrics} has no timed lines; rendering without lyrics"])
    placed, outside = place_on_song(lines, offset, seconds)
    warn(outside_warnings(outside, seconds))
    return placed, tags


def output_path(audio: Path, output: Path | None, extension: str = ".mp4") -> Path:
    """OUT as given, inside OUT when it is a folder, else beside the audio (song.mp3 -> song.mp4,
    or song.webm for --codec vp9)."""
    name = audio.with_suffix(extension).name
    destination = audio.with_name(name) if output is None else output / name if output.is_dir() else output
    if destination.resolve() == audio.resolve():
        raise InputError(f"the output {destination} is the audio file itself: give another name with -o")
    if destination.suffix.lower() != extension:
        raise InputError(f"the output {destination} must end in {extension}")
    if not destination.parent.is_dir():
        raise InputError(f"output folder does not exist: {destination.parent}")
    from mvflow.inputs import check_output_folder

    check_output_folder(destination.parent)
    return destination


def render_options(seconds: float, outputs: list[str], **values: object):  # noqa: ANN201 - (RenderOptions, dict)
    """(the main video's RenderOptions, each output's: full, short, square) from the shared video options
    (mvflow.cli.video_options), validated before anything is rendered: style and its overrides, and
    the frame size and rate against the codec and the memory a song of `seconds` needs."""
    from mvflow.render.video import check_options

    try:
        main = ro.build_render_options(**values)
        each = {name: OUTPUTS.get(name).options(main) for name in outputs}
        for own in each.values():
            check_options(own, seconds)
    except MvflowError:
        raise
    except ValueError as exc:  # a style or option the renderer cannot use (pydantic, style loader)
        raise InputError(str(exc)) from None
    check_short_choice(outputs, main.short_from, seconds)
    return main, each


def title_from(audio: Path) -> str:
    """A title when none is given: the file name, with _ and - read as spaces."""
    return " ".join(audio.stem.replace("_", " ").replace("-", " ").split())


def render(
    audio: Annotated[Path, typer.Option("--audio", "-a", help="The song: any audio file ffmpeg reads (mp3, wav, flac, ...).")],
    lyrics: Annotated[Optional[Path], typer.Option("--lyrics", "-l", help=f"Timed lyrics: {READERS.help()}. None = instrumental.")] = None,
    title: Annotated[Optional[str], typer.Option("--title", "-t", help="Title shown top left (default: the LRC's \\[ti:] tag, else the audio file name). Too long: '(feat. ...)'-like parts are dropped, then it is shortened at a word.")] = None,
    subtitle: Annotated[Optional[str], typer.Option("--subtitle", help="Second line under the title, e.g. the artist (default: the LRC's \\[ar:] tag).")] = None,
    cover: Annotated[Optional[Path], typer.Option("--cover", "-c", help="Background image, cropped to fill, never stretched. None = animated gradient.")] = None,
    style: ro.StyleOption = None,
    aspect: ro.AspectOption = None,
    resolution: ro.ResolutionOption = None,
    fps: ro.FpsOption = None,
    visualiser: ro.VisualiserOption = None,
    accent: ro.AccentOption = None,
    background: ro.BackgroundOption = None,
    dim: ro.DimOption = None,
    karaoke: ro.KaraokeOption = None,
    credit: ro.CreditOption = None,
    codec: ro.CodecOption = None,
    quality: ro.QualityOption = None,
    max_size: ro.MaxSizeOption = None,
    outputs: ro.RenderOutputsOption = None,
    short_from: ro.ShortFromOption = None,
    short_to: ro.ShortToOption = None,
    lyrics_offset: Annotated[float, typer.Option("--lyrics-offset", help="Shift all lyric times by SECONDS; positive = lyrics later.")] = 0.0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Video file or folder (default: beside the audio, song.mp3 -> song.mp4; .webm for --codec vp9).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Render a music video from an existing song, timed lyrics and cover; print the video file's path."""
    DEBUG["on"] = debug
    with one_line_errors():
        seconds = check_audio(audio)
        options, each = render_options(seconds, parse_outputs(outputs), style=style, aspect=aspect, resolution=resolution,
                              fps=fps, visualiser=visualiser, accent=accent, background=background, dim=dim,
                              karaoke=karaoke, credit=credit, codec=codec, quality=quality, max_size=max_size,
                              short_from=short_from, short_to=short_to)
        written = run_render(audio, seconds, lyrics, title, subtitle, cover, options, each, lyrics_offset, output)
    for path in written:
        print(path)


def run_render(audio: Path, seconds: float, lyrics: Path | None, title: str | None, subtitle: str | None,
               cover: Path | None, options, each: dict, lyrics_offset: float,  # noqa: ANN001 - RenderOptions
               output: Path | None) -> list[Path]:
    """Check the other inputs (the audio of `seconds`, the main `options` and `each` output's already
    are), then render each output (full, short, square) with a terminal progress bar; the written
    videos' paths, in that order."""
    from mvflow.render.codecs import get_codec
    from mvflow.render.max_size import check_fits

    outputs = list(each)
    lines, tags = read_lines(lyrics, lyrics_offset, seconds)
    check_cover(cover)
    full = output_path(audio, output, get_codec(options.codec).extension)
    for own in each.values():  # an impossible --max-size is refused before anything is rendered
        check_fits(own, seconds)
    title = (tags.get("ti") or title_from(audio)) if title is None else title
    subtitle = tags.get("ar", "") if subtitle is None else subtitle
    words = sum(1 for ln in lines if ln.words)
    shown = escape(f"{title or '(no title)'}{' — ' + subtitle if subtitle else ''}")
    console.print(f"[bold]mvflow render[/] [cyan]{shown}[/]: {len(lines)} lyric line(s)"
                  f"{f' ({words} word-timed: karaoke)' if words else ''}, "
                  f"{escape('cover ' + cover.name) if cover else 'gradient background'}, "
                  f"{options.width}x{options.height}@{options.fps}, style {options.style}, {options.codec}"
                  + (f" <= {options.max_size_mb:g} MB" if options.max_size_mb else "")
                  + (f", outputs {', '.join(outputs)}" if outputs != ["full"] else ""))
    analysis = song_analysis(audio, lines, options, needed="short" in outputs)
    written = []
    for name, own in each.items():
        output_kind = OUTPUTS.get(name)
        clip = output_kind.clip(analysis, lines, own)
        if clip is not None:
            console.print(f"  {name}: {clip.describe(' of the song')}")
        destination = full.with_name(output_kind.file_name(full.stem, full.suffix))
        render_one(audio, seconds, lines, cover, title, subtitle, destination, own, analysis, clip)
        written.append(destination)
    return written


def render_one(audio: Path, seconds: float, lines: list, cover: Path | None, title: str, subtitle: str,  # noqa: PLR0913
               destination: Path, options, analysis, clip) -> None:  # noqa: ANN001 - RenderOptions, SongAnalysis, Clip
    """One video, with a progress bar and its speed; the renderer's failures as one line."""
    from mvflow.progress import StepProgress
    from mvflow.render.video import render_music_video

    started = time.perf_counter()
    try:
        with terminal_progress():
            render_music_video(audio, lines, cover, title, destination, options, subtitle=subtitle,
                               progress=StepProgress("render", f"rendering {destination.name}"),
                               analysis=analysis, clip=clip)
    except (ValueError, RuntimeError, OSError) as exc:  # the renderer's own words, as one line
        if DEBUG["on"]:
            raise
        raise PermanentError(f"render failed: {getattr(exc, 'strerror', None) or exc}") from None
    wall = time.perf_counter() - started
    length = clip.duration if clip is not None else seconds
    console.print(f"rendered {length:.1f} s of video in {wall:.1f} s ({length / wall:.2f}x real time)")


def song_analysis(audio: Path, lines: list, options, needed: bool = False):  # noqa: ANN001, ANN201
    """The song's beats and sections for the style's motion and the short's cut (None when the style
    moves with nothing and no short is `needed`).

    A timed-lyrics file has no section tags, so the sections come from the audio. No step cache
    here: the analysis costs well under a second per minute of music.
    """
    import tempfile

    from mvflow.analysis.analyse import analyse_audio
    from mvflow.render.style_loader import load_style

    if not needed and not load_style(options.style, options.overrides).motion.moves:
        return None
    with tempfile.TemporaryDirectory(prefix="mvflow-analysis-") as folder:
        return analyse_audio(audio, Path(folder), "", lines)


def register(app: typer.Typer) -> None:
    """Add `render` to the mvflow command."""
    app.command()(render)
