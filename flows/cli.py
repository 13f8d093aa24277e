"""The `mvflow` command. Thin: parse, build the request, call a flow or a step, print where the result is."""

from __future__ import annotations

import hashlib
import sys
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console

app = typer.Typer(
    help="mvflow: one request in, one music video out (song -> synced lyrics + cover -> MP4), "
    "orchestrated by Prefect. Run `mvflow make --demo` to try it offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
DEBUG = {"on": False}


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code=1)


def read_lyrics(source: str | None) -> str:
    """Lyrics from a file path or '-' (standard input); None means instrumental."""
    if source is None:
        return ""
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise UserError(f"lyrics file not found: {source} (give a text file, or - to read standard input)")
    return path.read_text(encoding="utf-8-sig")


def demo_request() -> dict[str, Any]:
    text = resources.files("templates").joinpath("demo.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def stable_seed(*parts: str) -> int:
    """Default seed derived from the request, so the same request always gives the same song."""
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:8], 16) % (2**31)


def parse_resolution(value: str) -> tuple[int, int]:
    try:
        w, h = value.lower().split("x")
        return int(w), int(h)
    except ValueError:
        raise UserError(f"--resolution must look like 1920x1080, not {value!r}") from None


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
    thinking: Annotated[bool, typer.Option("--thinking/--no-thinking", help="ACE-Step: let the LM write audio codes (needs the server's LM).")] = True,
    use_format: Annotated[bool, typer.Option("--use-format", help="ACE-Step: let the LM rewrite caption/lyrics and fill bpm/key/duration.")] = False,
    description: Annotated[Optional[str], typer.Option("--description", "-d", help="ACE-Step simple mode: the LM writes caption and lyrics from this.")] = None,
    random_sample: Annotated[bool, typer.Option("--random", help="ACE-Step: generate a random example the server picks.")] = False,
    model: Annotated[Optional[str], typer.Option("--model", help="ACE-Step DiT model name (default: the server's primary model).")] = None,
    batch_size: Annotated[int, typer.Option(help="ACE-Step: audios to generate (all saved).")] = 1,
    pick: Annotated[int, typer.Option(help="ACE-Step: which audio of the batch the video uses (1-based).")] = 1,
    audio_format: Annotated[str, typer.Option(help="ACE-Step audio format: mp3, wav or flac.")] = "mp3",
    steps: Annotated[Optional[int], typer.Option("--steps", help="ACE-Step inference steps.")] = None,
    guidance: Annotated[Optional[float], typer.Option("--guidance", help="ACE-Step guidance scale (base models).")] = None,
    task_type: Annotated[str, typer.Option(help="ACE-Step task: text2music, cover or repaint.")] = "text2music",
    src_audio: Annotated[Optional[Path], typer.Option(help="ACE-Step cover/repaint: the source audio file to upload.")] = None,
    reference_audio: Annotated[Optional[Path], typer.Option(help="ACE-Step: a style reference audio file to upload.")] = None,
    repaint_start: Annotated[Optional[float], typer.Option(help="ACE-Step repaint: start of the region (s).")] = None,
    repaint_end: Annotated[Optional[float], typer.Option(help="ACE-Step repaint: end of the region (s; -1 = to the end).")] = None,
    cover_strength: Annotated[Optional[float], typer.Option(help="ACE-Step cover: how closely to follow the source (0-1).")] = None,
    timeout: Annotated[float, typer.Option(help="ACE-Step: deadline for one generation job, seconds.")] = 1800.0,
    transcriber: Annotated[Optional[str], typer.Option(help="Lyrics timing: auto or local (faster-whisper).")] = None,
    whisper_model: Annotated[Optional[str], typer.Option(help="faster-whisper model name or folder (default: bundled tiny.en).")] = None,
    lyrics_offset: Annotated[float, typer.Option(help="Shift all lyric times by SECONDS; positive = lyrics later.")] = 0.0,
    cover_provider: Annotated[Optional[str], typer.Option(help="Cover art provider: local (procedural) or gemini (needs GEMINI_API_KEY).")] = None,
    cover: Annotated[Optional[Path], typer.Option("--cover", help="Use your own image as the cover (cropped or fitted, never stretched).")] = None,
    cover_fit: Annotated[str, typer.Option(help="How --cover fills the frame: crop or fit (letterbox over a blurred copy).")] = "crop",
    cover_prompt: Annotated[Optional[str], typer.Option(help="Gemini: use this prompt instead of the one built from caption and title.")] = None,
    cover_model: Annotated[Optional[str], typer.Option(help="Gemini image model (default gemini-3.1-flash-image, with fallbacks).")] = None,
    cover_fallback: Annotated[Optional[str], typer.Option(help="'local': fall back to the procedural cover if the cover provider fails.")] = None,
    resolution: Annotated[Optional[str], typer.Option(help="Video size WIDTHxHEIGHT (default 1920x1080).")] = None,
    fps: Annotated[Optional[int], typer.Option(help="Frames per second (default 30).")] = None,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Where outputs go (default ./mvflow_output).")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Use the example request shipped in templates/demo.toml.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Make a music video from one request and print where the MP4 is."""
    DEBUG["on"] = debug
    try:
        base = demo_request() if demo else {}
        song_lyrics = read_lyrics(lyrics) if lyrics is not None else base.get("lyrics", "")
        caption = caption or base.get("caption") or description or ("" if random_sample else None)
        if caption is None:
            raise UserError("give --caption 'style of the song' (or --demo to use the example request)")
        title = title or base.get("title") or caption.split(",")[0].strip().title() or "Random Song"
        width, height = parse_resolution(resolution) if resolution else (None, None)
        _run_make(
            {
                "caption": caption, "lyrics": song_lyrics,
                "duration": duration or base.get("duration", 30.0),
                "bpm": bpm or base.get("bpm"), "key_scale": key or base.get("key_scale"),
                "time_signature": time_signature or base.get("time_signature", "4"),
                "language": language or base.get("language", "en"),
                "seed": seed if seed is not None else base.get("seed", stable_seed(caption, song_lyrics)),
            },
            title,
            {"output_dir": output_dir, "engine": engine, "transcriber": transcriber, "whisper_model": whisper_model,
             "cover_provider": cover_provider, "width": width, "height": height, "fps": fps,
             "acestep_api_url": api_url, "acestep_api_mode": api_mode},
            lyrics_offset,
            {"image": cover, "fit": cover_fit, "prompt": cover_prompt, "model": cover_model,
             "fallback": cover_fallback},
            {"thinking": thinking, "use_format": use_format, "description": description,
             "random_sample": random_sample, "model": model, "batch_size": batch_size, "pick": pick,
             "audio_format": audio_format, "inference_steps": steps, "guidance_scale": guidance,
             "task_type": task_type, "src_audio": str(src_audio) if src_audio else None,
             "reference_audio": str(reference_audio) if reference_audio else None,
             "repainting_start": repaint_start, "repainting_end": repaint_end,
             "audio_cover_strength": cover_strength, "timeout": timeout},
        )
    except UserError as exc:
        fail(str(exc))


def cover_options(settings, cover_flags: dict[str, Any]):  # noqa: ANN001, ANN201
    """CoverOptions from settings and the --cover* flags; --cover IMAGE selects the 'image' provider."""
    from tasks.models import CoverOptions, FileArtifact

    image = cover_flags.get("image")
    if image is not None and not Path(image).is_file():
        raise UserError(f"cover image not found: {image}")
    if cover_flags.get("fit") not in ("crop", "fit"):
        raise UserError("--cover-fit must be crop or fit")
    if cover_flags.get("fallback") not in (None, "local"):
        raise UserError("--cover-fallback accepts only 'local'")
    return CoverOptions(
        provider="image" if image is not None else settings.cover_provider,
        width=settings.width, height=settings.height,
        image=FileArtifact.from_path(image) if image is not None else None,
        fit=cover_flags["fit"], prompt=cover_flags.get("prompt"), model=cover_flags.get("model"),
        fallback=cover_flags.get("fallback"),
    )


def engine_options(settings, acestep_flags: dict[str, Any]) -> dict[str, Any]:  # noqa: ANN001
    """SongRequest.engine_options for the chosen engine (the built-in engine takes none)."""
    if settings.engine != "acestep":
        return {}
    from tasks.song.acestep_options import AceStepOptions

    given = {k: v for k, v in acestep_flags.items() if v is not None}
    options = AceStepOptions(api_url=settings.acestep_api_url, api_mode=settings.acestep_api_mode, **given)
    return options.pinned().model_dump(mode="json", exclude_none=True)


def _run_make(song_fields: dict[str, Any], title: str, flags: dict[str, Any], lyrics_offset: float,
              cover_flags: dict[str, Any], acestep_flags: dict[str, Any]) -> None:
    """Build the request from settings (flags > env > config file > defaults) and run the flow."""
    from pydantic import ValidationError

    from tasks.artifacts import PermanentError
    from tasks.config import load_settings
    from tasks.models import LyricsOptions, RenderOptions, SongRequest

    try:
        settings = load_settings(flags)
        request = SongRequest(engine=settings.engine, engine_options=engine_options(settings, acestep_flags),
                              **song_fields)
        covers = cover_options(settings, cover_flags)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"bad value for {first['loc'][0]}: {first['msg']}") from exc
    except PermanentError as exc:
        raise UserError(str(exc)) from exc

    console.print(
        f"[bold]mvflow[/] making [cyan]{title}[/]: {request.duration:.0f} s, engine [green]{request.engine}[/], "
        f"lyrics [green]{settings.transcriber}[/], cover [green]{covers.provider}[/], "
        f"{settings.width}x{settings.height}@{settings.fps}"
    )
    from flows.music_video import music_video

    try:
        with terminal_progress():
            run = music_video(
                request=request,
                title=title,
                output_root=str(settings.output_dir.resolve()),
                lyrics_options=LyricsOptions(transcriber=settings.transcriber, whisper_model=settings.whisper_model,
                                             language=request.language, offset=lyrics_offset),
                cover_options=covers,
                render_options=RenderOptions(width=settings.width, height=settings.height, fps=settings.fps),
            )
    except Exception as exc:  # noqa: BLE001 - one clear line unless --debug
        if DEBUG["on"]:
            raise
        raise UserError(f"{type(exc).__name__}: {exc}" if not isinstance(exc, PermanentError) else str(exc)) from exc
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
    from flows.cli_engine import engine_app

    app.add_typer(engine_app, name="engine", help="The built-in ACE-Step-compatible server (mvflow engine serve).")


_mount_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
