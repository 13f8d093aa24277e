"""Numpy building blocks for procedural covers: a float canvas, gradients, noise, glows, finishing.

Everything is expressed in coordinates relative to the image (0..1 across each side, or
"iso" units of the shorter side for round shapes), so one composition works at 1920x1080,
1080x1920, 1024x1024 and thumbnail sizes alike. Soft things (glows, blurs, noise) are
computed at reduced resolution and scaled up: they are smooth anyway, and this keeps a
full-HD cover well under the time budget on a small machine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Color = np.ndarray  # shape (3,), float32 in 0..1


class Canvas:
    """A float RGB image in 0..1 plus the coordinate grids painters compose with.

    `x` has shape (1, W) and `y` shape (H, 1) so they broadcast into full fields without
    allocating two full-size grids. `unit` is the shorter side in pixels: distances in
    "iso" units (multiples of it) keep circles round whatever the aspect ratio.
    """

    def __init__(
        self, width: int, height: int, rng: np.random.Generator, detail: np.random.Generator
    ) -> None:
        self.w, self.h = width, height
        self.unit = min(width, height)
        self.rng = rng  # layout decisions: a fixed number of draws, so every size shares a composition
        self.detail = detail  # noise, grain, particles: how many draws depends on the size
        self.x = ((np.arange(width, dtype=np.float32) + 0.5) / width)[None, :]
        self.y = ((np.arange(height, dtype=np.float32) + 0.5) / height)[:, None]
        self.sx = width / self.unit  # width in iso units (>= 1)
        self.sy = height / self.unit  # height in iso units (>= 1)
        self.rgb = np.zeros((height, width, 3), np.float32)
        # Shapes drawn with Pillow are supersampled for clean edges; huge canvases skip it.
        self.ss = 2 if max(width, height) <= 2400 else 1
        # Pixel-sized detail (stars, sparks, grain) cannot shrink below a pixel, so small
        # canvases get fewer/fainter of it instead of turning into noise.
        self.fine = float(np.clip(self.unit / 720.0, 0.3, 1.0))

    @property
    def portrait(self) -> bool:
        return self.h > self.w

    def iso(self, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
        """Offsets from (cx, cy) (relative coords) in iso units: dx of shape (1, W), dy of (H, 1)."""
        return (self.x - cx) * self.sx, (self.y - cy) * self.sy

    def dist(self, cx: float, cy: float) -> np.ndarray:
        """Distance (iso units) of every pixel from the relative point (cx, cy)."""
        dx, dy = self.iso(cx, cy)
        return np.sqrt(dx * dx + dy * dy)

    def px(self, x: float, y: float, scale: int = 1) -> tuple[float, float]:
        """Relative coords -> pixel coords on a canvas drawn `scale` times larger."""
        return x * self.w * scale, y * self.h * scale


# --------------------------------------------------------------------------- colour helpers


def hex_color(code: str) -> Color:
    code = code.lstrip("#")
    return np.array([int(code[i : i + 2], 16) / 255.0 for i in (0, 2, 4)], np.float32)


def mix(a: Color, b: Color, t: float) -> Color:
    return (a * (1.0 - t) + b * t).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.2126 + rgb[..., 1] * 0.7152 + rgb[..., 2] * 0.0722


def ramp(values: np.ndarray, stops: Sequence[tuple[float, Color]]) -> np.ndarray:
    """Map a scalar field through a colour ramp [(position, colour), ...] -> (..., 3)."""
    pos = np.array([p for p, _ in stops], np.float32)
    cols = np.stack([c for _, c in stops]).astype(np.float32)
    out = np.empty((*values.shape, 3), np.float32)
    for ch in range(3):
        out[..., ch] = np.interp(values, pos, cols[:, ch])
    return out


def vertical_gradient(c: Canvas, stops: Sequence[tuple[float, Color]]) -> None:
    """Fill the canvas with a top-to-bottom gradient (computed on one column, then broadcast)."""
    c.rgb[:] = ramp(c.y[:, 0], stops)[:, None, :]


def smoothstep(e0: float, e1: float, v: np.ndarray) -> np.ndarray:
    t = np.clip((v - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


# --------------------------------------------------------------------------- compositing


def _per_channel(c: Canvas, color: Color | np.ndarray, amount: np.ndarray | float, rows: slice, op) -> None:
    """Apply `op(channel, colour_channel, amount)` channel by channel, in place.

    Working on one strided channel at a time avoids a full-size (H, W, 3) temporary per blend,
    which makes blends about three times faster on a full-HD canvas.
    """
    col = np.asarray(color, np.float32)
    amt = amount[..., 0] if np.ndim(amount) == 3 else amount
    target = c.rgb[rows]
    for ch in range(3):
        op(target[..., ch], col[..., ch], amt)


def _over(t: np.ndarray, col: np.ndarray, amt: np.ndarray | float) -> None:
    t += (col - t) * amt


def _add(t: np.ndarray, col: np.ndarray, amt: np.ndarray | float) -> None:
    t += col * amt


def _screen(t: np.ndarray, col: np.ndarray, amt: np.ndarray | float) -> None:
    t += (col * amt) * (1.0 - t)


def over(c: Canvas, color: Color | np.ndarray, alpha: np.ndarray | float, rows: slice = slice(None)) -> None:
    """Normal alpha blend of a colour (or a colour field) onto the canvas (optionally a band of rows)."""
    _per_channel(c, color, alpha, rows, _over)


def add(c: Canvas, color: Color | np.ndarray, amount: np.ndarray | float, rows: slice = slice(None)) -> None:
    """Additive light: glows, stars, neon. Tone mapping at the end keeps it from clipping flat."""
    _per_channel(c, color, amount, rows, _add)


def screen(
    c: Canvas, color: Color | np.ndarray, amount: np.ndarray | float = 1.0, rows: slice = slice(None)
) -> None:
    """Screen blend, 1-(1-a)(1-b) = a + b(1-a): brightens like light but never exceeds white."""
    _per_channel(c, color, amount, rows, _screen)


def row_band(c: Canvas, top: float, bottom: float) -> slice:
    """Rows covering relative heights top..bottom (clamped): lets a painter touch only its band."""
    return slice(int(max(0.0, np.floor(top * c.h))), int(min(c.h, np.ceil(bottom * c.h))))


# --------------------------------------------------------------------------- resampling & blur


def resize_field(field: np.ndarray, width: int, height: int, smooth: bool = True) -> np.ndarray:
    """Resample a float field with Pillow (mode F): bicubic up-scaling gives smooth noise/glows."""
    img = Image.fromarray(np.ascontiguousarray(field, np.float32))
    return np.asarray(img.resize((width, height), Image.BICUBIC if smooth else Image.BILINEAR))


def _box_blur_axis(a: np.ndarray, r: int, axis: int) -> np.ndarray:
    """Moving average of width 2r+1 along one axis via a cumulative sum (edges repeat)."""
    if r < 1:
        return a
    pad = [(0, 0)] * a.ndim
    pad[axis] = (r + 1, r)
    cs = np.cumsum(np.pad(a, pad, mode="edge"), axis=axis, dtype=np.float32)
    n = a.shape[axis]
    hi = [slice(None)] * a.ndim
    lo = [slice(None)] * a.ndim
    hi[axis], lo[axis] = slice(2 * r + 1, 2 * r + 1 + n), slice(0, n)
    return (cs[tuple(hi)] - cs[tuple(lo)]) * (1.0 / (2 * r + 1))


def box_blur(a: np.ndarray, radius: float, passes: int = 3) -> np.ndarray:
    """Approximate Gaussian blur over the last two axes (three box passes); Pillow cannot blur floats."""
    r = max(0, int(radius / np.sqrt(passes) + 0.5))
    for _ in range(passes):
        a = _box_blur_axis(_box_blur_axis(a, r, -2), r, -1)
    return a


def soften(c: Canvas, field: np.ndarray, radius: float) -> np.ndarray:
    """Gaussian-like blur of a full-size field; `radius` in iso units (fraction of the short side).

    Large radii are blurred at reduced resolution and scaled back up, which is both much faster
    and visually identical for soft light. Small radii go through Pillow's C blur on an 8-bit
    copy scaled to the field's peak: plenty of precision for a few pixels of softening.
    """
    radius_px = radius * c.unit
    factor = int(max(1, min(radius_px / 4.0, 16)))
    h, w = field.shape
    if factor == 1:
        peak = float(field.max())
        if peak <= 0.0:
            return field
        img = Image.fromarray((field * (255.0 / peak) + 0.5).astype(np.uint8))
        blurred = img.filter(ImageFilter.GaussianBlur(radius_px))
        return np.asarray(blurred, dtype=np.float32) * (peak / 255.0)
    small = np.asarray(
        Image.fromarray(np.ascontiguousarray(field, np.float32)).resize(
            (max(1, w // factor), max(1, h // factor)), Image.BOX
        )
    )
    return resize_field(box_blur(small, radius_px / factor), w, h, smooth=False)


def add_upscaled(c: Canvas, light: np.ndarray, amount: float = 1.0) -> None:
    """Add a low-resolution RGB light field to the canvas, scaling it up one channel at a time."""
    for ch in range(3):
        c.rgb[..., ch] += resize_field(light[..., ch], c.w, c.h) * amount


# --------------------------------------------------------------------------- noise


def _noise_grid(c: Canvas, cells: float, stretch: tuple[float, float], width: int, height: int) -> np.ndarray:
    nx = max(2, int(np.ceil(cells * c.sx * stretch[0])) + 2)
    ny = max(2, int(np.ceil(cells * c.sy * stretch[1])) + 2)
    grid = c.detail.random((ny, nx), dtype=np.float32)
    return resize_field(grid, width, height)


def value_noise(c: Canvas, cells: float, stretch: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Smooth random field in 0..1 with about `cells` features along the short side."""
    return _noise_grid(c, cells, stretch, c.w, c.h)


def fbm(c: Canvas, cells: float, octaves: int = 4, stretch: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Fractal noise (octaves of value noise), normalised to roughly 0..1.

    The octaves are summed at the smallest resolution that still gives the finest one about
    six pixels per feature, then scaled up once: same look, a fraction of the work.
    """
    finest = cells * 2 ** (octaves - 1) * max(stretch)
    scale = min(1.0, max(64.0, finest * 6.0) / c.unit)
    w, h = max(2, round(c.w * scale)), max(2, round(c.h * scale))
    total = np.zeros((h, w), np.float32)
    amp, norm = 1.0, 0.0
    for i in range(octaves):
        total += _noise_grid(c, cells * (2**i), stretch, w, h) * amp
        norm += amp
        amp *= 0.5
    total /= norm
    lo, hi = np.percentile(total, [1, 99])
    total = np.clip((total - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    return total if (w, h) == (c.w, c.h) else np.clip(resize_field(total, c.w, c.h), 0.0, 1.0)


def warp(c: Canvas, field: np.ndarray, strength: float, cells: float) -> np.ndarray:
    """Domain-warp a field by smooth noise offsets (gives clouds and smoke their swirl)."""
    dx = (value_noise(c, cells) - 0.5) * (strength * c.unit)
    dy = (value_noise(c, cells) - 0.5) * (strength * c.unit)
    ys = np.clip((np.arange(c.h)[:, None] + dy).astype(np.int32), 0, c.h - 1)
    xs = np.clip((np.arange(c.w)[None, :] + dx).astype(np.int32), 0, c.w - 1)
    return field[ys, xs]


# --------------------------------------------------------------------------- vector shapes


def draw_mask(c: Canvas, paint: Callable[[ImageDraw.ImageDraw, int], None]) -> np.ndarray:
    """Run `paint(draw, scale)` on a supersampled greyscale layer and return it as a 0..1 field.

    `scale` is the supersampling factor; use `c.px(x, y, scale)` for coordinates and multiply
    line widths by it. Downsampling with a box filter gives anti-aliased edges.
    """
    s = c.ss
    img = Image.new("L", (c.w * s, c.h * s), 0)
    paint(ImageDraw.Draw(img), s)
    if s > 1:
        img = img.reduce(s)
    return np.asarray(img, dtype=np.float32) / 255.0


# --------------------------------------------------------------------------- finishing


def calm_bottom(c: Canvas, strength: float = 0.45) -> None:
    """Darken and mute the bottom third: lyrics and visualiser bars are drawn there."""
    t = smoothstep(0.55, 1.0, c.y)[..., None]
    grey = luminance(c.rgb)[..., None]
    c.rgb = c.rgb * (1.0 - 0.25 * t) + grey * (0.25 * t)  # a little desaturation
    c.rgb *= 1.0 - strength * t


def vignette(c: Canvas, strength: float = 0.35) -> None:
    """Elliptical darkening towards the corners, relative to the image shape."""
    dx = (c.x - 0.5) * 2.0
    dy = (c.y - 0.5) * 2.0
    r2 = dx * dx + dy * dy
    c.rgb *= (1.0 - strength * smoothstep(0.35, 2.0, r2))[..., None]


def film_grain(c: Canvas, amount: float = 0.025) -> None:
    """Mostly monochrome grain with a touch of colour, scaled so dark areas stay clean."""
    noise = c.detail.standard_normal((c.h, c.w), dtype=np.float32)
    lum = np.clip(luminance(c.rgb), 0.0, 1.0)
    weight = amount * c.fine * (0.35 + 0.65 * np.sqrt(lum))
    c.rgb += (noise * weight)[..., None]


def tonemap(c: Canvas, knee: float = 0.78) -> None:
    """Soft-clip highlights above `knee` so additive glows roll off instead of flattening to white."""
    v = c.rgb
    over_knee = v > knee
    span = 1.0 - knee
    v[over_knee] = knee + span * (1.0 - np.exp(-(v[over_knee] - knee) / span))
    np.clip(v, 0.0, 1.0, out=v)


def to_image(c: Canvas) -> Image.Image:
    np.clip(c.rgb, 0.0, 1.0, out=c.rgb)
    return Image.fromarray((c.rgb * 255.0 + 0.5).astype(np.uint8))
