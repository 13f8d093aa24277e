"""What a user asks for — every field `mvflow make` accepts — and how it becomes the flow's inputs.

`mvflow make` flags, a batch file's entries and the demo request all become a `VideoSpec`;
`flow_params(spec)` applies the settings precedence (spec > environment > config file >
defaults) and builds the pydantic inputs of the `music_video` flow. Validation errors name
the field, so a batch file's error can name its entry and field too.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
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
    read_lyrics_file,
)
from mvflow.models import (
    CoverOptions,
    FileArtifact,
    LyricsOptions,
    RenderOptions,
    SongIdea,
    SongRequest,
    SongwriterOptions,
)
from mvflow.settings import Settings, load_settings
from mvflow.songwriting.providers import songwriter_options


class VideoSpec(BaseModel):
    """One music video request. None means 'not given': settings and defaults decide."""

    model_config = ConfigDict(extra="forbid")

    # the songwriter (an idea instead of lyrics)
    idea: str | None = Field(None, description="What the song is about; a songwriter writes the lyrics and the plan")
    mood: str | None = None
    vocal: Literal["female", "male"] | None = None
    instrumental: bool | None = None
    songwriter: str | None = None
    songwriter_model: str | None = None
    songwriter_url: str | None = Field(None, description="Base URL of an OpenAI-compatible server for the songwriter")
    songwriter_prompt: Path | None = Field(None, description="Your own songwriting prompt template")
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
    # the built-in engine
    vocal_style: Literal["spoken", "sung"] | None = Field(None, description="Built-in engine: spoken or sung")
    mix: Literal["light", "dense"] | None = Field(None, description="Built-in engine: light or dense backing")
    skip_lines: list[int] | str | None = Field(None, description="Built-in engine: lyric lines the singer skips "
                                                                 "(1-based; a list, or comma-separated)")
    # ACE-Step
    api_url: str | list[str] | None = Field(None, description="ACE-Step server; several (a list, or comma-"
                                                           "separated) make a pool")
    api_mode: Literal["native", "completion"] | None = None
    thinking: bool | None = None
    use_format: bool | None = None
    description: str | None = None
    random_sample: bool | None = None
    model: str | None = None
    batch_size: int | None = None
    takes: int | None = None
    pick: int | None = None
    audio_format: Literal["mp3", "wav", "flac", "opus", "aac", "wav32"] | None = None
    steps: int | None = None
    guidance: float | None = None
    task_type: Literal["text2music", "cover", "repaint"] | None = None
    src_audio: Path | None = None
    reference_audio: Path | None = None
    repaint_start: float | None = None
    repaint_end: float | None = None
    cover_strength: float | None = None
    repaint_mode: Literal["conservative", "balanced", "aggressive"] | None = None
    repaint_strength: float | None = None
    lora: str | None = Field(None, description="LoRA adapter on the ACE-Step server, NAME[:SCALE]")
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


#: VideoSpec fields a setting fills in when the spec leaves them out: spec field -> Settings field.
SETTING_FIELDS = {
    "output_dir": "output_dir", "engine": "engine", "transcriber": "transcriber", "whisper_model": "whisper_model",
    "cover_provider": "cover_provider", "fps": "fps", "style": "style", "api_url": "acestep_api_url",
    "api_mode": "acestep_api_mode", "aspect": "aspect", "resolution": "resolution", "codec": "codec",
    "quality": "quality", "songwriter": "songwriter", "songwriter_model": "songwriter_model",
    "songwriter_url": "songwriter_base_url", "songwriter_prompt": "songwriter_prompt", "outputs": "outputs",
}


def _settings_for(spec: VideoSpec) -> Settings:
    flags = {setting: getattr(spec, field) for field, setting in SETTING_FIELDS.items()}
    if isinstance(spec.outputs, list):  # a batch file's list: the setting is "full,short"
        flags["outputs"] = ",".join(spec.outputs)
    return load_settings(flags)


def portable_spec(spec: VideoSpec, base_dir: Path | None = None) -> dict[str, Any]:
    """The spec as JSON that makes the same video on another machine (a worker of a fan-out batch).

    Every field this machine's environment or config file fills in is written out (a worker's own
    MVFLOW_* settings must not change the song, and so its cache key), the output folder is absolute,
    and the lyrics travel as text instead of a file name. Other files (cover, LRC, uploads) keep their
    absolute paths: they must be on storage the workers share. API keys are never part of a spec.
    """
    settings = _settings_for(spec)
    pinned = {field: getattr(settings, setting) for field, setting in SETTING_FIELDS.items()}
    fields = {**{k: v for k, v in pinned.items() if v is not None}, **spec.model_dump(exclude_none=True),
              "output_dir": settings.output_dir.expanduser().resolve()}
    if spec.lyrics_file is not None:
        fields["lyrics"] = lyrics_text(spec, base_dir)
        del fields["lyrics_file"]
    return VideoSpec.model_validate(fields).model_dump(mode="json", exclude_none=True)


def _render_options(spec: VideoSpec, settings: Settings, seconds: float) -> RenderOptions:
    """The render step's options: the style (its canvas, overridden by aspect/resolution) and knobs,
    checked as the render will check them (frame size and rate against the codec and the memory
    a song of `seconds` needs, the style's layout)."""
    from mvflow.cli.video_options import build_render_options
    from mvflow.render.video import check_options

    try:
        options = build_render_options(visualiser=spec.visualiser, accent=spec.accent, background=spec.background,
                                       dim=spec.dim, karaoke=spec.karaoke, credit=spec.credit, settings=settings,
                                       codec=spec.codec, quality=spec.quality, max_size=spec.max_size,
                                       short_from=spec.short_from, short_to=spec.short_to)
        check_options(options, seconds)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    return options


def _engine_options(spec: VideoSpec, settings: Settings) -> dict[str, Any]:
    """SongRequest.engine_options: the chosen engine reads the song fields given (by its option names)
    and the settings, and refuses a bad one now."""
    from mvflow.song.engines import ENGINES

    fields = {
        "thinking": spec.thinking, "use_format": spec.use_format, "description": spec.description,
        "random_sample": spec.random_sample, "model": spec.model, "batch_size": spec.batch_size, "takes": spec.takes,
        "pick": spec.pick, "audio_format": spec.audio_format, "inference_steps": spec.steps,
        "guidance_scale": spec.guidance, "task_type": spec.task_type,
        "src_audio": str(spec.src_audio) if spec.src_audio else None,
        "reference_audio": str(spec.reference_audio) if spec.reference_audio else None,
        "repainting_start": spec.repaint_start, "repainting_end": spec.repaint_end,
        "audio_cover_strength": spec.cover_strength, "repaint_mode": spec.repaint_mode,
        "repaint_strength": spec.repaint_strength, "lora": spec.lora, "timeout": spec.timeout,
        "vocal_style": spec.vocal_style, "mix": spec.mix, "skip_lines": _line_numbers(spec.skip_lines),
    }
    given = {k: v for k, v in fields.items() if v is not None}
    builtin = ENGINES.get("local")
    builtin_only = [k for k in builtin.FIELDS if k in given]
    if builtin_only and settings.engine != builtin.name:
        raise SpecError(f"{builtin_only[0]} is an option of the built-in engine (engine local), "
                        f"not of {settings.engine}")
    return ENGINES.get(settings.engine).request_options(given, settings)


def _line_numbers(value: list[int] | str | None) -> list[int] | None:
    """skip_lines as given: a batch file's list, or the command line's "2,7"."""
    if not isinstance(value, str):
        return value
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise SpecError(f"skip_lines: give line numbers separated by commas, e.g. 2,7 (got {value!r})") from None


def _cover_options(spec: VideoSpec, settings: Settings, render: RenderOptions) -> CoverOptions:
    from mvflow.cover import choose_cover_provider

    image = _checked(spec.cover, check_image_file)
    return CoverOptions(
        provider="image" if image is not None else choose_cover_provider(settings.cover_provider),
        width=render.width, height=render.height, image=image, fit=spec.cover_fit or "crop",
        prompt=spec.cover_prompt, model=spec.cover_model, fallback=spec.cover_fallback,
    )


def lrc_warnings(params: dict[str, Any]) -> list[str]:
    """What the user's own LRC (flow_params' lyrics_options.lrc) earns before anything runs: its
    lines stamped past the requested song length, or moved before 0 by the lyrics offset (the
    lyrics step checks again against the real audio: mvflow.lyrics.outside)."""
    from mvflow.lyrics.formats import parse_lrc
    from mvflow.lyrics.outside import lines_outside, outside_warnings

    options: LyricsOptions = params["lyrics_options"]
    if options.lrc is None:
        return []
    song_end = params["request"].duration
    lines = parse_lrc(Path(options.lrc.path).read_text(encoding="utf-8-sig"))
    return outside_warnings(lines_outside(lines, options.offset, song_end), song_end)


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


#: Fields that give the song's words or the server's own writing: an idea cannot be combined with them.
NOT_WITH_IDEA = ("lyrics", "lyrics_file", "description", "random_sample", "use_format", "lrc")


def song_idea(spec: VideoSpec, seed: int) -> SongIdea:
    """The songwriting step's input: the idea and the constraints the user gave (checked: no lyrics with it)."""
    clashing = [name for name in NOT_WITH_IDEA if getattr(spec, name) not in (None, False)]
    if clashing:
        raise SpecError(f"idea cannot be combined with {', '.join(clashing)}: the songwriter writes the words. "
                        "To use a plan's lyrics, run `mvflow write`, edit lyrics.txt and pass it with --lyrics")
    check_text_field(spec.idea or "", "idea", MAX_CAPTION_CHARS)
    if not (spec.idea or "").strip():
        raise SpecError("idea is empty: say what the song is about")
    return SongIdea(idea=spec.idea.strip(), title=spec.title, caption=spec.caption, mood=spec.mood, vocal=spec.vocal,
                    instrumental=bool(spec.instrumental), language=spec.language, duration=spec.duration, bpm=spec.bpm,
                    key_scale=spec.key, time_signature=spec.time_signature, seed=seed)


def _request(spec: VideoSpec, settings: Settings, base_dir: Path | None) -> SongRequest:
    """The SongRequest of the flags; with an idea, the songwriter's plan fills it in later."""
    if spec.idea is None:
        caption = spec.caption or spec.description or ("" if spec.random_sample else None)
        if caption is None:
            raise SpecError("caption is required: the style of the song, e.g. 'dreamy synthwave, female vocal' "
                            "(or an idea: what the song is about, for a songwriter to write)")
        if spec.instrumental and (spec.lyrics or spec.lyrics_file):
            raise SpecError("instrumental cannot be combined with lyrics")
        lyrics = lyrics_text(spec, base_dir)
        seed = spec.seed if spec.seed is not None else stable_seed(caption, lyrics)
    else:
        caption, lyrics = spec.caption or "", ""
        seed = spec.seed if spec.seed is not None else stable_seed("idea", spec.idea)
    check_text_field(caption, "caption", MAX_CAPTION_CHARS)
    return SongRequest(
        caption=caption, lyrics=lyrics, duration=spec.duration or 30.0, bpm=spec.bpm, key_scale=spec.key,
        time_signature=spec.time_signature or "4", language=spec.language or "en", seed=seed,
        engine=settings.engine, engine_options=_engine_options(spec, settings),
    )


def _check_size(render: RenderOptions, spec: VideoSpec, request: SongRequest) -> None:
    """Refuse an impossible --max-size now, before any song is made (the render step checks again).
    A songwriter's song has no length yet unless the user gave one: the render step checks it."""
    from mvflow.errors import EncodingError
    from mvflow.render.max_size import check_fits

    if spec.idea is not None and spec.duration is None:
        return
    try:
        check_fits(render, request.duration)
    except EncodingError as exc:
        raise SpecError(str(exc)) from None


@contextmanager
def spec_errors() -> Iterator[None]:
    """Any failure of turning a spec into inputs becomes one SpecError naming the field or file."""
    try:
        yield
    except ValidationError as exc:
        raise SpecError(validation_line(exc, "bad value for {where}: {message}", "request")) from exc
    except SpecError:
        raise
    except PermanentError as exc:  # a bad input file or value, a broken config file: one line naming it
        raise SpecError(str(exc)) from None


def _checked_settings(spec: VideoSpec) -> Settings:
    """The settings for `spec`, after the checks every request gets (title, duration, key and meter)."""
    settings = _settings_for(spec)
    check_text_field(spec.title, "title", MAX_TITLE_CHARS)
    check_duration(spec.duration)
    check_key_and_meter(spec.key, spec.time_signature)
    return settings


def write_params(spec: VideoSpec) -> tuple[SongIdea, SongwriterOptions, Path]:
    """What `mvflow write` needs: the idea, who writes it, and the video folder its plan goes in (the same
    folder `mvflow make --idea` with the same flags uses, so the plan written there is the one it makes)."""
    from mvflow.flows.music_video import video_folder

    if spec.idea is None:
        raise SpecError("give --idea 'what the song is about'")
    with spec_errors():
        settings = _checked_settings(spec)
        request = _request(spec, settings, None)
        idea = song_idea(spec, request.seed)
        return idea, songwriter_options(settings, request), video_folder(str(settings.output_dir), spec.title, idea)


def flow_params(spec: VideoSpec, base_dir: Path | None = None) -> dict[str, Any]:
    """The `music_video` flow's keyword arguments for `spec`. Raises SpecError naming the field.

    With an idea, the flow also gets `idea` and `songwriter` (who writes, resolved now) and the
    title may be None: the plan names the song.
    """
    from mvflow.render.outputs import check_short_choice

    with spec_errors():
        settings = _checked_settings(spec)
        check_output_folder(settings.output_dir)
        request = _request(spec, settings, base_dir)
        idea = song_idea(spec, request.seed) if spec.idea is not None else None
        render = _render_options(spec, settings, request.duration)
        _check_size(render, spec, request)
        outputs = chosen_outputs(settings, render)
        check_short_choice(outputs, render.short_from, request.duration)
        return {
            "request": request,
            "title": spec.title or (None if idea else default_title(request.caption) if request.caption
                                    else "Random Song"),
            "output_root": str(settings.output_dir.resolve()),
            "lyrics_options": LyricsOptions(
                transcriber=settings.transcriber, whisper_model=settings.whisper_model,
                language=request.language, offset=spec.lyrics_offset or 0.0, lrc=_checked(spec.lrc, check_lrc_file),
            ),
            "cover_options": _cover_options(spec, settings, render),
            "render_options": render,
            **({"idea": idea, "songwriter": songwriter_options(settings, request)} if idea else {}),
            "outputs": outputs,
        }
