"""Step 3 — the cover: a video-aspect background and a square cover, from the chosen provider."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prefect import task
from prefect.logging import get_run_logger

from mvflow.cover.providers import CoverProvider
from mvflow.errors import PermanentError
from mvflow.files import atomic_path, step_dir
from mvflow.models import Cover, CoverOptions, FileArtifact
from mvflow.registry import Registry, auto_help
from mvflow.retries import STEP_CACHE_POLICY, retry_options

if TYPE_CHECKING:
    from PIL import Image

PROVIDERS: Registry[CoverProvider] = Registry(CoverProvider, {
    "local": "mvflow.cover.providers:LOCAL",
    "gemini": "mvflow.cover.providers:GEMINI",
    "image": "mvflow.cover.providers:IMAGE",
})
AUTO = "auto"
#: What "auto" tries, best first: the first whose key is set (local needs none, so it always can).
AUTO_ORDER = ("gemini", "local")


def choose_cover_provider(name: str) -> str:
    """'auto' -> 'gemini' when a Gemini key is configured, else the offline 'local' covers."""
    if name != AUTO:
        PROVIDERS.get(name)  # an unknown name fails here, before any work, naming the choices
        return name
    return PROVIDERS.first_with_key(AUTO_ORDER)


def provider_help(with_auto: bool = False) -> str:
    """The providers a user picks by name (not the user's own picture: --cover picks that), for --help;
    `with_auto` puts "auto" and its rule first."""
    named = PROVIDERS.help(where=lambda provider: not provider.uses_picture)
    return f"{auto_help(AUTO_ORDER)}, {named}" if with_auto else named


def save_png(image, path: Path) -> FileArtifact:  # noqa: ANN001 - PIL.Image
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=False)
    return FileArtifact.from_path(path)


def draw_all(caption: str, title: str, seed: int, sizes: Sequence[tuple[int, int]], options: CoverOptions,
             provider: str) -> list[Image.Image]:
    """One picture per size (the video's background, the square cover...) from one provider."""
    draw = PROVIDERS.get(provider).draw
    return [draw(caption, title, seed, size, options) for size in sizes]


def draw_cover(caption: str, title: str, seed: int, sizes: Sequence[tuple[int, int]], options: CoverOptions,
               warn: Callable[[str], None] | None = None) -> tuple[list[Image.Image], str]:
    """(one picture per size, which provider made them), with the one fallback rule of every cover.

    With `options.fallback` naming another provider ("local"), a failure of the chosen one
    (blocked, unavailable, bad request) is said through `warn` (default: the log) and the
    fallback draws instead; the provider then reads "local (fallback from gemini)". Without a
    fallback, or when the fallback itself failed, the error goes up and fails the step.
    """
    try:
        return draw_all(caption, title, seed, sizes, options, options.provider), options.provider
    except (PermanentError, ConnectionError) as exc:
        if options.fallback is None or options.fallback == options.provider:
            raise
        (warn or logging.getLogger(__name__).warning)(
            f"cover provider {options.provider} failed ({exc}); using the {options.fallback} cover")
    pictures = draw_all(caption, title, seed, sizes, options, options.fallback)
    return pictures, f"{options.fallback} (fallback from {options.provider})"


def make_cover(caption: str, title: str, seed: int, out_dir: Path | str, options: CoverOptions) -> Cover:
    """Render the background and the square cover into an input-hashed folder (see `draw_cover`)."""
    folder = step_dir(out_dir, "cover", caption, title, seed, options)
    sizes = [(options.width, options.height), (options.square_size, options.square_size)]
    (background, square), provider = draw_cover(caption, title, seed, sizes, options)
    return Cover(
        background=save_png(background, folder / "cover.png"),
        square=save_png(square, folder / "cover_square.png"),
        provider=provider,
    )


@task(
    name="make_thumbnail",
    task_run_name="make_thumbnail [{options.provider}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def make_thumbnail(caption: str, title: str, seed: int, out_dir: str, options: CoverOptions) -> Cover:
    get_run_logger().info("making the cover with provider %r", options.provider)
    return make_cover(caption, title, seed, out_dir, options)
