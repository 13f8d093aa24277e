"""Tempo, beats and downbeats from the onset strength (numpy only).

  * tempo: the autocorrelation of the onset strength over the lags of 40-240 bpm, weighted
    by a broad prior around 120 bpm (one octave wide, so 60 or 200 bpm still win when the
    music says so), refined to a fraction of a frame by a parabola through the peak; then
    twice that tempo wins if its in-between beats are nearly as strong (settle_octave);
  * beats: dynamic programming (Ellis 2007): each frame's best score is its own onset
    strength plus the best earlier beat about one period back, penalised by how far the gap
    strays from the period (log-squared); the best path is traced back from the end. Weak
    beats at the ends (silence, a fade) are trimmed;
  * downbeats: which beat of each bar comes first, for a known number of beats per bar: the
    phase whose beats carry the most low-frequency onsets (kick, bass notes), harmonic change
    (chords change at bar lines) and starts of timed lyric lines, counted over the whole song.

The built-in engine is the reference: tests and `benchmarks/analysis_accuracy.py` check the
tempo, beats and bar lines found here against the grid it rendered.
"""

from __future__ import annotations

import numpy as np

from mvflow.analysis.onsets import FRAME_RATE, Features

BPM_RANGE = (40.0, 240.0)
PRIOR_BPM = 120.0
TIGHTNESS = 400.0  # how strongly beat gaps keep to the period (4x librosa's: fills must not pull beats off)
#: The faster of two tempos an octave apart wins when its in-between beats are at least this strong
#: (as a share of the others): see settle_octave.
OCTAVE_SHARE = 0.5
#: ... and only up to this tempo: faster still, a doubled pulse is eighth notes, not beats.
MAX_DOUBLED_BPM = 200.0


def normalised_onset(onset: np.ndarray) -> np.ndarray:
    """Onset strength minus its local mean (~0.4 s), floored at 0 and scaled to unit std."""
    width = max(3, int(round(0.4 * FRAME_RATE)) | 1)
    local = np.convolve(onset, np.ones(width) / width, mode="same")
    out = np.maximum(onset - local, 0.0)
    std = out.std()
    return out / std if std > 1e-9 else out


def tempo_period(onset: np.ndarray, prior_bpm: float = PRIOR_BPM) -> float:
    """The beat period in frames (fractional), from the onset strength's autocorrelation."""
    x = onset - onset.mean()
    n = len(x)
    if n < 8 or not np.any(x):
        return 60.0 * FRAME_RATE / prior_bpm
    spectrum = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n]
    lo = int(np.floor(60.0 * FRAME_RATE / BPM_RANGE[1]))
    hi = min(n - 2, int(np.ceil(60.0 * FRAME_RATE / BPM_RANGE[0])))
    if hi <= lo + 2:
        return 60.0 * FRAME_RATE / prior_bpm
    lags = np.arange(lo, hi + 1)
    bpm = 60.0 * FRAME_RATE / lags
    prior = np.exp(-0.5 * np.log2(bpm / prior_bpm) ** 2)
    # Unbiased (divide by the overlap) so long lags are not penalised by the shrinking overlap.
    score = acf[lags] / (n - lags) * prior
    best = int(np.argmax(score))
    if 0 < best < len(lags) - 1:
        a, b, c = score[best - 1 : best + 2]
        denom = a - 2 * b + c
        shift = 0.5 * (a - c) / denom if denom < 0 else 0.0
        return float(lags[best] + np.clip(shift, -0.5, 0.5))
    return float(lags[best])


def settle_octave(onset: np.ndarray, period: float, share: float = OCTAVE_SHARE) -> tuple[float, np.ndarray]:
    """(the beat period: `period`, or half of it when every other beat of the faster pulse is
    nearly as strong; the beats tracked at that period (track_beats), tracked once).

    An autocorrelation peaks at every multiple of the beat period, so a kick on beats 1 and 3
    makes half the tempo look as periodic as the tempo itself. Tracking the faster pulse
    tells them apart: if its in-between beats carry onsets at least `share` as strong as the
    others (kick and snare alternating), they are beats; if they are much weaker (off-beat
    hi-hats), the slower pulse is the beat.
    """
    half = period / 2
    if 60.0 * FRAME_RATE / half <= MAX_DOUBLED_BPM:
        beats = track_beats(onset, half)
        if len(beats) >= 8:
            strength = _smoothed(onset, half)[beats]
            even, odd = strength[0::2].mean(), strength[1::2].mean()
            if min(even, odd) >= share * max(even, odd):
                return half, beats
    return period, track_beats(onset, period)


def track_beats(onset: np.ndarray, period: float, tightness: float = TIGHTNESS) -> np.ndarray:
    """Frames of the beats: the dynamic-programming path through the onset strength."""
    n = len(onset)
    if n == 0 or not np.any(onset > 0):
        return np.zeros(0, dtype=np.int64)
    local = _smoothed(onset, period)
    window = np.arange(-int(round(2 * period)), -int(round(period / 2)) + 1)
    penalty = -tightness * np.log(-window / period) ** 2
    score = np.zeros(n)
    back = np.full(n, -1, dtype=np.int64)
    first = True
    for t in range(n):
        candidates = t + window
        valid = candidates >= 0
        if not valid.any():
            score[t] = local[t]
            continue
        options = score[candidates[valid]] + penalty[valid]
        k = int(np.argmax(options))
        # Until the first beat with a real onset, start fresh rather than chaining through silence.
        if first and local[t] < 0.01 * local.max():
            score[t] = local[t]
            continue
        first = False
        score[t] = local[t] + options[k]
        back[t] = candidates[valid][k]
    # The last beat: the best-scoring frame among the last period's local maxima of the score.
    tail = score[max(0, n - int(round(period))) :]
    t = n - len(tail) + int(np.argmax(tail))
    beats = []
    while t >= 0:
        beats.append(t)
        t = int(back[t])
    beats = np.array(beats[::-1], dtype=np.int64)
    return trim_weak(beats, local)


def _smoothed(onset: np.ndarray, period: float) -> np.ndarray:
    """The onset strength smoothed with a Gaussian of ~1/32 of the period: a beat may sit a frame off its peak."""
    half = max(1, int(round(period / 16)))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * 32.0 / period) ** 2)
    return np.convolve(onset, kernel, mode="same")


def trim_weak(beats: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Drop beats at either end whose onset is weaker than half the beats' RMS (silence, a fade-out)."""
    if len(beats) == 0:
        return beats
    strength = local[beats]
    threshold = 0.5 * np.sqrt(np.mean(strength**2))
    strong = np.flatnonzero(strength >= threshold)
    if len(strong) == 0:
        return beats[:0]
    return beats[strong[0] : strong[-1] + 1]


def downbeat_phase(beats: np.ndarray, feats: Features, beats_per_bar: int,
                   line_starts: np.ndarray | None = None) -> int:
    """Index (0..beats_per_bar-1) of the first downbeat among `beats`.

    Each phase (which beat of the bar the first beat is) is scored by what its beats carry:
    low-frequency onsets (kick, bass notes), a change of chroma from the beat before (chords
    change at bar lines) and, when the lyrics are timed, the lines that start on them (sung
    phrases start on bar lines). Each cue is normalised over the phases, so none dominates.
    """
    if beats_per_bar <= 1 or len(beats) < 3 * beats_per_bar:
        return 0
    low = normalised_onset(feats.low_onset)
    window = max(1, int(round(0.03 * FRAME_RATE)))
    kick = np.array([low[max(0, f - window) : f + window + 1].max() for f in np.clip(beats, 0, len(low) - 1)])
    cues = [kick, harmonic_change(beats, feats.chroma)]
    if line_starts is not None and len(line_starts) >= 2:
        votes = np.zeros(len(beats))
        np.add.at(votes, np.abs(beats[None, :] / FRAME_RATE - np.asarray(line_starts)[:, None]).argmin(axis=1), 1.0)
        cues.append(2.0 * votes)
    evidence = np.zeros(beats_per_bar)
    for cue in cues:
        per_phase = np.array([cue[phase::beats_per_bar].mean() for phase in range(beats_per_bar)])
        evidence += per_phase / (per_phase.mean() + 1e-9)
    return int(np.argmax(evidence))


def harmonic_change(beats: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """(len(beats),) how different the chroma of the beat starting here is from the one before it."""
    step = int(np.median(np.diff(beats))) if len(beats) > 1 else 1
    edges = np.append(beats, min(len(chroma), beats[-1] + step))
    means = np.array([chroma[a:max(b, a + 1)].mean(axis=0) for a, b in zip(edges[:-1], edges[1:], strict=True)])
    unit = means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-9)
    change = np.zeros(len(beats))
    change[1:] = 1.0 - np.sum(unit[1:] * unit[:-1], axis=1)
    return change


def refined_tempo(beat_times: np.ndarray, fallback: float) -> float:
    """Tempo (bpm) from the beats themselves: the slope of a straight line through them, which
    averages out each beat's rounding to whole frames (a median gap would stay a whole frame)."""
    if len(beat_times) < 4:
        return fallback
    slope = np.polyfit(np.arange(len(beat_times)), beat_times, 1)[0]
    return float(60.0 / slope) if slope > 0 else fallback
