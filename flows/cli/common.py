"""What every `mvflow` command shares: the console, the --debug switch, one-line errors, lyrics input,
audio input checks, the terminal progress bar. Command modules import this module (and `video_options`, the
video flags they share), never each other or the root app."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console(stderr=True, soft_wrap=True)
DEBUG = {"on": False}


def warn(messages: list[str]) -> None:
    """Print `warning: <message>` for each (on stderr): something the user should know, the command goes on."""
    for message in messages:
        console.print(f"[yellow]warning:[/] {escape(message)}")


def fail(message: str) -> NoReturn:
    """Print `error: <message>` (one line, on stderr) and end the command with exit status 1."""
    console.print(f"[bold red]error:[/] {escape(message)}")  # messages may hold [table] names, paths
    raise typer.Exit(code=1)


@contextmanager
def one_line_errors(retried: bool = True, everything: bool = False) -> Iterator[None]:
    """Run a command's body so that a known fault ends it in one line (mvflow.errors.fault_line), exit 1.

    Known faults are mvflow's errors (the message is the line) and transient service faults.
    `everything` also turns a bug into one line (naming its type): used around a flow run, whose
    failures reach the terminal as Prefect logged them. `retried` says whether step retries came
    first (it changes the transient wording). With --debug every error keeps its traceback.
    """
    from mvflow.errors import fault_line, is_known_fault

    try:
        yield
    except Exception as exc:  # noqa: BLE001 - classified below; bugs keep their traceback
        if isinstance(exc, (typer.Exit, typer.Abort)) or DEBUG["on"] or not (everything or is_known_fault(exc)):
            raise
        fail(fault_line(exc, retried))


def read_lyrics(source: str | None) -> str:
    """Lyrics from a file path or '-' (standard input); None means instrumental. InputError when unusable."""
    from mvflow.errors import InputError
    from mvflow.inputs import check_lyrics, read_lyrics_file

    if source is None:
        return ""
    if source != "-":
        return read_lyrics_file(source, "--lyrics")
    try:
        text = sys.stdin.read()
    except UnicodeDecodeError:
        raise InputError("lyrics on standard input are not UTF-8 text") from None
    if not text.strip():
        raise InputError("no lyrics on standard input: leave out --lyrics for an instrumental")
    return check_lyrics(text, "lyrics on standard input")


def check_audio(audio: Path) -> float:
    """The audio's duration in seconds; an InputError (one line) for a missing, empty or undecodable
    file, so a command fails before it loads a model or renders a frame."""
    from mvflow.inputs import check_audio_file

    return check_audio_file(audio)


def terminal_progress():  # noqa: ANN201 - returns a context manager
    """A rich progress bar fed by the steps' progress reports (render frames, ...)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from mvflow import progress as step_progress

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


