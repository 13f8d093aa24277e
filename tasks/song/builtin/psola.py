"""Holding a sung word's vowel: pitch-synchronous overlap-add (TD-PSOLA) on a monotone word.

A singer holds the vowel of a long note; espeak-ng only speaks. Because every word was
retuned to an exact note, its pitch period is known, which makes TD-PSOLA simple: grains of
two periods laid one period apart rebuild the word unchanged, and re-using the grains
around the vowel for a while holds it, without touching the consonants or the formants.
"""

from __future__ import annotations

import numpy as np

from mvflow.song.builtin.voice import apply_fades

#: Vibrato on held notes: depth in semitones, rate in Hz, and how long a hold waits before it starts.
VIBRATO_SEMITONES = 0.25
VIBRATO_HZ = 5.5
VIBRATO_DELAY_S = 0.2


def _hold_point(x: np.ndarray, sr: int, period: float) -> int:
    """Where to hold a word: the loudest 10 ms of its second half (its last vowel), on a period boundary."""
    frame = max(1, int(sr * 0.01))
    n_frames = len(x) // frame
    energy = np.array([np.sum(x[i * frame:(i + 1) * frame] ** 2) for i in range(n_frames)])
    first = n_frames // 2
    best = first + int(np.argmax(energy[first:])) if n_frames > first else 0
    centre = best * frame + frame // 2
    return int(round(centre / period) * period)


def sustain(x: np.ndarray, sr: int, hz: float, target_len: int) -> np.ndarray:
    """Stretch a word sung at exactly `hz` to `target_len` samples by holding its last vowel.

    Grains for the held stretch come from +-20 ms around the vowel (ping-pong), and their
    spacing follows a gentle delayed vibrato, so a long note does not sound like a buzzer.
    Words too short to hold, or asked to grow by less than two periods, come back unchanged.
    """
    extra = target_len - len(x)
    period = sr / hz
    if extra < period * 2 or len(x) < 4 * period:
        return x
    width = int(round(period))
    hold_at = _hold_point(x, sr, period)
    wander = max(1, int(0.02 * sr / period))  # grains come from +-20 ms around the hold point
    marks_s, marks_a = _grain_marks(len(x), period, hold_at, extra, wander, sr)
    out = np.zeros(int(marks_s[-1]) + 2 * width + 2, dtype=np.float64)
    window = np.hanning(2 * width + 1)
    padded = np.concatenate([np.zeros(width), x, np.zeros(3 * width + 2)])
    for ts, ta in zip(marks_s, marks_a):
        a = int(round(ta))
        grain = padded[a: a + 2 * width + 1] * window
        s = int(round(ts))
        out[s: s + len(grain)] += grain
    out = out[width: width + target_len]
    if len(out) < target_len:
        out = np.concatenate([out, np.zeros(target_len - len(out))])
    return apply_fades(out.astype(np.float32), sr)


def _grain_marks(n: int, period: float, hold_at: int, extra: int, wander: int,
                 sr: int) -> tuple[list[float], list[float]]:
    """Synthesis and analysis grain positions: identity, then a held stretch, then identity shifted."""
    marks_s: list[float] = []
    marks_a: list[float] = []
    t = 0.0
    while t < hold_at:
        marks_s.append(t)
        marks_a.append(t)
        t += period
    hold_end = hold_at + extra
    step = 0
    while t < hold_end:
        held = (t - hold_at) / sr
        depth = VIBRATO_SEMITONES * min(1.0, max(0.0, (held - VIBRATO_DELAY_S) / 0.2))
        ratio = 2 ** (depth * np.sin(2 * np.pi * VIBRATO_HZ * held) / 12)
        offset = wander - abs(step % (2 * wander) - wander)  # ping-pong 0..wander..0
        marks_s.append(t)
        marks_a.append(hold_at + offset * period)
        t += period / ratio
        step += 1
    shift = t - hold_at
    source = float(hold_at)
    while source < n + period:
        marks_s.append(source + shift)
        marks_a.append(source)
        source += period
    return marks_s, marks_a
