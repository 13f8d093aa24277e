"""What a user asks for — every field `mvflow make` accepts — and how it becomes the flow's inputs.

`mvflow make` flags, a batch file's entries and the demo request all become a `VideoSpec`;
`flow_params(spec)` applies the settings precedence (spec > environment > config file >
defaults) and builds the pydantic inputs of the `music_video` flow. Validation errors name
the field, so a batch file's error can name its entry and field too.
"""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mvflow.errors import PermanentError, SpecError, validation_line
from mvflow.inputs import (
    MAX_CAPTION_CHARS,
    MAX_TITLE_CHARS,
    check_duration,
    check_image_file,
    check_key_and_meter,
    check_lrc_file,
    check_lyrics,
    check_output_folder,
    check_text_field,
    check_video,
    read_lyrics_file,
)
from mvflow.models import CoverOptions, FileArtifact, LyricsOptions, RenderOptions, SongRequest
from mvflow.settings import Settings, load_settings


class VideoSpec(BaseModel):
    """One music video request. None means 'not given': settings and defaults decide."""

    model_config = ConfigDict(extra="forbid")

    # the song
    caption: str | None = None
    lyrics: str | None = Field(None, description="Lyrics text with [Verse]/[Chorus] tags")
    lyrics_file: Path | None = Field(None, description="Lyrics from a file (instead of `lyrics`)")
    title: str | None = None
    duration: float | None = None
    bpm: int | None = None
    key: str | None = None
    time_signature: str | None = None
    language: str | None = None
    seed: int | None = None
    engine: str | None = None
    # ACE-Step
    api_url: str | None = None
    api_mode: Literal["native", "completion"] | None = None
    thinking: bool | None = None
    use_format: bool | None = None
    description: str | None = None
    random_sample: bool | None = None
    model: str | None = None
    batch_size: int | None = None
    pick: int | None = None
    audio_format: Literal["mp3", "wav", "flac"] | None = None
    steps: int | None = None
    guidance: float | None = None
    task_type: Literal["text2music", "cover", "repaint"] | None = None
    src_audio: Path | None = None
    reference_audio: Path | None = None
    repaint_start: float | None = None
    repaint_end: float | None = None
    cover_strength: float | None = None
    timeout: float | None = None
    # lyrics timing
    transcriber: str | None = None
    whisper_model: str | None = None
    lyrics_offset: float | None = None
    lrc: Path | None = Field(None, description="Use this LRC file and skip transcription")
    # cover
    cover_provider: str | None = None
    cover: Path | None = Field(None, description="Your own cover image")
    cover_fit: Literal["crop", "fit"] | None = None
    cover_prompt: str | None = None
    cover_model: str | None = None
    cover_fallback: Literal["local"] | None = None
    # video
    resolution: str | None = Field(None, description="1080p, 720p or WIDTHxHEIGHT")
    aspect: str | None = Field(None, description="16:9, 9:16 or 1:1")
    fps: int | None = None
    style: str | None = Field(None, description="Style name or path to a style .toml")
    visualiser: str | None = None
    accent: str | None = None
    background: str | None = None
    dim: float | None = None
    karaoke: bool | None = None
    credit: str | None = None
    codec: Literal["h264", "h265", "vp9"] | None = None
    quality: Literal["draft", "standard", "high"] | None = None
    max_size: float | None = Field(None, gt=0, description="Two-pass encode to at most this many MB")
    outputs: str | list[str] | None = Field(None, description="Videos to make: full, short, square")
    short_from: float | str | None = Field(None, description="The short's start in the song (s or m:ss)")
    short_to: float | str | None = Field(None, description="The short's end in the song (s or m:ss)")
    output_dir: Path | None = None

def spec_from(fields: dict[str, Any], base: dict[str, Any] | None = None) -> VideoSpec:
    """A VideoSpec from plain fields over `base`; a bad or unknown field is a SpecError naming it."""
    try:
        return VideoSpec.model_validate({**(base or {}), **{k: v for k, v in fields.items() if v is not None}})
    except ValidationError as exc:
        raise SpecError(validation_line(exc, where_if_empty="request")) from None


def demo_spec() -> dict[str, Any]:
    """The example request shipped in templates/demo.toml."""
    return tomllib.loads(resources.files("mvflow.templates").joinpath("demo.toml").read_text(encoding="utf-8"))


def stable_seed(*parts: str) -> int:
    """Default seed derived from the request, so the same request always gives the same song."""
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:8], 16) % (2**31)


def lyrics_text(spec: VideoSpec, base_dir: Path | None = None) -> str:
    """The lyrics: inline text, or read from lyrics_file (relative to base_dir); '' = instrumental."""
    if spec.lyrics is not None:
        return check_lyrics(spec.lyrics)
    if spec.lyrics_file is None:
        return ""
    path = spec.lyrics_file if spec.lyrics_file.is_absolute() else (base_dir or Path.cwd()) / spec.lyrics_file
    if not path.exists():
        raise SpecError(f"lyrics file not found: {spec.lyrics_file}")
    return read_lyrics_file(path, "lyrics_file")


def _checked(path: Path | None, check) -> FileArtifact | None:  # noqa: ANN001 - a mvflow.inputs check
    """The user's file as a FileArtifact, after `check` found it usable (decodes, parses, big enough)."""
    if path is None:
        return None
    return FileArtifact.from_path(check(path))


def _settings_for(spec: VideoSpec) -> Settings:
    flags = {"output_dir": spec.output_dir, "engine": spec.engine, "transcriber": spec.transcriber,
             "whisper_model": spec.whisper_model, "cover_provider": spec.cover_provider, "fps": spec.fps,
             "style": spec.style, "acestep_api_url": spec.api_url, "acestep_api_mode": spec.api_mode,
             "aspect": spec.aspect, "resolution": spec.resolution, "codec": spec.codec, "quality": spec.quality,
             "outputs": ",".join(spec.outputs) if isinstance(spec.outputs, list) else spec.outputs}
    return load_settings(flags)


def _render_options(spec: VideoSpec, settings: Settings) -> RenderOptions:
    """The render step's options: the style (its canvas, overridden by aspect/resolution) and knobs."""
    from mvflow.cli.video_options import build_render_options

    try:
        return build_render_options(visualiser=spec.visualiser, accent=spec.accent, background=spec.background,
                                    dim=spec.dim, karaoke=spec.karaoke, credit=spec.credit, settings=settings,
                                    codec=spec.codec, quality=spec.quality, max_size=spec.max_size,
                                    short_from=spec.short_from, short_to=spec.short_to)
    except ValueError as exc:
        raise SpecError(str(exc)) from None


def _engine_options(spec: VideoSpec, settings: Settings) -> dict[str, Any]:
    """SongRequest.engine_options: the chosen engine reads the song fields given (by its option names)
    and the settings, and refuses a bad one now (the built-in engine takes none)."""
    from mvflow.song.engines import ENGINES

    fields = {
        "thinking": spec.thinking, "use_format": spec.use_format, "description": spec.description,
        "random_sample": spec.random_sample, "model": spec.model, "batch_size": spec.batch_size,
        "pick": spec.pick, "audio_format": spec.audio_format, "inference_steps": spec.steps,
        "guidance_scale": spec.guidance, "task_type": spec.task_type,
        "src_audio": str(spec.src_audio) if spec.src_audio else None,
        "reference_audio": str(spec.reference_audio) if spec.reference_audio else None,
        "repainting_start": spec.repaint_start, "repainting_end": spec.repaint_end,
        "audio_cover_strength": spec.cover_strength, "timeout": spec.timeout,
    }
    given = {k: v for k, v in fields.items() if v is not None}
    return ENGINES.get(settings.engine).request_options(given, settings)


def _cover_options(spec: VideoSpec, settings: Settings, render: RenderOptions) -> CoverOptions:
    from mvflow.cover import choose_cover_provider

    image = _checked(spec.cover, check_image_file)
    return CoverOptions(
        provider="image" if image is not None else choose_cover_provider(settings.cover_provider),
        width=render.width, height=render.height, image=image, fit=spec.cover_fit or "crop",
        prompt=spec.cover_prompt, model=spec.cover_model, fallback=spec.cover_fallback,
    )


def chosen_outputs(settings: Settings, render: RenderOptions) -> list[str]:
    """The videos to make: --outputs / a batch entry / MVFLOW_OUTPUTS / mvflow.toml, else the style's
    `outputs`, else the full video alone."""
    from mvflow.render.outputs import parse_outputs
    from mvflow.render.style_loader import load_style

    if settings.outputs is not None:
        return parse_outputs(settings.outputs)
    return parse_outputs(load_style(render.style).outputs)


def default_title(caption: str) -> str:
    return caption.split(",")[0].strip().title() or "Untitled"


def flow_params(spec: VideoSpec, base_dir: Path | None = None) -> dict[str, Any]:
    """The `music_video` flow's keyword arguments for `spec`. Raises SpecError naming the field."""
    try:
        settings = _settings_for(spec)
        caption = spec.caption or spec.description or ("" if spec.random_sample else None)
        if caption is None:
            raise SpecError("caption is required: the style of the song, e.g. 'dreamy synthwave, female vocal'")
        check_text_field(caption, "caption", MAX_CAPTION_CHARS)
        check_text_field(spec.title, "title", MAX_TITLE_CHARS)
        check_duration(spec.duration)
        check_key_and_meter(spec.key, spec.time_signature)
        check_output_folder(settings.output_dir)
        lyrics = lyrics_text(spec, base_dir)
        request = SongRequest(
            caption=caption, lyrics=lyrics, duration=spec.duration or 30.0, bpm=spec.bpm, key_scale=spec.key,
            time_signature=spec.time_signature or "4", language=spec.language or "en",
            seed=spec.seed if spec.seed is not None else stable_seed(caption, lyrics),
            engine=settings.engine, engine_options=_engine_options(spec, settings),
        )
        render = _render_options(spec, settings)
        check_video(render.width, render.height, render.fps)
        from mvflow.errors import EncodingError
        from mvflow.render.max_size import check_fits

        try:  # refuse an impossible --max-size now, before any song is made (the render step checks again)
            check_fits(render, request.duration)
        except EncodingError as exc:
            raise SpecError(str(exc)) from None
        return {
            "request": request,
            "title": spec.title or (default_title(caption) if caption else "Random Song"),
            "output_root": str(settings.output_dir.resolve()),
            "lyrics_options": LyricsOptions(
                transcriber=settings.transcriber, whisper_model=settings.whisper_model,
                language=request.language, offset=spec.lyrics_offset or 0.0, lrc=_checked(spec.lrc, check_lrc_file),
            ),
            "cover_options": _cover_options(spec, settings, render),
            "render_options": render,
            "outputs": chosen_outputs(settings, render),
        }
    except ValidationError as exc:
        raise SpecError(validation_line(exc, "bad value for {where}: {message}", "request")) from exc
    except SpecError:
        raise
    except PermanentError as exc:  # a bad input file or value, a broken config file: one line naming it
        raise SpecError(str(exc)) from None
