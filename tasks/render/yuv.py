"""YUV 4:2:0 images and the few pixel operations the compositor needs.

The renderer composites directly in the encoder's pixel format (BT.709, limited range,
yuv420p). Alpha blending commutes with the affine RGB->YUV transform, so blending in YUV
gives the same picture as blending in RGB and converting afterwards, but:
  * ffmpeg has no rgb24->yuv420p conversion to do (that alone costs ~6 ms of CPU per
    1080p frame on this class of machine, a third of the encoder's time),
  * the pipe carries 1.5 bytes per pixel instead of 3,
  * every static layer is converted once, so per-frame work is plain copies and a few
    integer blends over small regions.
All boxes handed to these functions use even coordinates so chroma (half resolution)
lines up exactly with luma.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# BT.709 coefficients, limited ("tv") range: Y in [16, 235], Cb/Cr in [16, 240].
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB
_RGB_TO_YUV = np.array(
    [
        [_KR, _KG, _KB],
        [-_KR / (2 * (1 - _KB)), -_KG / (2 * (1 - _KB)), 0.5],
        [0.5, -_KG / (2 * (1 - _KR)), -_KB / (2 * (1 - _KR))],
    ],
    dtype=np.float32,
)
_SCALE = np.array([219.0, 224.0, 224.0], dtype=np.float32) / 255.0
_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float32)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV * _SCALE[:, None]).astype(np.float32)

LUMA, CHROMA = slice(0, 1), slice(1, 3)  # channel selections for rgb_to_yuv_float

#: Fade factors are integers in [0, FADE_ONE]; 128 steps are invisible as banding and keep
#: the blend's products inside uint16.
_FADE_SHIFT = 7
FADE_ONE = 1 << _FADE_SHIFT


@dataclass(frozen=True)
class Box:
    """A rectangle [x0, x1) x [y0, y1) in frame pixels, with even corners (chroma-aligned)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def __post_init__(self) -> None:
        if any(v % 2 for v in (self.x0, self.y0, self.x1, self.y1)):
            raise ValueError(f"box corners must be even for 4:2:0 chroma: {self}")
        if self.x1 < self.x0 or self.y1 < self.y0:
            raise ValueError(f"box has negative size: {self}")

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def shifted(self, dx: int, dy: int) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)

    def intersects(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def relative_to(self, outer: Box) -> Box:
        """This box in the coordinates of `outer` (whose top-left becomes 0, 0)."""
        return self.shifted(-outer.x0, -outer.y0)


def even_floor(v: float) -> int:
    return int(v) // 2 * 2


def even_round(v: float) -> int:
    return int(round(v / 2.0)) * 2


class Planes:
    """A yuv420p image: full-resolution Y (H, W) and chroma `uv` (2, H/2, W/2), uint8.

    U and V live in one array so every operation is two numpy calls instead of three (the
    bar visualiser makes hundreds of small copies per frame). Images made by `allocate`
    (and all copies) keep the three planes in one buffer laid out exactly as ffmpeg's
    rawvideo yuv420p expects, `uv` being a strided view over its U and V parts, so a
    frame goes to the encoder pipe without any packing.
    """

    def __init__(self, y: np.ndarray, uv: np.ndarray, buffer: np.ndarray | None = None):
        self.y, self.uv = y, uv
        self.buffer = buffer

    @classmethod
    def allocate(cls, width: int, height: int) -> Planes:
        if width % 2 or height % 2:
            raise ValueError(f"yuv420p needs even dimensions, got {width}x{height}")
        luma = width * height
        buf = np.empty(luma * 3 // 2, dtype=np.uint8)
        y = buf[:luma].reshape(height, width)
        uv = np.lib.stride_tricks.as_strided(
            buf[luma:], shape=(2, height // 2, width // 2), strides=(luma // 4, width // 2, 1)
        )
        return cls(y, uv, buf)

    @classmethod
    def from_rgb(cls, rgb: np.ndarray) -> Planes:
        """Convert an (H, W, 3) uint8/float RGB image (H, W even)."""
        rgb = np.asarray(rgb, dtype=np.float32)
        out = cls.allocate(rgb.shape[1], rgb.shape[0])
        out.y[:] = _to_u8(rgb_to_yuv_float(rgb, LUMA)[..., 0])
        # Chroma is linear in RGB: average 2x2 blocks first, convert a quarter of the pixels.
        out.uv[:] = _to_u8(np.moveaxis(rgb_to_yuv_float(downsample2(rgb), CHROMA), -1, 0))
        return out

    @property
    def width(self) -> int:
        return self.y.shape[1]

    @property
    def height(self) -> int:
        return self.y.shape[0]

    @property
    def u(self) -> np.ndarray:
        return self.uv[0]

    @property
    def v(self) -> np.ndarray:
        return self.uv[1]

    def planes(self) -> tuple[np.ndarray, np.ndarray]:
        return self.y, self.uv

    def crop(self, box: Box) -> Planes:
        """A view (no copy) of `box`; writing to it writes to this image."""
        x0, y0, x1, y1 = box.x0, box.y0, box.x1, box.y1
        return Planes(self.y[y0:y1, x0:x1], self.uv[:, y0 // 2 : y1 // 2, x0 // 2 : x1 // 2])

    def copy(self) -> Planes:
        out = Planes.allocate(self.width, self.height)
        out.assign(self)
        return out

    def assign(self, other: Planes) -> None:
        """Copy `other`'s pixels into this image (same size)."""
        np.copyto(self.y, other.y)
        np.copyto(self.uv, other.uv)

    def to_rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB, chroma upsampled by repetition (for previews and tests)."""
        up = np.repeat(np.repeat(self.uv, 2, axis=1), 2, axis=2)
        yuv = np.stack([self.y, up[0], up[1]], axis=-1).astype(np.float32)
        return yuv_to_rgb(yuv)


def rgb_to_yuv_float(rgb: np.ndarray, channels: slice = slice(0, 3), alpha: np.ndarray | None = None) -> np.ndarray:
    """(..., 3) RGB in 0..255 -> (..., k) float32 code values of the chosen Y/Cb/Cr channels.

    With `alpha` (0..1) the RGB is taken as premultiplied and so is the result: the
    offsets (16, 128) are scaled by alpha too, the transform being affine.
    """
    rgb = np.asarray(rgb, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    matrix = (_RGB_TO_YUV * _SCALE[:, None])[channels]
    offsets = _OFFSET[channels]
    out = np.empty((*rgb.shape[:-1], len(offsets)), dtype=np.float32)
    # Channel by channel: ~4x faster than `rgb @ matrix` with its inner dimension of 3.
    for i, ((kr, kg, kb), offset) in enumerate(zip(matrix, offsets, strict=True)):
        channel = out[..., i]
        np.multiply(r, kr, out=channel)
        channel += g * kg
        channel += b * kb
        channel += offset if alpha is None else offset * alpha
    return out


def yuv_to_rgb(yuv: np.ndarray) -> np.ndarray:
    rgb = (np.asarray(yuv, dtype=np.float32) - _OFFSET) @ _YUV_TO_RGB.T
    return _to_u8(rgb)


def downsample2(a: np.ndarray) -> np.ndarray:
    """Mean of each 2x2 block over the first two axes (H, W even)."""
    a = np.asarray(a, dtype=np.float32)
    return (a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]) * 0.25


def _to_u8(a: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def lerp_into(dst: Planes, a: Planes, b: Planes, f: int) -> None:
    """dst = a + (b - a) * f / FADE_ONE, per plane, in uint16 (dst may alias a or b)."""
    if f <= 0:
        if dst is not a:
            dst.assign(a)
        return
    if f >= FADE_ONE:
        if dst is not b:
            dst.assign(b)
        return
    for d, pa, pb in zip(dst.planes(), a.planes(), b.planes(), strict=True):
        acc = pa.astype(np.uint16)
        acc *= FADE_ONE - f
        acc += pb.astype(np.uint16) * np.uint16(f)
        acc >>= _FADE_SHIFT
        np.copyto(d, acc, casting="unsafe")


def fade_steps(opacity: float) -> int:
    """Opacity in [0, 1] -> integer fade factor for lerp_into."""
    return int(round(min(max(opacity, 0.0), 1.0) * FADE_ONE))
