"""Audio -> per-frame spectrum band levels for the bar visualiser.

Each video frame k looks at a Hann window centred on its own time k/fps (so a click is
brightest in the frame nearest to it), sums the power spectrum into log-spaced bands,
converts to dB and maps a 42 dB range below each band's loud level to [0, 1]. Bars then
jump up at once and fall back smoothly (instant attack, exponential release), which is
how a meter reads as "on the beat".
"""

from __future__ import annotations

import math

import numpy as np

from mvflow.audio import log_band_weights

#: Sample rate the features are computed at; 11 kHz of bandwidth is plenty for bars.
FEATURE_RATE = 22050
WINDOW = 2048  # ~93 ms: enough bass resolution, still sharp in time
F_MIN, F_MAX = 45.0, 10000.0
DB_RANGE = 42.0
SILENCE_DB = -75.0  # a band's "loud" reference never drops below this (silent songs stay flat)
_CHUNK = 512  # frames analysed per FFT batch (bounds memory for long songs)


def band_filters(n_bands: int, sample_rate: int = FEATURE_RATE, window: int = WINDOW) -> np.ndarray:
    """(n_bands, window//2+1) triangular filters on a log-frequency axis, rows summing to 1.

    Low bands are narrower than one FFT bin; each still gets its nearest bin, so no bar
    is permanently dead.
    """
    freqs = np.fft.rfftfreq(window, 1.0 / sample_rate)
    weights = log_band_weights(freqs, np.geomspace(F_MIN, min(F_MAX, 0.45 * sample_rate), n_bands))
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def band_power_db(samples: np.ndarray, n_frames: int, fps: float, n_bands: int,
                  sample_rate: int = FEATURE_RATE) -> np.ndarray:
    """(n_frames, n_bands) band power in dB (full-scale sine ~ 0 dB) of the window around each frame."""
    half = WINDOW // 2
    padded = np.concatenate([np.zeros(half, np.float32), np.asarray(samples, np.float32), np.zeros(half, np.float32)])
    centers = np.rint(np.arange(n_frames) * sample_rate / fps).astype(np.int64)
    centers = np.minimum(centers, len(padded) - WINDOW)  # last frames may sit past the end
    window = np.hanning(WINDOW).astype(np.float32)
    filters = band_filters(n_bands, sample_rate).T
    scale = (window.sum() / 2.0) ** 2  # makes a full-scale sine's peak bin 1.0
    out = np.empty((n_frames, n_bands), dtype=np.float32)
    for start in range(0, n_frames, _CHUNK):
        idx = centers[start : start + _CHUNK, None] + np.arange(WINDOW)[None, :]
        spectrum = np.fft.rfft(padded[idx] * window, axis=1)
        power = (spectrum.real ** 2 + spectrum.imag ** 2).astype(np.float32) / scale
        out[start : start + len(idx)] = 10.0 * np.log10(power @ filters + 1e-12)
    return out


def normalise_db(db: np.ndarray) -> np.ndarray:
    """dB -> [0, 1] against a reference that mixes each band's and the whole song's loud level.

    A per-band reference lets the quieter treble bars move as much as the bass; mixing in
    the global one keeps a band that is nearly silent all song from being blown up.
    """
    if db.size == 0:
        return db
    per_band = np.percentile(db, 97, axis=0)
    overall = np.percentile(db, 97)
    reference = np.maximum(0.5 * per_band + 0.5 * overall, SILENCE_DB)
    level = (db - (reference - DB_RANGE)) / DB_RANGE
    return np.clip(level, 0.0, 1.0) ** 1.25


def spread(levels: np.ndarray) -> np.ndarray:
    """Light smoothing across neighbouring bands so the bar tops form a shape, not noise."""
    if levels.shape[1] < 3:
        return levels
    padded = np.pad(levels, ((0, 0), (1, 1)), mode="edge")
    return 0.2 * padded[:, :-2] + 0.6 * padded[:, 1:-1] + 0.2 * padded[:, 2:]


def release(levels: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    """Instant attack, exponential release with time constant `seconds`."""
    keep = math.exp(-1.0 / (fps * seconds)) if seconds > 0 else 0.0
    out = np.empty_like(levels)
    current = np.zeros(levels.shape[1], dtype=levels.dtype)
    for k, target in enumerate(levels):
        current = np.maximum(target, target + (current - target) * keep)
        out[k] = current
    return out


def peak_caps(levels: np.ndarray, fps: float, hold_seconds: float) -> np.ndarray:
    """Peak-hold markers: each sits on its band's highest level for `hold_seconds`, then
    drops onto the bar and holds again.

    Holding (instead of letting caps glide down) also keeps the caps still for most
    frames, and still pixels are what the encoder handles almost for free.
    """
    hold = max(1, int(round(hold_seconds * fps)))
    out = np.empty_like(levels)
    current = np.zeros(levels.shape[1], dtype=levels.dtype)
    age = np.zeros(levels.shape[1], dtype=np.int32)
    for k, level in enumerate(levels):
        reset = (level >= current) | (age >= hold)
        current = np.where(reset, level, current)
        age = np.where(reset, 0, age + 1)
        out[k] = current
    return out


def bar_levels(samples: np.ndarray, n_frames: int, fps: float, n_bands: int, release_s: float,
               peak_hold: float, sample_rate: int = FEATURE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """(levels, peaks), both (n_frames, n_bands) in [0, 1]: what the bars draw, frame by frame."""
    raw = spread(normalise_db(band_power_db(samples, n_frames, fps, n_bands, sample_rate)))
    levels = release(raw, fps, release_s)
    return levels, peak_caps(levels, fps, peak_hold)
