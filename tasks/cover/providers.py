"""Cover providers behind one signature: (caption, title, seed, (width, height), options) -> PIL image.

The registry in tasks/thumbnail/__init__.py names these adapters; each binds the options its
provider understands, so the step never branches on the provider's name.
"""

from __future__ import annotations

from PIL import Image

from mvflow.models import CoverOptions


def local_cover(caption: str, title: str, seed: int, size: tuple[int, int], options: CoverOptions) -> Image.Image:
    from mvflow.cover.procedural import procedural_cover

    return procedural_cover(caption, title, seed, size)


def gemini_cover(caption: str, title: str, seed: int, size: tuple[int, int], options: CoverOptions) -> Image.Image:
    from mvflow.cover import gemini

    return gemini.gemini_cover(caption, title, seed, size, prompt=options.prompt, model=options.model)


def user_image_cover(
    caption: str, title: str, seed: int, size: tuple[int, int], options: CoverOptions
) -> Image.Image:
    """The user's own picture, cropped to fill or fitted over a blurred copy: never stretched."""
    from mvflow.cover.user_image import fit_image, load_user_image

    if options.image is None:
        raise ValueError("cover provider 'image' needs a picture: pass --cover image.png")
    return fit_image(load_user_image(options.image.path), size, mode=options.fit)  # type: ignore[arg-type]
