"""`mvflow write`: a song plan from an idea, printed and saved (plan.json + lyrics.txt), without making a video.

The plan goes in the same folder `mvflow make --idea` with the same flags uses, so making the
video afterwards sings the plan that was printed. To change the words, edit lyrics.txt and
run the `mvflow make --lyrics ...` line printed at the end (it carries the plan's caption,
title and music parameters). Like render/transcribe/thumbnail, it runs without Prefect:
no step retries (a temporary fault says to try again) and no Prefect cache.
"""

from __future__ import annotations

import json
import shlex
from typing import Annotated, Optional

import typer

from mvflow.cli import song_options as so
from mvflow.cli.common import DEBUG, console, fail, one_line_errors
from mvflow.models import SongPlan


def write(
    idea: so.IdeaOption = None,
    caption: so.CaptionOption = None,
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
    api_url: so.ApiUrlOption = None,
    output_dir: Annotated[Optional[str], typer.Option("--output-dir", "-o", help="Where outputs go (default ./mvflow_output); the plan goes in the song's folder there.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print plan.json instead of the readable plan.")] = False,
    show_prompt: Annotated[bool, typer.Option("--show-prompt", help="Print the songwriting prompt template (to copy and edit for --songwriter-prompt) and stop.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Write a song plan from an idea and print it: title, caption, lyrics, bpm, key, time signature, length.

    Saves plan.json and lyrics.txt, and prints the `mvflow make` command that makes the video from the lyrics (edit them first if you like). The songwriter is chosen as `mvflow make --idea` chooses it.
    """
    DEBUG["on"] = debug
    flags = {k: v for k, v in locals().items() if k not in ("as_json", "show_prompt", "debug") and v is not None}
    from mvflow.errors import SongwriterError
    from mvflow.flows.spec import spec_from, write_params
    from mvflow.songwriting import make_plan

    with one_line_errors(retried=False):
        if show_prompt:
            print_prompt(songwriter_prompt)
            return
        idea_in, options, folder = write_params(spec_from(flags))
        console.print(f"[bold]mvflow[/] writing a song plan with [green]{options.provider}[/] ({options.model})")
        try:
            plan = make_plan(idea_in, folder, options, warn=lambda text: console.print(f"[yellow]{text}[/]"))
        except SongwriterError as exc:
            for problem in exc.problems:
                console.print(f"[bold red]problem:[/] {problem}")
            fail(str(exc).split(":", 1)[0] + ": see the problems above")
    if as_json:
        print(json.dumps(json.loads(open(plan.plan_file.path, encoding="utf-8").read()), indent=2, ensure_ascii=False))
    else:
        print(readable(plan))
    console.print(f"plan: {plan.plan_file.path}\nlyrics: {plan.lyrics_file.path}\n"
                  "edit the lyrics if you like, then make the video with:\n  " + make_command(plan))


def print_prompt(path) -> None:  # noqa: ANN001 - a Path or None
    """The template in force (the user's file, else the configured one, else the bundled one) on stdout."""
    from mvflow.settings import load_settings
    from mvflow.songwriting.prompt import template_text

    print(template_text(path or load_settings().songwriter_prompt), end="")


def readable(plan: SongPlan) -> str:
    """The plan as a person reads it: the facts, then the lyric sheet."""
    repaired = ", after one repair" if plan.repaired else ""
    notes = "".join(f"\nNote:      {note}" for note in plan.notes)
    return (f"Title:     {plan.title}\nCaption:   {plan.caption}\n"
            f"Music:     {plan.duration:g} s, {plan.bpm} bpm, {plan.key_scale}, time signature {plan.time_signature}, "
            f"sung in {plan.language}{' (instrumental)' if plan.instrumental else ''}\n"
            f"Written by {plan.provider} ({plan.model}){repaired}{notes}\n\n{plan.lyrics}\n")


def make_command(plan: SongPlan) -> str:
    """The `mvflow make` line that makes this plan's video from its lyrics file (edited or not)."""
    parts = ["mvflow", "make", "--lyrics", plan.lyrics_file.path, "--caption", plan.caption, "--title", plan.title,
             "--duration", f"{plan.duration:g}", "--bpm", str(plan.bpm), "--key", plan.key_scale,
             "--time-signature", plan.time_signature, "--language", plan.language]
    if plan.instrumental:
        parts = parts[:2] + parts[4:]  # no lyrics to sing
    return shlex.join(parts)


def register(app: typer.Typer) -> None:
    """Add `write` to the mvflow command."""
    app.command()(write)
