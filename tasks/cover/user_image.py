"""Fitting any picture (the user's --cover, or a generated image) to an exact output size.

A cover is shown at 16:9, 1:1 or a style's own aspect, and the source rarely has that shape.
Both modes scale uniformly, so a circle stays a circle: "crop" fills the frame and trims the
overhang around the centre (best for photos and generated art); "fit" shows the whole
picture over a blurred, dimmed copy of itself instead of black bars (best for album art whose
edges matter). Nothing is ever stretched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from PIL import Image, ImageEnhance, ImageFilter, ImageOps, UnidentifiedImageError

from mvflow.errors import PermanentError

FitMode = Literal["crop", "fit"]
FIT_MODES: tuple[str, ...] = ("crop", "fit")

#: The "fit" backdrop: blur radius as a fraction of the longer side, brightness kept, work scale.
BACKDROP_BLUR = 1 / 30
BACKDROP_BRIGHTNESS = 0.45
BACKDROP_SHRINK = 8


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB with any transparency composited over black (a plain convert would expose whatever
    colour the transparent pixels happen to hold)."""
    if image.mode == "RGB":
        return image
    if "A" in image.getbands() or "transparency" in image.info:
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return image.convert("RGB")


def fit_image(image: Image.Image, size: tuple[int, int], mode: FitMode = "crop") -> Image.Image:
    """`image` as an RGB picture of exactly `size`, scaled uniformly ("crop" or "fit", see module doc)."""
    if mode not in FIT_MODES:
        raise PermanentError(f"unknown cover fit mode {mode!r}; choose one of: {', '.join(FIT_MODES)}")
    width, height = size
    if width < 1 or height < 1:
        raise ValueError(f"cover size must be positive, got {width}x{height}")
    rgb = to_rgb(image)
    if mode == "crop":
        return ImageOps.fit(rgb, size, method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    canvas = _backdrop(rgb, size)
    inner = ImageOps.contain(rgb, size, method=Image.Resampling.LANCZOS)
    canvas.paste(inner, ((width - inner.width) // 2, (height - inner.height) // 2))
    return canvas


def _backdrop(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """A blurred, dimmed, frame-filling copy of `image`. Blurred at 1/BACKDROP_SHRINK scale and
    scaled up: a blur hides the difference, and full-HD blurs cost ten times more."""
    small = (max(1, size[0] // BACKDROP_SHRINK), max(1, size[1] // BACKDROP_SHRINK))
    blurred = ImageOps.fit(image, small, method=Image.Resampling.BOX).filter(
        ImageFilter.GaussianBlur(max(1.0, max(small) * BACKDROP_BLUR))
    )
    backdrop = blurred.resize(size, Image.Resampling.BICUBIC)
    return ImageEnhance.Brightness(backdrop).enhance(BACKDROP_BRIGHTNESS)


def load_user_image(path: Path | str, min_side: int = 256) -> Image.Image:
    """The user's own cover image, decoded, upright (EXIF orientation applied) and RGB.

    Every problem is one PermanentError line naming the file and the fix: a picture smaller than
    `min_side` on its shorter side would be blown up into a blurry video background.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise PermanentError(f"cover image {p} does not exist: check the --cover path")
    if not p.is_file():
        raise PermanentError(f"cover image {p} is not a file: give --cover a PNG, JPEG or WebP image")
    image = _decode(p)
    if min(image.size) < min_side:
        raise PermanentError(
            f"cover image {p} is {image.width}x{image.height} pixels, too small: "
            f"its shorter side needs at least {min_side} pixels"
        )
    return to_rgb(image)


def _decode(path: Path) -> Image.Image:
    """Open and fully decode (so a truncated file fails here, not halfway through a render)."""
    try:
        with Image.open(path) as opened:
            opened.load()
            return ImageOps.exif_transpose(opened)
    except Image.DecompressionBombError as exc:
        raise PermanentError(
            f"cover image {path} is unreasonably large ({exc}); use a smaller image"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        reason = (
            "not an image format Pillow can read" if isinstance(exc, UnidentifiedImageError) else str(exc)
        )
        raise PermanentError(
            f"cannot read cover image {path}: {reason}; use a PNG, JPEG or WebP file"
        ) from None
