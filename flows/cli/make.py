"""`mvflow make`: one music video from one request, with a progress bar and a per-step report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from mvflow.cli import song_options as so
from mvflow.cli import video_options as ro
from mvflow.cli.common import DEBUG, console, one_line_errors, read_lyrics, terminal_progress, warn
from mvflow.cover import provider_help as cover_provider_help
from mvflow.lyrics.providers import transcriber_help


def make(
    caption: so.CaptionOption = None,
    lyrics: Annotated[Optional[str], typer.Option("--lyrics", "-l", help="Lyrics file with [Verse]/[Chorus] tags, or - for stdin. None = instrumental.")] = None,
    idea: so.IdeaOption = None,
    title: so.TitleOption = None,
    duration: so.DurationOption = None,
    bpm: so.BpmOption = None,
    key: so.KeyOption = None,
    time_signature: so.TimeSignatureOption = None,
    language: so.LanguageOption = None,
    seed: so.SeedOption = None,
    mood: so.MoodOption = None,
    vocal: so.VocalOption = None,
    instrumental: so.InstrumentalOption = None,
    songwriter: so.SongwriterOption = None,
    songwriter_model: so.SongwriterModelOption = None,
    songwriter_url: so.SongwriterUrlOption = None,
    songwriter_prompt: so.SongwriterPromptOption = None,
    engine: so.EngineOption = None,
    vocal_style: so.VocalStyleOption = None,
    mix: so.MixOption = None,
    skip_lines: so.SkipLinesOption = None,
    api_url: so.ApiUrlOption = None,
    api_mode: Annotated[Optional[str], typer.Option(help="ACE-Step API: native (/release_task + polling) or completion (/v1/chat/completions).")] = None,
    thinking: Annotated[Optional[bool], typer.Option("--thinking/--no-thinking", help="ACE-Step: let the LM write audio codes (default on; needs the server's LM).")] = None,
    use_format: Annotated[Optional[bool], typer.Option("--use-format", help="ACE-Step: let the LM rewrite caption/lyrics and fill bpm/key/duration.")] = None,
    description: Annotated[Optional[str], typer.Option("--description", "-d", help="ACE-Step simple mode: the LM writes caption and lyrics from this.")] = None,
    random_sample: Annotated[Optional[bool], typer.Option("--random", help="ACE-Step: generate a random example the server picks.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="ACE-Step DiT model name (default: the server's primary model).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="ACE-Step: audios to generate (all saved; default 1).")] = None,
    takes: Annotated[Optional[int], typer.Option(help="ACE-Step: generate N takes and keep the one whose vocals carry the lyrics best (all saved).")] = None,
    pick: Annotated[Optional[int], typer.Option(help="ACE-Step: which audio of the batch the video uses (1-based; default 1).")] = None,
    audio_format: Annotated[Optional[str], typer.Option(help="ACE-Step audio format: mp3 (default), wav, flac; opus, aac or wav32 on later ACE-Step releases.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="ACE-Step inference steps.")] = None,
    guidance: Annotated[Optional[float], typer.Option("--guidance", help="ACE-Step guidance scale (base models).")] = None,
    task_type: Annotated[Optional[str], typer.Option(help="ACE-Step task: text2music (default), cover or repaint.")] = None,
    src_audio: Annotated[Optional[Path], typer.Option(help="ACE-Step cover/repaint: the source audio file to upload.")] = None,
    reference_audio: Annotated[Optional[Path], typer.Option(help="ACE-Step: a style reference audio file to upload.")] = None,
    repaint_start: Annotated[Optional[float], typer.Option(help="ACE-Step repaint: start of the region (s).")] = None,
    repaint_end: Annotated[Optional[float], typer.Option(help="ACE-Step repaint: end of the region (s; -1 = to the end).")] = None,
    cover_strength: Annotated[Optional[float], typer.Option(help="ACE-Step cover: how closely to follow the source (0-1).")] = None,
    repaint_mode: Annotated[Optional[str], typer.Option(help="ACE-Step repaint (later releases): conservative, balanced or aggressive.")] = None,
    repaint_strength: Annotated[Optional[float], typer.Option(help="ACE-Step balanced repaint (later releases): 0 keeps the source, 1 replaces it.")] = None,
    lora: Annotated[Optional[str], typer.Option("--lora", help="ACE-Step (later releases): LoRA adapter on the server, NAME[:SCALE] (scale 0-1).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="ACE-Step: deadline for one generation job, seconds (default 1800).")] = None,
    transcriber: Annotated[Optional[str], typer.Option(help=f"Lyrics timing: {transcriber_help()}.")] = None,
    whisper_model: Annotated[Optional[str], typer.Option(help="faster-whisper model name or folder (default: bundled tiny.en).")] = None,
    lyrics_offset: Annotated[Optional[float], typer.Option(help="Shift all lyric times by SECONDS; positive = lyrics later.")] = None,
    lrc: Annotated[Optional[Path], typer.Option("--lrc", help="Use your own LRC file for the lyrics and skip transcription.")] = None,
    cover_provider: Annotated[Optional[str], typer.Option(help=f"Cover art: {cover_provider_help(with_auto=True)}.")] = None,
    cover: Annotated[Optional[Path], typer.Option("--cover", help="Use your own image as the cover (cropped or fitted, never stretched).")] = None,
    cover_fit: Annotated[Optional[str], typer.Option(help="How --cover fills the frame: crop (default) or fit (letterbox over a blurred copy).")] = None,
    cover_prompt: Annotated[Optional[str], typer.Option(help="Gemini: use this prompt instead of the one built from caption and title.")] = None,
    cover_model: Annotated[Optional[str], typer.Option(help="Gemini image model (default gemini-3.1-flash-image, with fallbacks).")] = None,
    cover_fallback: Annotated[Optional[str], typer.Option(help="'local': fall back to the procedural cover if the cover provider fails.")] = None,
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
    outputs: ro.OutputsOption = None,
    short_from: ro.ShortFromOption = None,
    short_to: ro.ShortToOption = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Where outputs go (default ./mvflow_output).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the example request shipped in templates/demo.toml.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Make a music video from one request and print where the video file is.

    Give the song (--caption, and --lyrics for a sung one), or an idea (--idea 'a song about ...'): a
    songwriter then writes the plan first (an OpenAI-compatible chat model, or the ACE-Step server's LM).
    """
    DEBUG["on"] = debug
    flags = {k: v for k, v in locals().items() if k not in ("demo", "debug", "lyrics") and v is not None}
    from mvflow.errors import SpecError
    from mvflow.flows.spec import demo_spec, spec_from

    with one_line_errors():
        if lyrics is not None:
            flags["lyrics"] = read_lyrics(lyrics)
        spec = spec_from(flags, base=demo_spec() if demo else None)
        if spec.caption is None and not (spec.description or spec.random_sample or spec.idea):
            raise SpecError("give --caption 'style of the song', or --idea 'what the song is about' "
                            "(or --demo to use the example request)")
        run_spec(spec)


def run_spec(spec) -> None:  # noqa: ANN001 - mvflow.flows.spec.VideoSpec
    """Run the music_video flow for one spec with a terminal progress bar, then report.

    A failed run ends in one line whatever the cause (Prefect has logged the step's failure).
    """
    from mvflow.flows.spec import flow_params, lrc_warnings

    params = flow_params(spec)
    warn(lrc_warnings(params))
    request = params["request"]
    render = params["render_options"]
    writer = params.get("songwriter")
    what = (f"the idea [cyan]{escape(spec.idea)!r}[/] (songwriter [green]{writer.provider}[/], {escape(writer.model)})"
            if writer else f"[cyan]{escape(params['title'])}[/]: {request.duration:.0f} s")
    console.print(
        f"[bold]mvflow[/] making {what}, engine [green]{request.engine}[/], "
        f"lyrics [green]{params['lyrics_options'].transcriber}[/], cover [green]{params['cover_options'].provider}[/], "
        f"{render.width}x{render.height}@{render.fps} {render.codec}"
        + (f" <= {render.max_size_mb:g} MB" if render.max_size_mb else "")
        + (f", outputs {', '.join(params['outputs'])}" if params["outputs"] != ["full"] else "")
    )
    from mvflow.flows.music_video import music_video

    with one_line_errors(everything=True), terminal_progress():
        run = music_video(**params)
    report_run(run)


def report_run(run) -> None:  # noqa: ANN001 - mvflow.flows.music_video.VideoRun
    """Each step's provider, status and time; warnings; then the video's path alone on stdout."""
    from mvflow.manifest import lyric_warnings, run_warnings

    for step in run.steps:
        console.print(f"  {step.name:<13} {step.provider:<12} {step.status:<7} {step.seconds:6.1f} s")
    if run.plan is not None:
        console.print(f"plan: {run.plan.plan_file.path} ({run.plan.title!r}; lyrics in {run.plan.lyrics_file.path})")
    if run.all_cached:
        console.print("[bold]Nothing to do:[/] every step was served from cache (same request, files intact).")
    for take in run.video.song.takes:
        score = take.score
        verdict = score.summary() + (f", skipped {len(score.skipped)}" if score.skipped else "") if score else \
            "not compared"
        console.print(f"  take {take.number}: {verdict}" + (" [green](chosen)[/]" if score and score.chosen else ""))
    lyrics = run.video.lyrics
    if lyrics.source == "aligned":
        console.print(f"  lyrics: {len(lyrics.lines)} lines on screen ({lyrics.timing_summary()})")
    if lyrics.unplaced:
        console.print(f"[yellow]warning:[/] {len(lyrics.unplaced)} lyric line(s) could not be timed; "
                      f"see {run.manifest}")
    warn(run_warnings(run.video))
    warn(lyric_warnings(run.video))
    for video in run.videos:
        if video.output == "full":
            continue
        part = f", {video.clip.describe(' of the song')}" if video.clip else ""
        console.print(f"  {video.output:<13} {video.width}x{video.height}{part}")
    console.print(f"manifest: {run.manifest}")
    for video in run.videos or [run.video]:
        print(video.video.path)


def register(app: typer.Typer) -> None:
    """Add `make` to the mvflow command."""
    app.command()(make)
