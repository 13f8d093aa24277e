"""`mvflow thumbnail`: make a cover image on its own, without the rest of the flow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from mvflow.cli.common import console, fail
from mvflow.cover import provider_help

#: Output size for each aspect the renderer supports.
ASPECT_SIZES = {"16:9": (1920, 1080), "1:1": (1024, 1024), "9:16": (1080, 1920)}


def thumbnail(
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="What the song is: genre, mood, scene (e.g. 'sad piano ballad, rainy evening').")],
    title: Annotated[str, typer.Option(help="The song's title: its themes steer the image (never drawn as text).")] = "",
    aspect: Annotated[str, typer.Option(help="16:9 (1920x1080), 1:1 (1024x1024) or 9:16 (1080x1920).")] = "16:9",
    provider: Annotated[str, typer.Option(help=f"{provider_help()}.")] = "local",
    seed: Annotated[int, typer.Option(help="Same seed, same local cover.")] = 0,
    model: Annotated[Optional[str], typer.Option(help="Gemini image model (default gemini-3.1-flash-image, with fallbacks).")] = None,
    raw_prompt: Annotated[bool, typer.Option("--raw-prompt", help="Gemini: send --prompt as is instead of building the cover prompt from it.")] = False,
    fallback: Annotated[Optional[str], typer.Option(help="'local': use the procedural cover if Gemini fails.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("thumbnail.png"),
) -> None:
    """Make a cover image (no song, no video) and print where it is."""
    from mvflow.cover import draw_cover, save_png
    from mvflow.errors import PermanentError
    from mvflow.models import CoverOptions

    if aspect not in ASPECT_SIZES:
        fail(f"--aspect must be one of {', '.join(ASPECT_SIZES)}")
    size = ASPECT_SIZES[aspect]
    options = CoverOptions(provider=provider, width=size[0], height=size[1], model=model,
                           prompt=prompt if raw_prompt else None, fallback=fallback)
    try:
        [image], _ = draw_cover(prompt, title, seed, [size], options, warn=_warn)
    except (PermanentError, ConnectionError, ValueError) as exc:
        fail(str(exc))
    print(save_png(image, output).path)


def _warn(message: str) -> None:
    console.print(f"[yellow]warning:[/] {escape(message)}")


def register(app: typer.Typer) -> None:
    """Add `thumbnail` to the mvflow command."""
    app.command()(thumbnail)
