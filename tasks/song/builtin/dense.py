"""The dense mix: a band as loud as the voice, instruments in the voice's range, a room, stereo.

The light mix (mixdown.py) ducks a soft band 12 dB under a dry voice, which is kind to a
transcriber and nothing like a produced song. Here nothing is ducked:

* the pad is brighter and louder, and a band-limited sawtooth lead plays in the voice's own
  octave: it doubles the sung melody in choruses, plays a counter-melody around the chords
  in verses, and a solo in intros, breaks and outros (melody with no words, where an
  aligner must not put lyrics);
* the band is levelled so the voice and the band have the same RMS over the sung lines
  (`voice_to_backing_db`, 0 dB by default), measured again after the room and reported;
* the voice gets a tempo-synced ping-pong echo (a dotted eighth or a quarter, -12 dB, fading),
  as produced vocals do, and a short room (an exponentially decaying noise impulse, RT60
  0.4-0.8 s from the seed, highs dying faster) is put on the whole mix, voice included;
* stereo: voice, kick, snare and bass in the centre; lead, arpeggio and pad spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.song.builtin.arrange import Arrangement
from mvflow.song.builtin.backing import (
    LEVELS,
    PANS,
    Track,
    bass_midi,
    block_at_bar,
    drum_kit,
    pattern_step_s,
    render_bass,
    render_chords,
    render_drums,
    tone,
)
from mvflow.song.builtin.harmony import Harmony
from mvflow.song.builtin.melody import Register
from mvflow.song.builtin.mixdown import BACKING_DB, Mix, db, fade_envelope, master_mix, rms
from mvflow.song.builtin.vocals import LINE_RMS, SungLine
from mvflow.song.theory import SAMPLE_RATE as SR
from mvflow.song.theory import Grid, midi_to_hz

#: Part levels of the dense band: the vocal-range parts (pad, lead, arpeggio) are pushed up.
DENSE_LEVELS = {**LEVELS, "kick": 0.75, "bass": 0.4, "hat": 0.22, "open": 0.18, "pad": 0.5, "lead": 0.4, "arp": 0.16}
#: Stereo positions: voice, kick, snare and bass centred; the rest spread.
DENSE_PANS = {**PANS, "snare": 0.0, "lead": 0.4, "arp": -0.45, "hat": 0.3}
#: A bright pad (harmonics, rolloff) and a sawtooth lead (1/k harmonics up to about 20 kHz at 500 Hz).
BRIGHT_PAD = (20, 1.15)
#: The middle of the range the light mix's pad voicings use (backing.chord_voicing: MIDI 52-76).
PAD_CENTRE_MIDI = 64
SAW = (40, 1.0)
#: Room: RT60 range (seconds), reverb energy relative to the dry sound (dB), pre-delay (seconds).
RT60_S = (0.4, 0.8)
WET_DB = -6.0
PREDELAY_S = 0.012
#: The vocal echo: delay in beats (a dotted eighth or a quarter), first tap level (dB), feedback, taps.
ECHO_BEATS = (0.75, 1.0)
ECHO_DB = -12.0
ECHO_FEEDBACK = 0.4
ECHO_TAPS = 4
#: Above this the room's tail dies twice as fast (air and soft walls absorb highs).
DAMPING_HZ = 3000.0
#: Below this the room's left and right tails are the same.
COHERENT_HZ = 300.0


@dataclass(frozen=True)
class Room:
    rt60_s: float
    impulse: np.ndarray  # (n, 2): left and right tails, decorrelated


def _lead_range(register: Register, harmony: Harmony) -> tuple[int, int]:
    """The lowest and highest MIDI note the lead plays: the singer's register."""
    key = harmony.key
    return key.degree_midi(register.low_degree, register.tonic_midi), key.degree_midi(register.high_degree,
                                                                                       register.tonic_midi)


def _into_range(midi: int, low: int, high: int) -> int:
    while midi < low:
        midi += 12
    while midi > high:
        midi -= 12
    return midi


def _lead_note(track: Track, midi: float, at_s: float, seconds: float, level: float, pan: float) -> None:
    sound = tone(midi_to_hz(midi), max(0.05, seconds), SAW, 0.01, 0.04)
    track.add(sound, at_s, level, pan)


def render_lead(track: Track, arrangement: Arrangement, grid: Grid, harmony: Harmony, register: Register,
                voicings: list[list[int]], lines: list[SungLine], rng: np.random.Generator) -> None:
    """A sawtooth in the voice's range: doubling in choruses, counter-melody in verses, solos elsewhere."""
    level, pan = DENSE_LEVELS["lead"], DENSE_PANS["lead"]
    low, high = _lead_range(register, harmony)
    step = pattern_step_s(grid)
    per_bar = int(round(grid.bar_s / step))
    doubled = [note for line in lines for word in line.words for note in word.notes]
    for bar, block in enumerate(block_at_bar(arrangement)):
        bar_t = grid.bar_time(bar)
        chord = sorted(_into_range(m, low, high) for m in voicings[bar])
        if block.kind in ("chorus", "hook") and doubled:
            for start, end, midi in doubled:
                if bar_t <= start < bar_t + grid.bar_s:
                    _lead_note(track, midi, start, end - start, level, pan)
        elif block.sung:
            for i in range(0, per_bar, 2):  # counter-melody: chord tones, some syncopated
                shift = int(rng.random() < 0.3)
                if i + shift < per_bar:
                    midi = chord[int(rng.integers(0, len(chord)))]
                    _lead_note(track, midi, bar_t + (i + shift) * step, (2 - shift) * step, level * 0.8, pan)
        else:
            degree = int(rng.integers(2, 5))
            for i in range(per_bar):  # a solo: eighths walking the scale, chord tones on the beats
                midi = harmony.key.degree_midi(register.clamp(degree), register.tonic_midi)
                if i % 2 == 0:
                    midi = min(chord, key=lambda c: abs(c - midi))
                _lead_note(track, midi, bar_t + i * step, step * 0.9, level, pan)
                degree += int(rng.choice([-2, -1, 1, 2]))
                degree += int(np.sign(3 - degree)) if abs(degree - 3) > 3 else 0


def render_dense_backing(arrangement: Arrangement, grid: Grid, harmony: Harmony, n_samples: int,
                         rng: np.random.Generator, register: Register, lines: list[SungLine],
                         lead_rng: np.random.Generator) -> np.ndarray:
    """The dense band as a stereo float32 array of exactly `n_samples`."""
    track = Track.empty(n_samples)
    kit = drum_kit(midi_to_hz(bass_midi(harmony.key, 0)), rng)
    render_drums(track, arrangement, grid, kit, rng, DENSE_LEVELS, DENSE_PANS)
    render_bass(track, arrangement, grid, harmony, DENSE_LEVELS, DENSE_PANS)
    low, high = _lead_range(register, harmony)
    octave = round(((low + high) / 2 - PAD_CENTRE_MIDI) / 12)  # the pad sits in the singer's octave
    voicings = render_chords(track, arrangement, grid, harmony, DENSE_LEVELS, DENSE_PANS, BRIGHT_PAD, octave)
    render_lead(track, arrangement, grid, harmony, register, voicings, lines, lead_rng)
    return track.samples


def room(rng: np.random.Generator) -> Room:
    """A stereo room impulse response: pre-delay, then decaying noise, highs decaying twice as fast.

    Left and right tails are independent noise above COHERENT_HZ and the same below it (a
    diffuse field is coherent at the ears for long wavelengths), so the room widens the mids
    and highs but leaves the kick and the bass in the centre. Each channel's tail has energy
    WET_DB relative to the direct sound (which is not in the response).
    """
    rt60 = float(rng.uniform(*RT60_S))
    n = int(SR * rt60)
    t = np.arange(n) / SR
    spec = np.fft.rfft(rng.standard_normal((n, 2)), axis=0)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    spec[freqs < COHERENT_HZ, 1] = spec[freqs < COHERENT_HZ, 0]
    high = freqs > DAMPING_HZ
    low_part = np.fft.irfft(np.where(high[:, None], 0, spec), n, axis=0)
    high_part = np.fft.irfft(np.where(high[:, None], spec, 0), n, axis=0)
    decay = np.exp(-6.91 * t / rt60)[:, None]
    tail = low_part * decay + high_part * decay**2
    tail = tail / np.sqrt(np.sum(tail**2, axis=0, keepdims=True)) * db(WET_DB)
    impulse = np.concatenate([np.zeros((int(PREDELAY_S * SR), 2)), tail])
    return Room(rt60_s=rt60, impulse=impulse)


def reverberate(x: np.ndarray, impulse: np.ndarray, spectra: dict | None = None) -> np.ndarray:
    """`x` (n,) or (n, 2) plus its reverb: stereo (n, 2), the tail past the end cut off (FFT convolution).

    `spectra` caches the impulse's spectrum per FFT size (the voice and the band share one room).
    """
    n = len(x)
    size = 1 << int(np.ceil(np.log2(max(2, n + len(impulse) - 1))))
    cache = spectra if spectra is not None else {}
    if size not in cache:
        cache[size] = np.fft.rfft(impulse, size, axis=0)
    source = np.repeat(x[:, None], 2, axis=1) if x.ndim == 1 else x
    out = np.empty((n, 2), dtype=np.float64)
    for channel in range(2):
        wet = np.fft.irfft(np.fft.rfft(source[:, channel], size) * cache[size][:, channel], size)
        out[:, channel] = source[:, channel] + wet[:n]
    return out


def sung_mask(n: int, lines: list[SungLine]) -> np.ndarray:
    """True for every sample inside a sung line (first word's onset to last word's end)."""
    mask = np.zeros(n, dtype=bool)
    for line in lines:
        mask[int(line.start * SR): int(line.end * SR)] = True
    return mask


def voice_to_backing(voice: np.ndarray, backing: np.ndarray, mask: np.ndarray) -> float:
    """Voice RMS over backing RMS (dB) inside `mask`; nan when nothing is sung."""
    if not mask.any():
        return float("nan")
    return 20 * np.log10(max(rms(voice[mask]), 1e-12) / max(rms(backing[mask]), 1e-12))


@dataclass
class DenseMix:
    mix: Mix
    voice_dry: np.ndarray
    voice_to_backing_db: float
    rt60_s: float
    echo_s: float


def vocal_echo(voice: np.ndarray, beat_s: float, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The voice (mono) with a tempo-synced ping-pong echo, as produced vocals have: stereo, and the delay.

    Taps alternate left and right, each ECHO_FEEDBACK of the one before, the first ECHO_DB under the voice.
    """
    delay = beat_s * float(rng.choice(ECHO_BEATS))
    step = int(round(delay * SR))
    out = np.repeat(voice[:, None], 2, axis=1).astype(np.float64)
    for tap in range(ECHO_TAPS):
        shift = (tap + 1) * step
        if shift >= len(voice):
            break
        out[shift:, tap % 2] += voice[:-shift] * (db(ECHO_DB) * ECHO_FEEDBACK**tap)
    return out, delay


def dense_mixdown(voice: np.ndarray, backing: np.ndarray, lines: list[SungLine], fade_out_start_s: float,
                  target_db: float, beat_s: float, rng: np.random.Generator) -> DenseMix:
    """Give the voice its echo, put voice and band in the room, level the band to `target_db` under (over)
    the voice on the sung lines (measured in the room, so the reported balance is the one heard), fade
    and master."""
    n = len(backing)
    mask = sung_mask(n, lines)
    space = room(rng)
    spectra: dict = {}
    echoed, delay = vocal_echo(voice, beat_s, rng)
    wet_voice = reverberate(echoed, space.impulse, spectra)
    wet_band = reverberate(backing.astype(np.float64), space.impulse, spectra)
    level = voice_to_backing(wet_voice, wet_band, mask)
    if np.isfinite(level):
        wet_band *= db(level - target_db)
    else:  # nothing sung: the band plays at the light mix's level
        wet_band *= LINE_RMS * db(BACKING_DB) / max(rms(backing), 1e-12)
    fades = fade_envelope(n, int(round(fade_out_start_s * SR)))[:, None]
    mix = master_mix(wet_voice * fades, wet_band * fades)
    dry = np.repeat(voice[:, None], 2, axis=1) * fades * mix.gain
    return DenseMix(mix=mix, voice_dry=dry.astype(np.float32),
                    voice_to_backing_db=voice_to_backing(mix.voice, mix.backing, mask), rt60_s=space.rt60_s,
                    echo_s=delay)
