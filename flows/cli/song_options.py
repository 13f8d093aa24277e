"""The song options `mvflow make` and `mvflow write` share, defined once: what the song is, and who writes it.

Each option is a Typer `Annotated` type (use it as a parameter's annotation; None = not given,
so settings and defaults decide). The songwriter options (`--idea` and its constraints, and
`--songwriter`, `--songwriter-model`, `--songwriter-url`, `--songwriter-prompt`) are what the
songwriting step reads (mvflow.songwriting); the others are the song's own fields, which a
songwriter's plan never overrides when given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from mvflow.song.engines import ENGINES
from mvflow.songwriting.providers import songwriter_help

CaptionOption = Annotated[Optional[str], typer.Option(
    "--caption", "-c", help="Style of the song, e.g. 'dreamy synthwave, female vocal'.")]
TitleOption = Annotated[Optional[str], typer.Option(
    "--title", "-t", help="Video title (default: the songwriter's, or derived from the caption).")]
DurationOption = Annotated[Optional[float], typer.Option(help="Song length in seconds (default 30; with --idea the plan's).")]
BpmOption = Annotated[Optional[int], typer.Option(help="Tempo in beats per minute (default: chosen from the caption or the plan).")]
KeyOption = Annotated[Optional[str], typer.Option("--key", help="Key and scale, e.g. 'A minor', 'F# major'.")]
TimeSignatureOption = Annotated[Optional[str], typer.Option(help="Beats per bar: 2, 3, 4 or 6 (also 3/4, 4/4, 6/8).")]
LanguageOption = Annotated[Optional[str], typer.Option(help="Vocal language code, e.g. en, es, ja.")]
SeedOption = Annotated[Optional[int], typer.Option(help="Same seed, same song and same plan (default: derived from the request).")]
VocalStyleOption = Annotated[Optional[str], typer.Option(
    help="Built-in engine: spoken (default: words on the beat) or sung (held notes, glides, vibrato).")]
MixOption = Annotated[Optional[str], typer.Option(
    help="Built-in engine: light (default: the band ducked under a dry voice) or dense (the band as loud as "
         "the voice, a lead and pad in its range, a room: sounds produced).")]
SkipLinesOption = Annotated[Optional[str], typer.Option(
    help="Built-in engine: lyric lines the singer skips, e.g. 2,7 (1-based, lines with words; their bars play "
         "without a voice, as generated vocals sometimes do).")]
EngineOption = Annotated[Optional[str], typer.Option(help=f"Song engine: {ENGINES.help()}.")]
ApiUrlOption = Annotated[Optional[str], typer.Option(
    help="ACE-Step server URL (default http://127.0.0.1:8001). Key: $ACESTEP_API_KEY.")]

IdeaOption = Annotated[Optional[str], typer.Option(
    "--idea", "-i", help="What the song is about: a songwriter writes the title, caption, lyrics and music parameters "
                         "(instead of --lyrics). See docs/songwriting.md.")]
MoodOption = Annotated[Optional[str], typer.Option("--mood", help="With --idea: the mood, e.g. 'bittersweet'.")]
VocalOption = Annotated[Optional[str], typer.Option("--vocal", help="With --idea: who sings, female or male.")]
InstrumentalOption = Annotated[Optional[bool], typer.Option(
    "--instrumental", help="With --idea: no vocals (the plan has only intro, instrumental and outro parts).")]
SongwriterOption = Annotated[Optional[str], typer.Option(
    "--songwriter", help=f"Who writes the plan for --idea: {songwriter_help()}.")]
SongwriterModelOption = Annotated[Optional[str], typer.Option(
    "--songwriter-model", help="The songwriter's chat model (default gpt-4o-mini on OpenAI; a local server's only model).")]
SongwriterUrlOption = Annotated[Optional[str], typer.Option(
    "--songwriter-url", help="Base URL of an OpenAI-compatible server for the songwriter, e.g. "
                             "http://localhost:11434/v1 (Ollama). Its key, if any: $MVFLOW_SONGWRITER_API_KEY.")]
SongwriterPromptOption = Annotated[Optional[Path], typer.Option(
    "--songwriter-prompt", help="Your own songwriting prompt template (start from `mvflow write --show-prompt`).")]
