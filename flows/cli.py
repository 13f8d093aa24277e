"""The `mvflow` command. Thin: parse, build the request, call a flow or a step, print where the result is."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from flows import cli_render_options as ro

app = typer.Typer(
    help="mvflow: one request in, one music video out (song -> synced lyrics + cover -> MP4), "
    "orchestrated by Prefect. Run `mvflow make --demo` to try it offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
DEBUG = {"on": False}


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}")  # messages may hold [table] names, paths
    raise typer.Exit(code=1)


def read_lyrics(source: str | None) -> str:
    """Lyrics from a file path or '-' (standard input); None means instrumental."""
    from tasks.inputs import InputError, check_lyrics, read_lyrics_file

    if source is None:
        return ""
    try:
        if source == "-":
            try:
                text = sys.stdin.read()
            except UnicodeDecodeError:
                raise InputError("lyrics on standard input are not UTF-8 text") from None
            if not text.strip():
                raise InputError("no lyrics on standard input: leave out --lyrics for an instrumental")
            return check_lyrics(text, "lyrics on standard input")
        return read_lyrics_file(source, "--lyrics")
    except InputError as exc:
        raise UserError(str(exc)) from None


def terminal_progress():  # noqa: ANN201 - returns a context manager
    """A rich progress bar fed by the steps' progress reports (render frames, ...)."""
    from contextlib import contextmanager

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from tasks import progress as step_progress

    @contextmanager
    def shown():
        bars: dict[str, Any] = {}
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console,
                      transient=False) as prog:
            def listener(step: str, fraction: float, description: str) -> None:
                if step not in bars:
                    bars[step] = prog.add_task(description, total=1.0)
                prog.update(bars[step], completed=fraction, description=description)

            step_progress.add_listener(listener)
            try:
                yield
            finally:
                step_progress.remove_listener(listener)

    return shown()


@app.command()
def make(
    caption: Annotated[Optional[str], typer.Option("--caption", "-c", help="Style of the song, e.g. 'dreamy synthwave, female vocal'.")] = None,
    lyrics: Annotated[Optional[str], typer.Option("--lyrics", "-l", help="Lyrics file with [Verse]/[Chorus] tags, or - for stdin. None = instrumental.")] = None,
    title: Annotated[Optional[str], typer.Option("--title", "-t", help="Video title (default: derived from the caption).")] = None,
    duration: Annotated[Optional[float], typer.Option(help="Song length in seconds.")] = None,
    bpm: Annotated[Optional[int], typer.Option(help="Tempo in beats per minute (default: chosen from the caption).")] = None,
    key: Annotated[Optional[str], typer.Option("--key", help="Key and scale, e.g. 'A minor', 'F# major'.")] = None,
    time_signature: Annotated[Optional[str], typer.Option(help="Beats per bar: 2, 3, 4 or 6 (also 3/4, 4/4, 6/8).")] = None,
    language: Annotated[Optional[str], typer.Option(help="Vocal language code.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Same seed, same song (default: derived from the request).")] = None,
    engine: Annotated[Optional[str], typer.Option(help="Song engine: local (built-in, offline) or acestep (an ACE-Step 1.5 server).")] = None,
    api_url: Annotated[Optional[str], typer.Option(help="ACE-Step server URL (default http://127.0.0.1:8001). Key: $ACESTEP_API_KEY.")] = None,
    api_mode: Annotated[Optional[str], typer.Option(help="ACE-Step API: native (/release_task + polling) or completion (/v1/chat/completions).")] = None,
    thinking: Annotated[Optional[bool], typer.Option("--thinking/--no-thinking", help="ACE-Step: let the LM write audio codes (default on; needs the server's LM).")] = None,
    use_format: Annotated[Optional[bool], typer.Option("--use-format", help="ACE-Step: let the LM rewrite caption/lyrics and fill bpm/key/duration.")] = None,
    description: Annotated[Optional[str], typer.Option("--description", "-d", help="ACE-Step simple mode: the LM writes caption and lyrics from this.")] = None,
    random_sample: Annotated[Optional[bool], typer.Option("--random", help="ACE-Step: generate a random example the server picks.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="ACE-Step DiT model name (default: the server's primary model).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="ACE-Step: audios to generate (all saved; default 1).")] = None,
    pick: Annotated[Optional[int], typer.Option(help="ACE-Step: which audio of the batch the video uses (1-based; default 1).")] = None,
    audio_format: Annotated[Optional[str], typer.Option(help="ACE-Step audio format: mp3 (default), wav or flac.")] = None,
    steps: Annotated[Optional[int], typer.Option("--steps", help="ACE-Step inference steps.")] = None,
    guidance: Annotated[Optional[float], typer.Option("--guidance", help="ACE-Step guidance scale (base models).")] = None,
    task_type: Annotated[Optional[str], typer.Option(help="ACE-Step task: text2music (default), cover or repaint.")] = None,
    src_audio: Annotated[Optional[Path], typer.Option(help="ACE-Step cover/repaint: the source audio file to upload.")] = None,
    reference_audio: Annotated[Optional[Path], typer.Option(help="ACE-Step: a style reference audio file to upload.")] = None,
    repaint_start: Annotated[Optional[float], typer.Option(help="ACE-Step repaint: start of the region (s).")] = None,
    repaint_end: Annotated[Optional[float], typer.Option(help="ACE-Step repaint: end of the region (s; -1 = to the end).")] = None,
    cover_strength: Annotated[Optional[float], typer.Option(help="ACE-Step cover: how closely to follow the source (0-1).")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="ACE-Step: deadline for one generation job, seconds (default 1800).")] = None,
    transcriber: Annotated[Optional[str], typer.Option(help="Lyrics timing: auto (best with the keys set), elevenlabs, openai or local (faster-whisper, offline).")] = None,
    whisper_model: Annotated[Optional[str], typer.Option(help="faster-whisper model name or folder (default: bundled tiny.en).")] = None,
    lyrics_offset: Annotated[Optional[float], typer.Option(help="Shift all lyric times by SECONDS; positive = lyrics later.")] = None,
    lrc: Annotated[Optional[Path], typer.Option("--lrc", help="Use your own LRC file for the lyrics and skip transcription.")] = None,
    cover_provider: Annotated[Optional[str], typer.Option(help="Cover art: auto (gemini when GEMINI_API_KEY is set, else local), local (procedural) or gemini.")] = None,
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
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Where outputs go (default ./mvflow_output).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the example request shipped in templates/demo.toml.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Make a music video from one request and print where the video file is."""
    DEBUG["on"] = debug
    flags = {k: v for k, v in locals().items() if k not in ("demo", "debug", "lyrics") and v is not None}
    try:
        from flows.spec import SpecError, demo_spec, spec_from

        if lyrics is not None:
            flags["lyrics"] = read_lyrics(lyrics)
        spec = spec_from(flags, base=demo_spec() if demo else None)
        if spec.caption is None and not (spec.description or spec.random_sample):
            raise UserError("give --caption 'style of the song' (or --demo to use the example request)")
        run_spec(spec)
    except UserError as exc:
        fail(str(exc))
    except SpecError as exc:
        fail(str(exc))


def run_spec(spec) -> None:  # noqa: ANN001 - flows.spec.VideoSpec
    """Run the music_video flow for one spec with a terminal progress bar, then report."""
    from flows.spec import flow_params
    from tasks.faults import fault_line

    params = flow_params(spec)
    request = params["request"]
    render = params["render_options"]
    console.print(
        f"[bold]mvflow[/] making [cyan]{params['title']}[/]: {request.duration:.0f} s, engine [green]{request.engine}[/], "
        f"lyrics [green]{params['lyrics_options'].transcriber}[/], cover [green]{params['cover_options'].provider}[/], "
        f"{render.width}x{render.height}@{render.fps} {render.codec}"
        + (f" <= {render.max_size_mb:g} MB" if render.max_size_mb else "")
    )
    from flows.music_video import music_video

    try:
        with terminal_progress():
            run = music_video(**params)
    except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
        if DEBUG["on"]:
            raise
        raise UserError(fault_line(exc)) from exc
    report_run(run)


def report_run(run) -> None:  # noqa: ANN001 - flows.music_video.VideoRun
    for step in run.steps:
        console.print(f"  {step.name:<10} {step.provider:<12} {step.status:<7} {step.seconds:6.1f} s")
    if run.all_cached:
        console.print("[bold]Nothing to do:[/] every step was served from cache (same request, files intact).")
    if run.video.lyrics.unplaced:
        console.print(f"[yellow]warning:[/] {len(run.video.lyrics.unplaced)} lyric line(s) could not be timed; "
                      f"see {run.manifest}")
    console.print(f"manifest: {run.manifest}")
    print(run.video.video.path)


@app.command()
def doctor(
    api_url: Annotated[Optional[str], typer.Option(help="ACE-Step server to check (default: the configured one).")] = None,
) -> None:
    """Check which engines and providers are usable here, and why not. Keys are shown only as set/unset."""
    from tasks.doctor import run_checks

    ok = True
    for check in run_checks(api_url):
        mark = "[green]ok[/]" if check.ok else "[red]--[/]"
        ok = ok and (check.ok or not check.required)
        console.print(f"{mark} {check.name:<28} {check.detail}")
    raise typer.Exit(code=0 if ok else 1)


def _mount_subcommands() -> None:
    from flows import cli_batch, cli_cover
    from flows.cli_engine import engine_app

    app.add_typer(engine_app, name="engine", help="The built-in ACE-Step-compatible server (mvflow engine serve).")
    cli_batch.register(app)
    cli_cover.register(app)
    from flows import cli_lyrics  # mvflow transcribe
    cli_lyrics.register(app)
    from flows import cli_render  # mvflow render
    cli_render.register(app)


_mount_subcommands()


class _NoTracebackForUserErrors:
    """Logging filter: Prefect logs a failed task with its traceback; for a known fault (a bad key or
    input, a server down, slow or rate limiting: tasks.faults.is_known_fault) the one-line message is
    the whole story, so the terminal shows it without the trace. Bugs keep theirs."""

    def filter(self, record) -> bool:  # noqa: ANN001 - logging.LogRecord
        from tasks.faults import is_known_fault

        if record.exc_info and record.exc_info[1] is not None and is_known_fault(record.exc_info[1]) \
                and not DEBUG["on"]:
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_user_error_tracebacks() -> None:
    import logging

    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logging.getLogger(name).addFilter(_NoTracebackForUserErrors())


def main() -> None:
    _quiet_user_error_tracebacks()
    app()


if __name__ == "__main__":
    main()
