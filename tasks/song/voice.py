"""The singer: espeak-ng words, retuned to melody notes, laid out on the beat grid.

espeak-ng speaks, it does not sing. We make it sing one word per note: each word is
synthesised monotone (pitch_range=0) with espeak's own pitch parameter set as close to
the note as it goes, then resampled by the small remaining ratio. espeak's pitch
parameter is not in Hz, so it is calibrated once per voice by measuring f0 with
autocorrelation. Keeping the resampling ratio tiny keeps the formants where espeak put
them, which is what keeps the words intelligible (the lyrics step transcribes this voice).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from tasks.song.espeak import espeak
from tasks.song.theory import Grid, hz_to_midi

#: espeak speaking rate (words per minute) for single words. Isolated words come out
#: longer than in running speech, so after gaps and grid snapping this lands near 140 wpm.
WORD_RATE = 175

#: The espeak pitch parameter range we use (below ~30 the male voices get creaky).
PITCH_PARAM_RANGE = (25, 100)

#: Voice fades, seconds: short enough to keep consonants, long enough to avoid clicks.
FADE_IN_S = 0.004
FADE_OUT_S = 0.015


def f0_autocorr(x: np.ndarray, sr: int, fmin: float = 50.0, fmax: float = 500.0) -> float | None:
    """Median fundamental frequency of the voiced frames of `x`, by normalised autocorrelation.

    Takes the shortest lag whose correlation is close to the best one, which avoids the
    octave-down errors plain argmax makes on strongly periodic voices.
    """
    frame = int(sr * 0.05)
    hop = frame // 2
    lo, hi = int(sr / fmax), int(sr / fmin)
    window = np.hanning(frame)
    if len(x) < frame:
        return None
    floor = 0.1 * float(np.sqrt(np.mean(x**2)))
    estimates = []
    for start in range(0, len(x) - frame, hop):
        seg = x[start:start + frame] * window
        if np.sqrt(np.mean(seg**2)) < floor:
            continue
        spec = np.fft.rfft(seg, 2 * frame)
        ac = np.fft.irfft(np.abs(spec) ** 2)[: hi + 1]
        if ac[0] <= 0:
            continue
        ac = ac / ac[0]
        best = float(ac[lo:hi].max())
        if best < 0.5:
            continue
        peaks = np.flatnonzero(
            (ac[lo:hi] >= 0.9 * best) & (ac[lo:hi] >= ac[lo - 1:hi - 1]) & (ac[lo:hi] >= ac[lo + 1:hi + 1])
        )
        if len(peaks):
            lag = lo + int(peaks[0])
            estimates.append(sr / _parabolic_lag(ac, lag))
    return float(np.median(estimates)) if estimates else None


def _parabolic_lag(ac: np.ndarray, lag: int) -> float:
    """Refine an autocorrelation peak to sub-sample precision."""
    a, b, c = ac[lag - 1], ac[lag], ac[lag + 1]
    denom = a - 2 * b + c
    return lag + (0.5 * (a - c) / denom if denom else 0.0)


@functools.cache
def pitch_calibration(voice: str) -> tuple[np.ndarray, np.ndarray]:
    """Measured (espeak pitch parameter, f0 in Hz) pairs for a voice, monotonic in both.

    espeak's pitch parameter is an abstract 0-100 number whose Hz depend on the voice,
    so we ask the voice itself once (a few ms of synthesis per point).
    """
    sr = espeak().sample_rate
    params, freqs = [], []
    for param in range(PITCH_PARAM_RANGE[0], PITCH_PARAM_RANGE[1] + 1, 5):
        audio = espeak().synth("we all owe you a rainy day", voice=voice, rate=WORD_RATE, pitch=param,
                               pitch_range=0)
        f0 = f0_autocorr(audio, sr)
        if f0 and (not freqs or f0 > freqs[-1]):
            params.append(param)
            freqs.append(f0)
    if len(params) < 2:
        raise RuntimeError(f"could not calibrate the pitch of espeak voice {voice!r}")
    return np.array(params, dtype=float), np.array(freqs, dtype=float)


def voice_range_midi(voice: str) -> tuple[float, float]:
    """Lowest and highest MIDI pitch the voice reaches without resampling."""
    _, freqs = pitch_calibration(voice)
    return hz_to_midi(float(freqs[0])), hz_to_midi(float(freqs[-1]))


def pitch_param_for(hz: float, voice: str) -> tuple[int, float]:
    """The integer espeak pitch parameter nearest `hz`, and the resampling ratio that fixes the rest."""
    params, freqs = pitch_calibration(voice)
    grid = np.arange(int(params[0]), int(params[-1]) + 1)
    grid_hz = np.exp(np.interp(grid, params, np.log(freqs)))
    best = int(np.argmin(np.abs(np.log(grid_hz / hz))))
    return int(grid[best]), float(hz / grid_hz[best])


@functools.lru_cache(maxsize=8192)
def _spoken_word(word: str, voice: str, pitch: int, rate: int) -> np.ndarray:
    """One word, monotone, trimmed of espeak's leading/trailing silence (cached: choruses repeat)."""
    text = word if word == "I" else word.lower()  # all-caps words would be spelled out letter by letter
    audio = espeak().synth(text, voice=voice, rate=rate, pitch=pitch, pitch_range=0)
    audio = trim_silence(audio, espeak().sample_rate)
    audio.setflags(write=False)
    return audio


def trim_silence(x: np.ndarray, sr: int, rel_threshold: float = 0.02, keep_s: float = 0.008) -> np.ndarray:
    """Cut leading and trailing near-silence, keeping a few ms so soft onsets (h, f, s) survive."""
    if not len(x):
        return x
    loud = np.flatnonzero(np.abs(x) > rel_threshold * float(np.abs(x).max()))
    if not len(loud):
        return x[:0]
    keep = int(sr * keep_s)
    return x[max(0, loud[0] - keep): loud[-1] + keep + 1]


def resample(x: np.ndarray, sr_in: int, sr_out: int, ratio: float = 1.0) -> np.ndarray:
    """Band-limited rate change (FFT) to sr_out, then a small pitch ratio by interpolation.

    ratio > 1 raises pitch (and shortens the sound by the same factor), like a tape played faster.
    """
    n_out = int(round(len(x) * sr_out / sr_in))
    if n_out == 0:
        return np.zeros(0, dtype=np.float32)
    spec = np.fft.rfft(x)
    out_spec = np.zeros(n_out // 2 + 1, dtype=complex)
    keep = min(len(spec), len(out_spec))
    out_spec[:keep] = spec[:keep]
    y = np.fft.irfft(out_spec, n_out) * (n_out / len(x))
    if abs(ratio - 1.0) > 1e-6:
        positions = np.arange(0.0, n_out - 1, ratio)
        y = np.interp(positions, np.arange(n_out), y)
    return y.astype(np.float32)


def apply_fades(x: np.ndarray, sr: int, fade_in_s: float = FADE_IN_S, fade_out_s: float = FADE_OUT_S) -> np.ndarray:
    """Short linear fades at both ends so a note never starts or stops with a click."""
    y = np.array(x, dtype=np.float32)
    n_in = min(len(y), int(sr * fade_in_s))
    n_out = min(len(y), int(sr * fade_out_s))
    if n_in:
        y[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)
    if n_out:
        y[-n_out:] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)
    return y


def sing_word(word: str, hz: float, voice: str, sr_out: int, rate: int = WORD_RATE) -> np.ndarray:
    """`word` sung at `hz`: espeak at the nearest pitch setting, resampled onto the exact note."""
    pitch, ratio = pitch_param_for(hz, voice)
    spoken = _spoken_word(word, voice, pitch, rate)
    return apply_fades(resample(spoken, espeak().sample_rate, sr_out, ratio), sr_out)


def word_durations(words: list[str], voice: str, rate: int = WORD_RATE) -> list[float]:
    """How long each word lasts when spoken at the voice's middle pitch (it barely depends on pitch)."""
    params, _ = pitch_calibration(voice)
    middle = int(params[len(params) // 2])
    sr = espeak().sample_rate
    return [len(_spoken_word(w, voice, middle, rate)) / sr for w in words]


@dataclass(frozen=True)
class Phrasing:
    """How tightly words are packed: the gap after each word and the breath at the end of a line."""

    word_gap_s: float
    end_gap_s: float


#: Comfortable phrasing, used when the song has room; TIGHT when the lyrics must be squeezed in.
RELAXED = Phrasing(word_gap_s=0.02, end_gap_s=0.45)
TIGHT = Phrasing(word_gap_s=0.0, end_gap_s=0.2)


def layout_words(durations: list[float], step_s: float, phrasing: Phrasing) -> tuple[list[float], float]:
    """Word start times (from the line start) on a grid of `step_s`, and the span the line needs.

    Each word starts on the first grid step after the previous word ends plus a small gap,
    so words land on beat subdivisions and never overlap.
    """
    starts: list[float] = []
    cursor = 0.0
    for duration in durations:
        start = math.ceil(cursor / step_s - 1e-9) * step_s
        starts.append(start)
        cursor = start + duration + phrasing.word_gap_s
    end = (starts[-1] + durations[-1]) if durations else 0.0
    return starts, end + phrasing.end_gap_s


def bars_needed(durations: list[float], grid: Grid, phrasing: Phrasing) -> int:
    """Whole bars a line needs with the given phrasing (at least one)."""
    _, span = layout_words(durations, grid.step_s, phrasing)
    return max(1, math.ceil(span / grid.bar_s - 1e-9))


def fit_words(durations: list[float], grid: Grid, bars: int) -> list[float]:
    """Word starts for a line given `bars`: relaxed phrasing when it fits, tight otherwise.

    The tight layout always fits because the arranger never gives a line fewer bars than it needs.
    """
    starts, needed = layout_words(durations, grid.step_s, RELAXED)
    if needed <= bars * grid.bar_s + 1e-9:
        return starts
    return layout_words(durations, grid.step_s, TIGHT)[0]


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
    """Stretch a monotone word to `target_len` samples by holding its last vowel (TD-PSOLA).

    The word was retuned to exactly `hz`, so its pitch period is known: two-period Hann
    grains laid one period apart rebuild the word unchanged, and re-using grains around the
    vowel for a while holds that vowel without touching consonants or formants. A gentle
    vibrato (varying the grain spacing) keeps a long note from sounding like a buzzer.
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
