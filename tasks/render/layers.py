"""Pre-rendered overlays (premultiplied YUVA) and the backgrounds they sit on.

Everything here runs once per video (or once per lyric line), never per frame: Pillow
draws in RGBA, the result is converted to premultiplied YUV with integer inverse alpha,
and the per-frame code only copies or blends those arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from mvflow.render.yuv import CHROMA, LUMA, Box, Planes, even_floor, rgb_to_yuv_float

# Alpha is stored as a' in [0, 256] so a blend is `pm + (bg * (256 - a') >> 8)` in uint16,
# exact for a'=0 (bg untouched) and a'=256 (bg replaced).
_ALPHA_SHIFT = 8
_ALPHA_ONE = 1 << _ALPHA_SHIFT


@dataclass
class Layer:
    """A premultiplied YUVA image at a fixed place in the frame."""

    box: Box
    y_pm: np.ndarray
    uv_pm: np.ndarray  # (2, h/2, w/2)
    inv_alpha: np.ndarray  # uint16, full resolution: 256 - a'
    inv_alpha_half: np.ndarray  # uint16, (1, h/2, w/2): mean of each 2x2 block, shared by U and V

    @classmethod
    def from_rgba(cls, image: Image.Image, x: int, y: int) -> Layer | None:
        """Convert a Pillow RGBA image whose top-left sits at frame pixel (x, y), both even.

        The image is trimmed to its visible pixels first (blending transparent pixels is
        wasted work); None when nothing is visible.
        """
        if x % 2 or y % 2:
            raise ValueError("layers must be placed at even coordinates")
        if image.mode != "RGBA":
            image = image.convert("RGBA")
        bbox = image.getchannel("A").getbbox()
        if bbox is None:
            return None
        left, top = even_floor(bbox[0]), even_floor(bbox[1])
        right, bottom = bbox[2] + bbox[2] % 2, bbox[3] + bbox[3] % 2
        trimmed = image.crop((left, top, right, bottom))  # Pillow pads past the edge with transparency
        return cls._from_premultiplied(trimmed.convert("RGBa"), Box(x + left, y + top, x + right, y + bottom))

    @classmethod
    def _from_premultiplied(cls, image: Image.Image, box: Box) -> Layer:
        """From a premultiplied RGBA image (Pillow's "RGBa").

        The colour transform is affine, so premultiplied YUV comes straight out of it; and
        chroma is converted from the 2x2 averages of premultiplied RGB (Pillow's reduce),
        which weights each edge pixel by its coverage.
        """
        rgba = np.asarray(image, dtype=np.float32)
        rgba_half = np.asarray(image.reduce(2), dtype=np.float32)
        alpha, alpha_half = rgba[..., 3] / 255.0, rgba_half[..., 3] / 255.0
        y_pm = rgb_to_yuv_float(rgba[..., :3], LUMA, alpha)[..., 0]
        uv_pm = np.moveaxis(rgb_to_yuv_float(rgba_half[..., :3], CHROMA, alpha_half), -1, 0)
        return cls(
            box=box,
            y_pm=_floor_u8(y_pm),
            uv_pm=_floor_u8(uv_pm),
            inv_alpha=(_ALPHA_ONE - np.rint(alpha * _ALPHA_ONE)).astype(np.uint16),
            inv_alpha_half=(_ALPHA_ONE - np.rint(alpha_half * _ALPHA_ONE)).astype(np.uint16)[None],
        )

    def blend_into(self, target: Planes, target_box: Box) -> None:
        """Blend this layer over `target`, an image covering `target_box` of the frame."""
        x0, y0 = max(self.box.x0, target_box.x0), max(self.box.y0, target_box.y0)
        x1, y1 = min(self.box.x1, target_box.x1), min(self.box.y1, target_box.y1)
        if x0 >= x1 or y0 >= y1:
            return
        overlap = Box(x0, y0, x1, y1)
        dst = target.crop(overlap.relative_to(target_box))
        src = overlap.relative_to(self.box)
        full = (slice(src.y0, src.y1), slice(src.x0, src.x1))
        half = (slice(None), slice(src.y0 // 2, src.y1 // 2), slice(src.x0 // 2, src.x1 // 2))
        _blend_plane(dst.y, self.y_pm[full], self.inv_alpha[full])
        _blend_plane(dst.uv, self.uv_pm[half], self.inv_alpha_half[half])


def _floor_u8(value: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(value), 0, 255).astype(np.uint8)


def _blend_plane(dst: np.ndarray, pm: np.ndarray, inv_alpha: np.ndarray) -> None:
    acc = dst.astype(np.uint16)
    acc *= inv_alpha
    acc >>= _ALPHA_SHIFT
    acc += pm
    np.minimum(acc, 255, out=acc)  # rounding of a' can overshoot by one at faint edges
    np.copyto(dst, acc, casting="unsafe")


# ---------------------------------------------------------------- backgrounds


def load_cover(path: Path) -> Image.Image:
    """Open a cover image as RGB, turning unreadable files into one clear error."""
    try:
        with Image.open(path) as img:
            return img.convert("RGB")
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read cover image {path}: {exc}") from exc


def cover_fill(cover: Image.Image, width: int, height: int) -> Image.Image:
    """Scale the cover to cover the whole frame and crop the overflow: never stretched."""
    return ImageOps.fit(cover, (width, height), Image.Resampling.LANCZOS, centering=(0.5, 0.5))


def shade_map(width: int, height: int, dim: float) -> np.ndarray:
    """(H, W, 1) brightness multipliers: overall dim, a vignette, and darker top/bottom bands.

    The bands sit behind the title and the spectrum bars, so both read on any artwork.
    """
    ys = (np.arange(height, dtype=np.float32) + 0.5) / height
    xs = (np.arange(width, dtype=np.float32) + 0.5) / width
    bottom = 1.0 - 0.55 * _smoothstep((ys - 0.62) / 0.38)
    top = 1.0 - 0.30 * _smoothstep((0.30 - ys) / 0.30)
    dx, dy = (xs[None, :] - 0.5) * 2, (ys[:, None] - 0.5) * 2
    vignette = 1.0 - 0.35 * np.clip((dx * dx + dy * dy) / 2.0, 0, 1) ** 1.5
    return (dim * vignette * (bottom * top)[:, None])[..., None].astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def cover_background(cover: Image.Image, width: int, height: int, dim: float, blur: float,
                     fit: str = "crop") -> np.ndarray:
    """The frame's backdrop from a cover: filled, optionally blurred, shaded. (H, W, 3) float.

    "crop" fills the frame (a blurred backdrop is made at half size and scaled up: the blur
    hides the difference and it costs a quarter of the work); "fit" shows the whole cover
    over a blurred copy of itself. Neither ever stretches the picture.
    """
    if fit == "fit":
        from mvflow.cover.user_image import fit_image

        filled = fit_image(cover, (width, height), mode="fit")
    elif blur > 0:
        half = cover_fill(cover, max(2, width // 2), max(2, height // 2)).filter(ImageFilter.GaussianBlur(blur / 2))
        filled = half.resize((width, height), Image.Resampling.BICUBIC)
    else:
        filled = cover_fill(cover, width, height)
    return np.asarray(filled, dtype=np.float32) * shade_map(width, height, dim)


def gradient_texture(
    width: int, height: int, colors: list[tuple[int, int, int]], seed: int = 7
) -> np.ndarray:
    """A soft multi-colour wash (H, W, 3 float): a few big blurred blobs on a dark base."""
    rng = np.random.default_rng(seed)
    small_w, small_h = 48, max(2, round(48 * height / width))
    ys, xs = np.mgrid[0:small_h, 0:small_w].astype(np.float32)
    canvas = np.full((small_h, small_w, 3), 14.0, dtype=np.float32)
    for i in range(7):
        color = np.array(colors[i % len(colors)], dtype=np.float32)
        cx, cy = rng.uniform(0, small_w), rng.uniform(0, small_h)
        radius = rng.uniform(0.25, 0.5) * small_w
        weight = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius * radius))[..., None]
        canvas = canvas * (1 - 0.55 * weight) + color * 0.55 * weight
    image = Image.fromarray(np.clip(canvas, 0, 255).astype(np.uint8)).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    return np.asarray(image.filter(ImageFilter.GaussianBlur(max(1, width / 200))), dtype=np.float32)


class StaticBackground:
    """A backdrop that never changes: composed (with its overlays) once."""

    def __init__(self, rgb: np.ndarray, overlays: list[Layer]):
        self._planes = Planes.from_rgb(rgb)
        frame_box = Box(0, 0, self._planes.width, self._planes.height)
        for layer in overlays:
            layer.blend_into(self._planes, frame_box)

    def at(self, index: int) -> tuple[Planes, int]:
        """(backdrop for frame `index`, version); the version changes when the pixels do."""
        return self._planes, 0


class DriftingBackground:
    """A backdrop that slowly drifts over a larger texture (the 'animated gradient').

    The offset moves in whole even pixels along a slow Lissajous path, so most frames
    reuse the previous backdrop unchanged, and a moved one is a pure translation, which
    x264 encodes almost for free (every macroblock predicts with the same vector).
    """

    def __init__(self, texture_rgb: np.ndarray, width: int, height: int, fps: int, overlays: list[Layer],
                 periods: tuple[float, float] = (45.0, 31.0)):
        self._periods = periods
        self._texture = Planes.from_rgb(texture_rgb)
        self._width, self._height, self._fps = width, height, fps
        self._margin_x = (self._texture.width - width) // 2
        self._margin_y = (self._texture.height - height) // 2
        self._overlays = overlays
        self._frame = Planes.allocate(width, height)
        self._offset: tuple[int, int] | None = None
        self._version = -1

    def offset_at(self, index: int) -> tuple[int, int]:
        """Texture offset for a frame: a slow Lissajous path (a few px per second), so the
        backdrop (and everything cached over it) is refreshed only a few times a second."""
        t = index / self._fps
        dx = self._margin_x * (1 + math.sin(2 * math.pi * t / self._periods[0]))
        dy = self._margin_y * (1 + math.sin(2 * math.pi * t / self._periods[1] + 1.3))
        return even_floor(dx), even_floor(dy)

    def at(self, index: int) -> tuple[Planes, int]:
        offset = self.offset_at(index)
        if offset != self._offset:
            self._offset = offset
            self._version += 1
            dx, dy = offset
            self._frame.assign(self._texture.crop(Box(dx, dy, dx + self._width, dy + self._height)))
            frame_box = Box(0, 0, self._width, self._height)
            for layer in self._overlays:
                layer.blend_into(self._frame, frame_box)
        return self._frame, self._version


class ZoomingBackground:
    """A slow "breathing" zoom into an oversized backdrop (Ken Burns), `rate` updates a second.

    A zoom changes every pixel, so each update resamples the whole frame: the Y, U and V
    planes are resized directly from a window of the pre-converted texture (Pillow, "L"
    images, sub-pixel window), which skips the RGB->YUV conversion. Between updates the
    backdrop holds, so the parts over it redraw only `rate` times a second; at 10 updates a
    second a 6% zoom over a minute moves the frame edge by well under a pixel per update.
    """

    def __init__(self, texture_rgb: np.ndarray, width: int, height: int, fps: int, overlays: list[Layer],
                 travel: float, period: float, rate: float = 10.0):
        planes = Planes.from_rgb(texture_rgb)
        self._y = Image.fromarray(planes.y)
        self._u, self._v = (Image.fromarray(np.ascontiguousarray(c)) for c in planes.uv)
        self._width, self._height, self._fps = width, height, fps
        self._travel, self._period = travel, period
        self._step = max(1, round(fps / rate))
        self._overlays = overlays
        self._frame = Planes.allocate(width, height)
        self._shown = -1

    def scale_at(self, index: int) -> float:
        """How far in the zoom is at frame `index`: 0 (the whole texture) to 1 (1:1 pixels)."""
        t = (index // self._step * self._step) / self._fps
        return 0.5 - 0.5 * math.cos(2 * math.pi * t / self._period)

    def _window(self, image: Image.Image, scale: float) -> tuple[float, float, float, float]:
        tex_w, tex_h = image.size
        out_w = self._width * tex_w / self._y.width  # this plane's frame size (chroma: half)
        out_h = self._height * tex_h / self._y.height
        w = tex_w + (out_w - tex_w) * scale
        h = tex_h + (out_h - tex_h) * scale
        x0, y0 = (tex_w - w) / 2, (tex_h - h) / 2
        return x0, y0, x0 + w, y0 + h

    def at(self, index: int) -> tuple[Planes, int]:
        version = index // self._step
        if version != self._shown:
            self._shown = version
            scale = self.scale_at(index)
            size = (self._width, self._height)
            half = (self._width // 2, self._height // 2)
            self._frame.y[:] = np.asarray(self._y.resize(size, Image.Resampling.BILINEAR,
                                                         box=self._window(self._y, scale)))
            for plane, image in zip(self._frame.uv, (self._u, self._v), strict=True):
                plane[:] = np.asarray(image.resize(half, Image.Resampling.BILINEAR, box=self._window(image, scale)))
            frame_box = Box(0, 0, self._width, self._height)
            for layer in self._overlays:
                layer.blend_into(self._frame, frame_box)
        return self._frame, self._shown


def art_picture(cover: Image.Image, side: int, shadow: int) -> Image.Image:
    """The cover as a square picture (centre crop, never stretched) with rounded corners and
    a soft drop shadow, on a transparent canvas `shadow` pixels larger on every side."""
    s = min(cover.size)
    square = cover.convert("RGB").crop(((cover.width - s) // 2, (cover.height - s) // 2,
                                        (cover.width + s) // 2, (cover.height + s) // 2))
    art = square.resize((side, side), Image.Resampling.LANCZOS).convert("RGBA")
    radius = max(2, side // 28)
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).rounded_rectangle((0, 0, side - 1, side - 1), radius=radius, fill=255)
    art.putalpha(mask)
    size = (side + 2 * shadow, side + 2 * shadow)
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    if shadow > 0:
        drop = Image.new("L", size, 0)
        drop_y = shadow + shadow // 3
        ImageDraw.Draw(drop).rounded_rectangle((shadow, drop_y, shadow + side, drop_y + side), radius=radius, fill=170)
        canvas = Image.new("RGBA", size, (0, 0, 0, 255))
        canvas.putalpha(drop.filter(ImageFilter.GaussianBlur(shadow / 2.5)))
    canvas.alpha_composite(art, (shadow, shadow))
    return canvas
