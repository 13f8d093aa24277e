"""Mixing and mastering: the voice on top, the band ducked under it, a fade, a safe peak.

Intelligibility drives the balance: while a line is sung the backing is pulled down so it
sits about 12 dB under the voice (measured per line, not guessed), then comes back up
between lines. The master is soft-clipped and normalised to -1 dBFS peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.song.builtin.vocals import LINE_RMS, SungLine
from mvflow.song.theory import SAMPLE_RATE as SR

#: Backing level under a sung line, relative to a normal line's voice RMS.
DUCK_DB = -12.0
#: Backing level where nobody sings, relative to a normal line's voice RMS.
BACKING_DB = -4.0
#: Ducking ramps (seconds): the band dips just before a line and returns just after.
DUCK_ATTACK_S = 0.08
DUCK_RELEASE_S = 0.25
PEAK_DBFS = -1.0


def db(value: float) -> float:
    return 10 ** (value / 20)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def duck_envelope(backing: np.ndarray, lines: list[SungLine]) -> np.ndarray:
    """Per-sample backing gain: 1 between lines, and inside each line whatever puts it DUCK_DB under the voice."""
    env = np.ones(len(backing), dtype=np.float32)
    target = LINE_RMS * db(DUCK_DB)
    for line in lines:
        a, b = int(line.start * SR), int(line.end * SR)
        level = rms(backing[a:b])
        if level <= target:
            continue
        gain = target / level
        lo = max(0, a - int(DUCK_ATTACK_S * SR))
        hi = min(len(env), b + int(DUCK_RELEASE_S * SR))
        shape = np.ones(hi - lo, dtype=np.float32)
        attack, release = a - lo, hi - b
        shape[:attack] = np.linspace(1.0, 0.0, attack, dtype=np.float32) if attack else shape[:0]
        shape[attack:hi - lo - release] = 0.0
        if release:
            shape[-release:] = np.linspace(0.0, 1.0, release, dtype=np.float32)
        # shape is 1 where the band plays freely and 0 where it is fully ducked.
        env[lo:hi] = np.minimum(env[lo:hi], gain + (1.0 - gain) * shape)
    return env


def fade_envelope(n: int, fade_out_start: int, fade_in: int = int(0.01 * SR)) -> np.ndarray:
    """A 10 ms fade in, and a cosine fade out from `fade_out_start` to exactly zero at the last sample."""
    env = np.ones(n, dtype=np.float32)
    fade_in = min(fade_in, n)
    env[:fade_in] = np.linspace(0.0, 1.0, fade_in, dtype=np.float32)
    length = n - fade_out_start
    if length > 0:
        env[fade_out_start:] *= (0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, length))).astype(np.float32)
    return env


def soft_clip(x: np.ndarray, ceiling: float, knee: float = 0.8) -> np.ndarray:
    """Leave samples below knee*ceiling untouched; bend louder ones smoothly towards the ceiling."""
    k = knee * ceiling
    mag = np.abs(x)
    over = mag > k
    bent = k + (ceiling - k) * np.tanh((mag[over] - k) / (ceiling - k))
    y = x.copy()
    y[over] = np.sign(x[over]) * bent
    return y


@dataclass
class Mix:
    """The master and the two stems that make it (stems already carry the master gain)."""

    master: np.ndarray
    voice: np.ndarray
    backing: np.ndarray
    #: The gain the master applied to voice + band (stems carry it too).
    gain: float = 1.0


def mixdown(voice: np.ndarray, backing: np.ndarray, lines: list[SungLine], fade_out_start_s: float) -> Mix:
    """Balance, duck, fade and master: returns stereo float32 arrays of the input length."""
    n = len(backing)
    level = rms(backing)
    band = backing * (LINE_RMS * db(BACKING_DB) / level) if level > 0 else backing
    band = band * duck_envelope(band, lines)[:, None]
    fades = fade_envelope(n, int(round(fade_out_start_s * SR)))[:, None]
    vocal = np.repeat(voice[:, None], 2, axis=1) * fades  # dry and centred: reverb cost whisper ~2 % words
    band = band * fades
    return master_mix(vocal, band)


def master_mix(vocal: np.ndarray, band: np.ndarray) -> Mix:
    """Sum the stereo voice and band, soft-clip the peaks and normalise to PEAK_DBFS; stems get the same gain."""
    n = len(band)
    mix = vocal + band
    ceiling = db(PEAK_DBFS)
    loud = float(np.percentile(np.abs(mix), 99.9)) if n else 0.0
    gain = 0.75 * ceiling / loud if loud > 0 else 1.0
    master = soft_clip(mix * gain, ceiling)
    peak = float(np.abs(master).max()) if n else 0.0
    final = ceiling / peak if peak > 0 else 1.0
    return Mix(master=(master * final).astype(np.float32), voice=(vocal * gain * final).astype(np.float32),
               backing=(band * gain * final).astype(np.float32), gain=gain * final)
