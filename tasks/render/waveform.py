"""The waveform visualiser: an oscilloscope line of the music around each frame's time.

Each frame shows WINDOW seconds of the low-passed audio centred on the frame's time (so a
click shows in the frame nearest to it), started at a rising zero crossing near the
window's start the way an oscilloscope triggers, so a held note stands still instead of
sliding. The low-pass (a few hundred Hz) keeps the bass and the beat, which is what reads as
"the music", and drops the hiss that would read as noise. Amplitudes are scaled to the
song's loud level, the envelope falls back with the style's `release` (instant attack, so
the line jumps on a beat and settles), and both ends taper to the centre line.

Drawing: at each of SUBCOLUMNS points across a pixel column the line covers one vertical
span (its thickness measured perpendicular to the curve); a pixel's coverage is the mean
overlap of its height with those spans, so edges are anti-aliased both ways. Only
those pixels are painted, and the previous frame's are restored, via CoverageCanvas.
"""

from __future__ import annotations

import numpy as np

from mvflow.render.bars import wash_colour
from mvflow.render.coverage import Coverage, CoverageCanvas, ragged_ranges, rgba_image
from mvflow.render.features import FEATURE_RATE, release
from mvflow.render.layers import Layer
from mvflow.render.style_types import Color
from mvflow.render.visualiser import Visualiser, VisualiserSpec
from mvflow.render.yuv import Box, Planes

WINDOW = 0.05  # seconds of audio across the box
TRIGGER_SEARCH = 0.012  # how far (s) from the window's start a rising zero crossing is looked for
LOWPASS_TAPS = 63  # Hann kernel at 22.05 kHz: first null near 700 Hz
MAX_BOOST = 4.0  # the release may hold a quieter passage up to this much louder than it is
GAIN = 1.3  # the song's loud level reaches tanh(1.3) = 86% of the half height
SILENCE = 1e-3  # loud level floor (-60 dBFS): a silent song stays a flat line
TAPER = 0.15  # share of the width over which each end fades to the centre line
_CHUNK = 512


def lowpass(samples: np.ndarray) -> np.ndarray:
    kernel = np.hanning(LOWPASS_TAPS + 2)[1:-1]
    kernel = (kernel / kernel.sum()).astype(np.float32)
    once = np.convolve(np.asarray(samples, np.float32), kernel, mode="same")
    return np.convolve(once, kernel, mode="same")  # twice: ripple-free stop band


def trigger_offsets(signal: np.ndarray, starts: np.ndarray, search: int) -> np.ndarray:
    """Per window start, the shift in [-search, search] to the nearest rising zero crossing (0: none)."""
    shifts = np.arange(-search, search + 1)
    idx = np.clip(starts[:, None] + shifts[None, :], 1, len(signal) - 1)
    rising = (signal[idx - 1] < 0) & (signal[idx] >= 0)
    distance = np.where(rising, np.abs(shifts)[None, :], search + 1)
    best = np.argmin(distance, axis=1)
    return np.where(rising[np.arange(len(starts)), best], shifts[best], 0)


def scope_traces(samples: np.ndarray, n_frames: int, fps: float, n_points: int, release_s: float,
                 sample_rate: int = FEATURE_RATE) -> np.ndarray:
    """(n_frames, n_points) line heights in [-1, 1], left to right, for each frame."""
    span = int(round(WINDOW * sample_rate))
    search = int(round(TRIGGER_SEARCH * sample_rate))
    margin = span + search + 2
    signal = np.concatenate([np.zeros(margin, np.float32), lowpass(samples), np.zeros(margin, np.float32)])
    loud = max(float(np.percentile(np.abs(signal), 99.7)) if len(samples) else 0.0, SILENCE)
    centres = margin + np.rint(np.arange(n_frames) * sample_rate / fps).astype(np.int64)
    starts = np.minimum(centres - span // 2, len(signal) - span - search - 1)
    # Evenly spaced points at fractional sample positions: rounding them to whole samples
    # would jitter their spacing, which shows as notches along every steep stretch.
    position = np.linspace(0, span - 1, n_points)
    whole, frac = position.astype(np.int64), (position % 1).astype(np.float32)
    traces = np.empty((n_frames, n_points), np.float32)
    # In chunks of frames: the trigger search looks at ~500 samples per frame, which for a
    # whole 10-minute song at 120 fps took ~1 GB at once (benchmarks/render_memory.py).
    for first in range(0, n_frames, _CHUNK):
        chunk = starts[first : first + _CHUNK]
        block = (chunk + trigger_offsets(signal, chunk, search))[:, None] + whole[None, :]
        values = signal[block] + (signal[block + 1] - signal[block]) * frac
        traces[first : first + len(block)] = np.tanh(values * (GAIN / loud))
    traces *= taper(n_points)
    envelope = np.abs(traces).max(axis=1, keepdims=True)  # of what shows (a beat at a tapered end hardly does)
    held = release(envelope, fps, release_s)
    traces *= np.clip(held / np.maximum(envelope, 1e-6), 1.0, MAX_BOOST)
    return np.clip(traces, -1.0, 1.0)


def taper(n: int) -> np.ndarray:
    """1 in the middle, a half cosine down to 0 at both ends."""
    x = np.minimum(np.arange(n) + 0.5, n - np.arange(n) - 0.5) / max(n * TAPER, 1e-6)
    return (0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0, 1))).astype(np.float32)


def smooth_interp(x: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Catmull-Rom spline through `values` (at 0, 1, 2, ...) at positions x: no kinks at the
    points, which a thick line would show as notches on its slopes."""
    last = len(values) - 1
    i = np.clip(np.floor(x).astype(np.int64), 0, max(last - 1, 0))
    t = (x - i).astype(np.float32)
    p0, p1 = values[np.maximum(i - 1, 0)], values[i]
    p2, p3 = values[np.minimum(i + 1, last)], values[np.minimum(i + 2, last)]
    return p1 + 0.5 * t * (p2 - p0 + t * (2 * p0 - 5 * p1 + 4 * p2 - p3 + t * (3 * (p1 - p2) + p3 - p0)))


SUBCOLUMNS = 4  # samples across each pixel column: anti-aliases the sides of steep strokes


def line_spans(y: np.ndarray, half_thickness: float) -> tuple[np.ndarray, np.ndarray]:
    """Per sample (y = the curve's height at evenly spaced x, one unit apart): the [lo, hi] a
    line of the given thickness covers there. The thickness is measured perpendicular to the
    curve, so a steep stretch covers more rows: exactly thickness * sqrt(1 + slope^2), what
    a straight band covers at any x. Samples must be closer than the thickness (sub-columns)
    so that the spans of neighbouring samples overlap on steep stretches."""
    padded = np.concatenate([y[:1], y, y[-1:]])
    slope = (padded[2:] - padded[:-2]) / 2
    half = half_thickness * np.sqrt(1.0 + slope * slope)
    return y - half, y + half


def span_coverage(lo: np.ndarray, hi: np.ndarray, pixel: int, n_rows: int) -> tuple[np.ndarray, ...]:
    """(rows, cols, alpha) of the pixels of size `pixel` that the spans cover.

    lo, hi: (k, n_cols) spans of k sub-columns per pixel column (in luma px); a pixel's
    coverage is the mean over its sub-columns of the share of its height inside the span.
    """
    first = np.clip(np.floor(lo.min(axis=0) / pixel), 0, n_rows).astype(np.int64)
    stop = np.clip(np.ceil(hi.max(axis=0) / pixel), 0, n_rows).astype(np.int64)
    rows, counts = ragged_ranges(first, stop)
    cols = np.repeat(np.arange(lo.shape[1]), counts)
    top = (rows * pixel).astype(np.float32)
    bottom = top + pixel
    alpha = np.zeros(len(rows), np.float32)
    for sub_lo, sub_hi in zip(lo, hi, strict=True):  # a few sub-columns: one vector op each
        alpha += np.clip(np.minimum(bottom, sub_hi[cols]) - np.maximum(top, sub_lo[cols]), 0, pixel)
    return rows, cols, alpha / (pixel * len(lo))


class Waveform:
    """Draws each frame's trace as an anti-aliased line with a left-to-right colour sweep."""

    def __init__(self, traces: np.ndarray, box: Box, unit: int, spec: VisualiserSpec, colours: tuple[Color, Color]):
        self.box = box
        self.traces = traces
        self.half_thickness = max(0.75, spec.thickness * unit / 2)
        self.centre = box.height / 2
        self.amplitude = max(box.height / 2 - self.half_thickness - 1, 1.0)
        n_points = traces.shape[1]
        subcolumns = (np.arange(box.width * SUBCOLUMNS) + 0.5) / SUBCOLUMNS  # x of each sub-column centre
        self._x = (subcolumns / box.width * (n_points - 1)).astype(np.float32)  # ... as a position on the trace
        rows = (np.arange(box.height, dtype=np.float32) + 0.5)[:, None]
        t = np.linspace(0.0, 1.0, box.width, dtype=np.float32)[None, :]
        colour = wash_colour(t, np.abs(rows - self.centre) / (box.height / 2), *colours)
        self._canvas = CoverageCanvas(box, Layer.from_rgba(rgba_image(colour, spec.opacity), box.x0, box.y0))
        self._shown: int | None = None  # frame index of the trace on screen
        self._painted = (np.zeros(0, np.intp), np.zeros(0, np.intp))  # its pixels (luma, chroma)

    def close(self) -> None:
        """Nothing to release (part of the compositor's Part protocol)."""

    def coverage(self, index: int) -> tuple[Coverage, Coverage]:
        """The line's pixels in frame `index` (luma, chroma)."""
        y = self.centre - smooth_interp(self._x, self.traces[index]) * self.amplitude
        # line_spans works in steps of one sample; in px the slope is SUBCOLUMNS times steeper.
        lo, hi = line_spans(y * SUBCOLUMNS, self.half_thickness * SUBCOLUMNS)
        out = []
        for pixel in (1, 2):
            # A chroma column covers two luma columns: every other sub-column samples it as finely.
            per_column, step = SUBCOLUMNS * pixel, pixel
            spans = (np.ascontiguousarray(v.reshape(-1, per_column)[:, ::step].T / SUBCOLUMNS) for v in (lo, hi))
            rows, cols, alpha = span_coverage(*spans, pixel, self.box.height // pixel)
            out.append(Coverage(self._canvas.flat_index(rows, cols, chroma=pixel == 2), alpha))
        return out[0], out[1]

    def draw(self, frame: Planes, bg: Planes, bg_version: int, index: int, t: float) -> bool:
        """Restore the last line's pixels and paint this frame's; False when the line did not move."""
        index = min(index, len(self.traces) - 1)
        refreshed = self._canvas.refresh(frame, bg, bg_version)
        if refreshed:
            self._painted = (np.zeros(0, np.intp), np.zeros(0, np.intp))
        elif self._shown is not None and np.array_equal(self.traces[index], self.traces[self._shown]):
            return False
        luma, chroma = self.coverage(index)
        self._canvas.restore(frame, *self._painted)
        self._canvas.paint(frame, luma, chroma)
        self._painted, self._shown = (luma.index, chroma.index), index
        return True


class WaveformKind(Visualiser):
    name = "waveform"
    description = "an oscilloscope line of the music around each frame's time"

    def build(self, spec: VisualiserSpec, box: Box, unit: int, samples: np.ndarray, n_frames: int, fps: int,
              colours: tuple[Color, Color]) -> Waveform:
        n_points = max(16, min(box.width // 4, 480))
        return Waveform(scope_traces(samples, n_frames, fps, n_points, spec.release), box, unit, spec, colours)


WAVEFORM = WaveformKind()
