"""Audio -> the frame-rate features every analysis starts from: band spectrogram, onset strength,
loudness and chroma.

One short-time Fourier transform (1024-sample Hann windows, hop 256 at 22.05 kHz: a frame
every 11.6 ms) feeds all of them, so the whole analysis decodes and transforms the song once:

  * onset strength: the positive spectral flux of log band energies (how much louder each of
    40 log-spaced bands got since the last frame), summed over the bands; a drum hit or a
    sung syllable is a peak. `low` keeps only the bands below ~160 Hz (kick and bass), which
    mark the strong beats;
  * loudness: RMS level in dB (full-scale sine = 0 dB) of the same frames;
  * chroma: energy per pitch class (60 Hz - 2 kHz), which changes when the chord does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.audio import log_band_weights

SAMPLE_RATE = 22050
N_FFT = 1024
HOP = 256
FRAME_RATE = SAMPLE_RATE / HOP  # ~86.1 frames a second
N_BANDS = 40
_LOW_HZ = 160.0
_CHUNK = 4096  # frames per FFT batch (bounds memory for long songs)


@dataclass(frozen=True)
class Features:
    """Per-frame features of a song (frame k is centred on k * HOP samples)."""

    onset: np.ndarray  # (n,) onset strength, >= 0
    low_onset: np.ndarray  # (n,) onset strength of the bands below _LOW_HZ
    loudness_db: np.ndarray  # (n,) RMS level, dB
    chroma: np.ndarray  # (n, 12) pitch-class energy, each row summing to 1 (or 0 in silence)
    bands_db: np.ndarray  # (n, N_BANDS) log band energies (timbre, for section boundaries)

    @property
    def n_frames(self) -> int:
        return len(self.onset)


def log_band_filters(n_fft: int = N_FFT, n_bands: int = N_BANDS, f_min: float = 40.0,
                     f_max: float = 8000.0) -> tuple[np.ndarray, np.ndarray]:
    """((n_bands, n_fft//2+1) triangular filters, their log-spaced centres in Hz)."""
    centres = np.geomspace(f_min, f_max, n_bands)
    return log_band_weights(np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE), centres).astype(np.float32), centres


def chroma_filters(n_fft: int = N_FFT) -> np.ndarray:
    """(12, n_fft//2+1): each bin from 60 Hz to 2 kHz to its nearest pitch class (C = 0)."""
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SAMPLE_RATE)
    out = np.zeros((12, len(freqs)), np.float32)
    usable = (freqs >= 60.0) & (freqs <= 2000.0)
    midi = 69.0 + 12.0 * np.log2(freqs[usable] / 440.0)
    out[np.rint(midi).astype(int) % 12, np.flatnonzero(usable)] = 1.0
    return out


def power_frames(samples: np.ndarray) -> np.ndarray:
    """(n_frames, N_FFT//2+1) power spectra of centred Hann windows, one every HOP samples."""
    samples = np.asarray(samples, np.float32)
    padded = np.pad(samples, (N_FFT // 2, N_FFT // 2))
    n_frames = 1 + len(samples) // HOP
    window = np.hanning(N_FFT).astype(np.float32)
    scale = (window.sum() / 2.0) ** 2  # a full-scale sine's peak bin -> 1.0
    out = np.empty((n_frames, N_FFT // 2 + 1), np.float32)
    starts = np.arange(n_frames) * HOP
    for first in range(0, n_frames, _CHUNK):
        idx = starts[first : first + _CHUNK, None] + np.arange(N_FFT)[None, :]
        idx = np.minimum(idx, len(padded) - 1)
        spectrum = np.fft.rfft(padded[idx] * window, axis=1)
        out[first : first + len(idx)] = (spectrum.real**2 + spectrum.imag**2) / scale
    return out


def features(samples: np.ndarray) -> Features:
    """Every per-frame feature of mono `samples` at SAMPLE_RATE."""
    power = power_frames(samples)
    filters, centres = log_band_filters()
    bands_db = 10.0 * np.log10(power @ filters.T + 1e-10)
    bands_db = np.maximum(bands_db, bands_db.max(initial=-100.0) - 80.0)  # an 80 dB floor: silence is flat
    flux = np.maximum(np.diff(bands_db, axis=0, prepend=bands_db[:1]), 0.0)
    low = centres < _LOW_HZ
    chroma = power @ chroma_filters().T
    total = chroma.sum(axis=1, keepdims=True)
    chroma = np.divide(chroma, total, out=np.zeros_like(chroma), where=total > 1e-8)
    return Features(onset=flux.mean(axis=1), low_onset=flux[:, low].mean(axis=1), loudness_db=level_db(power),
                    chroma=chroma.astype(np.float32), bands_db=bands_db.astype(np.float32))


def level_db(power: np.ndarray) -> np.ndarray:
    """(n,) RMS level of each frame in dB, a full-scale sine being 0 dB, from its power spectrum.

    Parseval: the windowed frame's energy is twice the one-sided spectrum's (times the
    scale power_frames divided out) over N_FFT; dividing by the window's energy gives the
    mean square, and a full-scale sine's mean square is 1/2.
    """
    window = np.hanning(N_FFT)
    scale = (window.sum() / 2.0) ** 2
    mean_square = 2.0 * scale * power.sum(axis=1) / (N_FFT * (window**2).sum())
    return (10.0 * np.log10(2.0 * mean_square + 1e-10)).astype(np.float32)
