"""Pre-rendered overlays (premultiplied YUVA) and the backgrounds they sit on.

Everything here runs once per video (or once per lyric line), never per frame: Pillow
draws in RGBA, the result is converted to premultiplied YUV with integer inverse alpha,
and the per-frame code only copies or blends those arrays.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from tasks.render.yuv import Box, Planes, downsample2, even_floor, rgb_to_yuv_float

# Alpha is stored as a' in [0, 256] so a blend is `pm + (bg * (256 - a') >> 8)`: exact for
# a'=0 and a'=256, and never above 255 because pm is floored at the same scale.
_ALPHA_ONE = 256


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
        image = image.convert("RGBA")
        bbox = image.getchannel("A").getbbox()
        if bbox is None:
            return None
        left, top = even_floor(bbox[0]), even_floor(bbox[1])
        right, bottom = bbox[2] + bbox[2] % 2, bbox[3] + bbox[3] % 2
        padded = Image.new("RGBA", (right - left, bottom - top), (0, 0, 0, 0))
        padded.paste(image.crop((left, top, min(right, image.width), min(bottom, image.height))), (0, 0))
        rgba = np.asarray(padded, dtype=np.float32)
        return cls._from_array(rgba, Box(x + left, y + top, x + right, y + bottom))

    @classmethod
    def _from_array(cls, rgba: np.ndarray, box: Box) -> Layer:
        alpha = rgba[..., 3] / 255.0
        yuv = rgb_to_yuv_float(rgba[..., :3])
        alpha_half = downsample2(alpha)
        # Chroma is averaged weighted by alpha (premultiplied, then un-premultiplied), which
        # keeps antialiased edges from picking up the colour of invisible pixels.
        weight = np.maximum(alpha_half, 1e-6)
        u_half = downsample2(yuv[..., 1] * alpha) / weight
        v_half = downsample2(yuv[..., 2] * alpha) / weight
        a_full = np.rint(alpha * _ALPHA_ONE)
        a_half = np.rint(alpha_half * _ALPHA_ONE)
        return cls(
            box=box,
            y_pm=_premultiply(yuv[..., 0], a_full),
            uv_pm=_premultiply(np.stack([u_half, v_half]), a_half[None]),
            inv_alpha=(_ALPHA_ONE - a_full).astype(np.uint16),
            inv_alpha_half=(_ALPHA_ONE - a_half).astype(np.uint16)[None],
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


def _premultiply(value: np.ndarray, alpha_q: np.ndarray) -> np.ndarray:
    """floor(value * a' / 256): flooring is what keeps `pm + bg * (256 - a') >> 8` <= 255."""
    return np.clip(np.floor(value * alpha_q / _ALPHA_ONE), 0, 255).astype(np.uint8)


def _blend_plane(dst: np.ndarray, pm: np.ndarray, inv_alpha: np.ndarray) -> None:
    acc = dst.astype(np.uint16)
    acc *= inv_alpha
    acc >>= 8
    acc += pm
    np.copyto(dst, acc, casting="unsafe")


# ---------------------------------------------------------------- colours


def accent_from_image(image: Image.Image, default: tuple[int, int, int]) -> tuple[int, int, int]:
    """The cover's most vivid colour, brightened: ties bars and highlights to the artwork."""
    small = np.asarray(image.convert("RGB").resize((48, 48), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    mx, mn = small.max(axis=-1), small.min(axis=-1)
    saturation = np.where(mx > 0, (mx - mn) / np.maximum(mx, 1e-6), 0)
    score = (saturation * mx).ravel()
    if score.max() < 0.12:  # greyscale art: nothing to pick, keep the style's colour
        return default
    top = small.reshape(-1, 3)[score >= np.quantile(score, 0.9)].mean(axis=0)
    h, _, s = colorsys.rgb_to_hls(*top)
    return _hls(h, 0.64, max(s, 0.85))


def shifted_hue(color: tuple[int, int, int], degrees: float, lightness: float = 0.7) -> tuple[int, int, int]:
    h, _, s = colorsys.rgb_to_hls(*(c / 255 for c in color))
    return _hls((h + degrees / 360.0) % 1.0, lightness, max(s, 0.6))


def _hls(h: float, l: float, s: float) -> tuple[int, int, int]:  # noqa: E741 - colour-science name
    return tuple(int(round(c * 255)) for c in colorsys.hls_to_rgb(h, l, min(s, 1.0)))  # type: ignore[return-value]


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


def cover_background(cover: Image.Image, width: int, height: int, dim: float, blur: float) -> np.ndarray:
    """The frame's backdrop from a cover: filled, optionally blurred, shaded. (H, W, 3) float."""
    filled = cover_fill(cover, width, height)
    if blur > 0:
        filled = filled.filter(ImageFilter.GaussianBlur(blur))
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

    def __init__(self, texture_rgb: np.ndarray, width: int, height: int, fps: int, overlays: list[Layer]):
        self._texture = Planes.from_rgb(texture_rgb)
        self._width, self._height, self._fps = width, height, fps
        self._margin_x = (self._texture.width - width) // 2
        self._margin_y = (self._texture.height - height) // 2
        self._overlays = overlays
        self._frame = Planes.allocate(width, height)
        self._offset: tuple[int, int] | None = None
        self._version = -1

    def offset_at(self, index: int) -> tuple[int, int]:
        t = index / self._fps
        dx = self._margin_x * (1 + math.sin(2 * math.pi * t / 37.0))
        dy = self._margin_y * (1 + math.sin(2 * math.pi * t / 23.0 + 1.3))
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
