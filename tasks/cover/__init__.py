"""Step 3 — the cover: a video-aspect background and a square cover, from the chosen provider."""

from __future__ import annotations

import logging
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from mvflow.errors import PermanentError
from mvflow.files import atomic_path, step_dir
from mvflow.models import Cover, CoverOptions, FileArtifact
from mvflow.registry import Registry
from mvflow.retries import STEP_CACHE_POLICY, retry_options

#: A provider maps (caption, title, seed, (width, height), options) to a PIL image.
PROVIDERS = Registry("cover provider", {
    "local": "mvflow.cover.providers:local_cover",
    "gemini": "mvflow.cover.providers:gemini_cover",
    "image": "mvflow.cover.providers:user_image_cover",
})


def choose_cover_provider(name: str) -> str:
    """'auto' -> 'gemini' when a Gemini key is configured, else the offline 'local' covers."""
    from mvflow.settings import api_key

    if name != "auto":
        PROVIDERS.get(name)  # an unknown name fails here, before any work, naming the choices
        return name
    return "gemini" if api_key("gemini") else "local"


def save_png(image, path: Path) -> FileArtifact:  # noqa: ANN001 - PIL.Image
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=False)
    return FileArtifact.from_path(path)


def draw_both(caption: str, title: str, seed: int, options: CoverOptions, provider: str):  # noqa: ANN201
    """(background at the video's size, square cover) from one provider."""
    draw = PROVIDERS.get(provider)
    background = draw(caption, title, seed, (options.width, options.height), options)
    square = draw(caption, title, seed, (options.square_size, options.square_size), options)
    return background, square


def make_cover(caption: str, title: str, seed: int, out_dir: Path | str, options: CoverOptions) -> Cover:
    """Render the background and the square cover into an input-hashed folder.

    With `options.fallback == "local"` a provider failure (blocked, unavailable, bad request)
    falls back to the procedural cover, and Cover.provider says so; otherwise it fails the step.
    """
    folder = step_dir(out_dir, "cover", caption, title, seed, options)
    provider = options.provider
    try:
        background, square = draw_both(caption, title, seed, options, provider)
    except (PermanentError, ConnectionError) as exc:
        if options.fallback != "local" or provider == "local":
            raise
        logging.getLogger(__name__).warning("cover provider %s failed (%s); using the local cover", provider, exc)
        provider = f"local (fallback from {options.provider})"
        background, square = draw_both(caption, title, seed, options, "local")
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
