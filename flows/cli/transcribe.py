"""`mvflow transcribe`: time the lyrics of an existing song file, without Prefect.

It runs the lyrics step's plain core (`mvflow.lyrics.sync.sync_lyrics`) in a temporary
folder and keeps the one format asked for, so timing a song you already have needs no
Prefect server, no flow run and no output tree.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvflow.cli.common import DEBUG, check_audio, console, one_line_errors, read_lyrics, warn
from mvflow.errors import InputError
from mvflow.lyrics.providers import transcriber_help

#: --format -> the file name ending it is written with (the key in SyncedLyrics.files is the format).
FORMATS = {"lrc": ".lrc", "elrc": ".words.lrc", "srt": ".srt", "ass": ".ass", "json": ".json"}


def check_format(fmt: str) -> str:
    """The format's canonical name; checked before any work so a typo costs nothing."""
    name = fmt.strip().lower()
    if name not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return name


def output_path(audio: Path, fmt: str, output: Path | None) -> Path:
    """Where the file goes: OUT as given, inside OUT when it is a folder, else beside the audio
    (song.mp3 -> song.lrc, song.words.lrc, song.srt, song.ass, song.json)."""
    name = audio.stem + FORMATS[fmt]
    if output is None:
        return audio.with_name(name)
    destination = output / name if output.is_dir() else output
    if destination.resolve() == audio.resolve():
        raise InputError(f"-o {output} is the audio file itself: give another file name")
    return destination


def pick_transcriber(requested: str | None, model: str | None, lyrics: str) -> tuple[str, str | None]:
    """(transcriber that will run, whisper model): flags > environment > config file > defaults,
    "auto" resolved by the keys that are set (so the user sees the real choice up front)."""
    from mvflow.lyrics.providers import choose_transcriber
    from mvflow.settings import load_settings

    settings = load_settings({"transcriber": requested, "whisper_model": model})
    chosen = choose_transcriber(settings.transcriber)
    return chosen, settings.whisper_model


def report(synced, seconds: float) -> None:  # noqa: ANN001 - SyncedLyrics
    """What happened, on stderr: lines timed (heard, aligned, estimated), lines not sung, lines not
    placed, lines the offset moved outside the song of `seconds`."""
    from mvflow.lyrics.outside import outside_warnings

    counts = f": {synced.timing_summary()}" if synced.source == "aligned" else ""
    console.print(f"{len(synced.lines)} line(s) timed ({synced.source}{counts}) by [green]{synced.provider}[/]")
    for line in synced.unsung:
        console.print(f"not sung (left out): {line!r}")
    for line in synced.unplaced:
        console.print(f"[yellow]warning:[/] could not place lyric line: {line!r}")
    warn(outside_warnings(synced.outside, seconds))


def save(made: Path, destination: Path) -> Path:
    """Copy the step's file to where the user wants it (atomically: no half file on a crash)."""
    from mvflow.files import write_bytes_atomic

    try:
        write_bytes_atomic(destination, made.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot write {destination}: {exc.strerror or exc}") from None
    return destination


def transcribe(
    audio: Annotated[Path, typer.Argument(help="The song: any audio file ffmpeg reads (mp3, wav, flac, ...).")],
    lyrics: Annotated[Optional[str], typer.Option("--lyrics", "-l", help="The known lyrics (file, or - for stdin): aligned word for word. Without: the transcript's own words.")] = None,
    transcriber: Annotated[Optional[str], typer.Option(help=f"{transcriber_help()}.")] = None,
    whisper_model: Annotated[Optional[str], typer.Option(help="faster-whisper model name or folder (default: bundled tiny.en).")] = None,
    language: Annotated[str, typer.Option(help="Language code of the vocals.")] = "en",
    fmt: Annotated[str, typer.Option("--format", "-f", help="lrc, elrc (word-timed LRC), srt, ass (karaoke) or json.")] = "lrc",
    lyrics_offset: Annotated[float, typer.Option(help="Shift all times by SECONDS; positive = lyrics later.")] = 0.0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Output file or folder (default: beside the audio, e.g. song.lrc).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Time the lyrics of a song file and print the path of the written lyrics file."""
    from mvflow.lyrics.sync import sync_lyrics

    DEBUG["on"] = debug
    with one_line_errors():  # an input or choice the user can fix: before any model is loaded
        fmt = check_format(fmt)
        seconds = check_audio(audio)
        destination = output_path(audio, fmt, output)
        text = read_lyrics(lyrics)
        chosen, model = pick_transcriber(transcriber, whisper_model, text)
    console.print(f"transcriber: [green]{chosen}[/]")
    # No Prefect step runs here, so nothing was retried; any failure is still one line unless --debug.
    with one_line_errors(retried=False, everything=True), \
            tempfile.TemporaryDirectory(prefix="mvflow-transcribe-") as tmp:
        synced = sync_lyrics(audio, text, Path(tmp), transcriber=chosen, model=model,
                             language=language, offset=lyrics_offset)
        report(synced, seconds)
        written = save(Path(synced.files[fmt].path), destination)
    print(written)


def register(app: typer.Typer) -> None:
    """Add `transcribe` to the mvflow command."""
    app.command()(transcribe)
