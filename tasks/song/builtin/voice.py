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

import numpy as np

from mvflow.song.builtin.espeak import espeak
from mvflow.song.theory import hz_to_midi

#: espeak speaking rate (words per minute) for single words. Isolated words come out longer
#: than in running speech: after grid snapping lines are sung at about 125-145 words a minute.
WORD_RATE = 175

#: The espeak pitch parameter range we use: low settings make male voices sound creaky, and a
#: register near normal speaking pitch is what whisper (and listeners) understand best.
PITCH_PARAM_RANGE = (45, 100)

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


def clear_caches() -> None:
    """Forget calibrations and synthesised words (the next song synthesises everything afresh)."""
    pitch_calibration.cache_clear()
    _spoken_word.cache_clear()
