"""Step 3 — the cover: a video-aspect background and a square cover, from the chosen provider."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from tasks.artifacts import STEP_CACHE_POLICY, STEP_RETRY_OPTIONS, atomic_path, retry_only_transient, step_dir
from tasks.models import Cover, CoverOptions, FileArtifact
from tasks.registry import Registry

#: A provider maps (caption, title, seed, (width, height)) to a PIL image.
PROVIDERS = Registry("cover provider", {"local": "tasks.thumbnail.procedural:procedural_cover"})


def save_png(image, path: Path) -> FileArtifact:  # noqa: ANN001 - PIL.Image
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG", optimize=False)
    return FileArtifact.from_path(path)


def make_cover(caption: str, title: str, seed: int, out_dir: Path | str, options: CoverOptions) -> Cover:
    """Render the background (video aspect) and the square cover into an input-hashed folder."""
    draw = PROVIDERS.get(options.provider)
    folder = step_dir(out_dir, "cover", caption, title, seed, options)
    background = draw(caption, title, seed, (options.width, options.height))
    square = draw(caption, title, seed, (options.square_size, options.square_size))
    return Cover(
        background=save_png(background, folder / "cover.png"),
        square=save_png(square, folder / "cover_square.png"),
        provider=options.provider,
    )


@task(
    name="make_thumbnail",
    task_run_name="make_thumbnail [{options.provider}]",
    cache_policy=STEP_CACHE_POLICY,
    retry_condition_fn=retry_only_transient,
    **STEP_RETRY_OPTIONS,
)
def make_thumbnail(caption: str, title: str, seed: int, out_dir: str, options: CoverOptions) -> Cover:
    get_run_logger().info("making the cover with provider %r", options.provider)
    return make_cover(caption, title, seed, out_dir, options)
