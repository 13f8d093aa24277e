"""The band: drums, bass and chords synthesised with numpy, following the arrangement's bars.

Every instrument is rendered by placing short pre-built sounds (drum hits, wavetable notes)
at grid times, so a minute of music costs a fraction of a second. Bass roots and chord
tones come from the key's diatonic triads, the kick is tuned to the tonic, and every note
has short fades, so the backing is in key and click-free by construction.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from mvflow.song.builtin.arrange import Arrangement, Block
from mvflow.song.builtin.harmony import Harmony
from mvflow.song.theory import SAMPLE_RATE as SR
from mvflow.song.theory import Grid, Key, midi_to_hz

# Groove strings: one character per eighth note (a 6/8 bar is six of them, a 4/4 bar eight).
# X = accent, x = normal, o = ghost, . = rest.
_GROOVES: dict[int, dict[str, dict[str, str]]] = {
    4: {
        "intro": {"kick": "x...x...", "hat": "o.o.o.o."},
        "verse": {"kick": "x...x.o.", "snare": "..x...x.", "hat": "xoxoxoxo"},
        "chorus": {"kick": "x..ox...", "snare": "..X...X.", "hat": "xxxxxxxx", "open": ".......o"},
        "bridge": {"kick": "x.......", "snare": "....X...", "hat": "x.x.x.x."},
    },
    3: {
        "intro": {"kick": "x.....", "hat": "o.o.o."},
        "verse": {"kick": "x.....", "snare": "..o.o.", "hat": "xoxoxo"},
        "chorus": {"kick": "x...o.", "snare": "..x.x.", "hat": "xxxxxx", "open": ".....o"},
        "bridge": {"kick": "x.....", "snare": "....x.", "hat": "x.x.x."},
    },
    2: {
        "intro": {"kick": "x...", "hat": "o.o."},
        "verse": {"kick": "x.o.", "snare": "..x.", "hat": "xoxo"},
        "chorus": {"kick": "x.ox", "snare": "..X.", "hat": "xxxx", "open": "...o"},
        "bridge": {"kick": "x...", "snare": "..x.", "hat": "x.x."},
    },
    6: {
        "intro": {"kick": "x.....", "hat": "o..o.."},
        "verse": {"kick": "x....o", "snare": "...x..", "hat": "xooxoo"},
        "chorus": {"kick": "x.ox..", "snare": "...X..", "hat": "xxxxxx", "open": ".....o"},
        "bridge": {"kick": "x.....", "snare": "...x..", "hat": "x..x.."},
    },
}
_GROOVE_OF_KIND = {"intro": "intro", "verse": "verse", "prechorus": "verse", "chorus": "chorus", "hook": "chorus",
                   "bridge": "bridge", "instrumental": "chorus", "outro": "verse"}
_VELOCITY = {"X": 1.0, "x": 0.75, "o": 0.4}

# Bass lines, same step grid: R root, 5 fifth, 8 octave, - hold, . rest.
_BASS_LINES: dict[int, dict[str, str]] = {
    4: {"intro": "R-------", "verse": "R--R--5-", "chorus": "R-R-R-8-", "bridge": "R---5---"},
    3: {"intro": "R-----", "verse": "R---5-", "chorus": "R-R-8-", "bridge": "R-----"},
    2: {"intro": "R---", "verse": "R--5", "chorus": "R-R8", "bridge": "R---"},
    6: {"intro": "R-----", "verse": "R--5--", "chorus": "R-R5-8", "bridge": "R-----"},
}

#: Mix levels of the backing parts (the voice is balanced against their sum later).
LEVELS = {"kick": 0.9, "snare": 0.55, "hat": 0.16, "open": 0.14, "crash": 0.18, "bass": 0.5, "pad": 0.16,
          "arp": 0.09}
#: Stereo position of each part, -1 left .. 1 right.
PANS = {"kick": 0.0, "snare": 0.05, "hat": 0.35, "open": 0.35, "crash": -0.3, "bass": 0.0, "arp": -0.3}


def pattern_step_s(grid: Grid) -> float:
    """One character of a groove or bass string: an eighth note in every meter."""
    return grid.beat_s / 2


def _filtered_noise(n: int, low_hz: float, high_hz: float, rng: np.random.Generator) -> np.ndarray:
    """White noise band-limited in the frequency domain (no scipy needed), unit peak."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / SR)
    spec[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    out = np.fft.irfft(spec, n)
    return out / (np.abs(out).max() + 1e-12)


def _decay(n: int, tau_s: float) -> np.ndarray:
    return np.exp(-np.arange(n) / (SR * tau_s))


def _with_fades(x: np.ndarray, fade_s: float = 0.003) -> np.ndarray:
    n = min(len(x) // 2, int(SR * fade_s))
    y = x.astype(np.float32).copy()
    if n:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def drum_kit(tonic_hz: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One-shot drum sounds. The kick's body glides down to the key's tonic, so it never clashes."""
    n = int(SR * 0.45)
    t = np.arange(n) / SR
    sweep = tonic_hz + 110.0 * np.exp(-t / 0.035)
    kick = np.sin(2 * np.pi * np.cumsum(sweep) / SR) * _decay(n, 0.16)
    kick[: int(SR * 0.004)] += 0.3 * _filtered_noise(int(SR * 0.004), 1000, 6000, rng)
    m = int(SR * 0.3)
    snare = 0.45 * np.sin(2 * np.pi * 190 * np.arange(m) / SR) * _decay(m, 0.04)
    snare += _filtered_noise(m, 1200, 9000, rng) * _decay(m, 0.08)
    return {
        "kick": _with_fades(kick / np.abs(kick).max()),
        "snare": _with_fades(snare / np.abs(snare).max()),
        "hat": _with_fades(_filtered_noise(int(SR * 0.08), 7000, 16000, rng) * _decay(int(SR * 0.08), 0.012)),
        "open": _with_fades(_filtered_noise(int(SR * 0.35), 6000, 16000, rng) * _decay(int(SR * 0.35), 0.09)),
        "crash": _with_fades(_filtered_noise(int(SR * 1.8), 3500, 16000, rng) * _decay(int(SR * 1.8), 0.55)),
    }


@functools.cache
def _wavetable(harmonics: int, rolloff: float, size: int = 4096) -> np.ndarray:
    """One period of a soft saw-like wave: harmonics 1..N falling as 1/k**rolloff."""
    phase = np.arange(size) / size
    table = sum(np.sin(2 * np.pi * k * phase) / k**rolloff for k in range(1, harmonics + 1))
    return (table / np.abs(table).max()).astype(np.float32)


#: Timbres: (harmonics, rolloff) of the wavetable each part plays.
BASS, PAD, PLUCK = (6, 1.6), (8, 1.8), (5, 2.2)


@functools.lru_cache(maxsize=1024)
def tone(hz: float, seconds: float, timbre: tuple[int, float], attack_s: float, release_s: float,
         decay_s: float | None = None) -> np.ndarray:
    """A wavetable note with attack/release ramps (and an optional exponential decay for plucks).

    Cached: a progression repeats its chords and bass notes every few bars.
    """
    table = _wavetable(*timbre)
    n = max(1, int(SR * seconds))
    index = (np.arange(n) * (hz * len(table) / SR)).astype(np.int64) % len(table)
    note = table[index]
    env = np.ones(n, dtype=np.float32)
    a, r = min(n, max(1, int(SR * attack_s))), min(n, max(1, int(SR * release_s)))
    env[:a] = np.linspace(0.0, 1.0, a)
    env[-r:] *= np.linspace(1.0, 0.0, r)
    if decay_s:
        env *= _decay(n, decay_s).astype(np.float32)
    out = note * env
    out.setflags(write=False)
    return out


@dataclass
class Track:
    """A stereo buffer that parts are mixed into at a time, with a pan and a level."""

    samples: np.ndarray

    @classmethod
    def empty(cls, n: int) -> "Track":
        return cls(np.zeros((n, 2), dtype=np.float32))

    def add(self, sound: np.ndarray, at_s: float, gain: float = 1.0, pan: float = 0.0) -> None:
        start = int(round(at_s * SR))
        if start >= len(self.samples) or start < 0:
            return
        piece = sound[: len(self.samples) - start]
        if piece.ndim == 1:
            left, right = np.sqrt(0.5 * (1 - pan)), np.sqrt(0.5 * (1 + pan))
            self.samples[start:start + len(piece), 0] += piece * (gain * left)
            self.samples[start:start + len(piece), 1] += piece * (gain * right)
        else:
            self.samples[start:start + len(piece)] += piece * gain


def block_at_bar(arrangement: Arrangement) -> list[Block]:
    """The block each bar belongs to, bar by bar."""
    return [block for block in arrangement.blocks for _ in range(block.bars)]


def render_drums(track: Track, arrangement: Arrangement, grid: Grid, kit: dict[str, np.ndarray],
                 rng: np.random.Generator, levels: dict[str, float] = LEVELS, pans: dict[str, float] = PANS) -> None:
    """Groove per section kind, a crash on chorus downbeats, a snare fill into each new block."""
    grooves = _GROOVES[grid.meter.beats]
    step_s = pattern_step_s(grid)
    blocks = block_at_bar(arrangement)
    for bar, block in enumerate(blocks):
        groove = grooves[_GROOVE_OF_KIND.get(block.kind, "verse")]
        bar_t = grid.bar_time(bar)
        for part, pattern in groove.items():
            for step, char in enumerate(pattern):
                if char in _VELOCITY:
                    vel = _VELOCITY[char] * (0.9 + 0.1 * rng.random())
                    track.add(kit[part], bar_t + step * step_s, levels[part] * vel, pans[part])
        if bar == block.start_bar and block.kind in ("chorus", "hook", "instrumental"):
            track.add(kit["crash"], bar_t, levels["crash"], pans["crash"])
        next_block = blocks[bar + 1] if bar + 1 < len(blocks) else None
        if next_block is not None and next_block is not block and block.kind != "intro":
            _fill(track, kit, bar_t + grid.bar_s - grid.beat_s, grid.beat_s, levels, pans)


def _fill(track: Track, kit: dict[str, np.ndarray], at_s: float, beat_s: float, levels: dict[str, float],
          pans: dict[str, float]) -> None:
    """Four rising snare hits across the last beat of a block: the ear hears 'something new comes'."""
    for i in range(4):
        track.add(kit["snare"], at_s + i * beat_s / 4, levels["snare"] * (0.35 + 0.15 * i), pans["snare"])


def bass_midi(key: Key, degree: int) -> int:
    """The bass note of a scale degree, kept between E1 and D#2 where a bass sits."""
    semis = (key.tonic + key.degree_semitones(degree)) % 12
    return 28 + (semis - 4) % 12


def render_bass(track: Track, arrangement: Arrangement, grid: Grid, harmony: Harmony,
                levels: dict[str, float] = LEVELS, pans: dict[str, float] = PANS) -> None:
    """Bass notes from the line string of each section kind; fifths and octaves of the bar's chord root."""
    lines = _BASS_LINES[grid.meter.beats]
    step_s = pattern_step_s(grid)
    for bar, block in enumerate(block_at_bar(arrangement)):
        pattern = lines[_GROOVE_OF_KIND.get(block.kind, "verse")]
        root = harmony.root_at_bar(bar)
        for step, length, char in _note_events(pattern):
            midi = bass_midi(harmony.key, root + 4) if char == "5" else bass_midi(harmony.key, root)
            midi += 12 if char == "8" else 0
            sound = tone(midi_to_hz(midi), length * step_s * 0.95, BASS, 0.005, 0.03, decay_s=0.6)
            track.add(sound, grid.bar_time(bar) + step * step_s, levels["bass"], pans["bass"])


def _note_events(pattern: str) -> list[tuple[int, int, str]]:
    """(step, length in steps, symbol) for each note of a line string; '-' extends the previous note."""
    events: list[tuple[int, int, str]] = []
    for i, char in enumerate(pattern):
        if char == "-" and events:
            step, length, symbol = events[-1]
            events[-1] = (step, length + 1, symbol)
        elif char not in ".-":
            events.append((i, 1, char))
    return events


def chord_voicing(key: Key, degree: int, previous: list[int] | None) -> list[int]:
    """MIDI notes of the triad on `degree`, in the inversion closest to the previous chord (smooth pads)."""
    base = [60 + (key.tonic + key.degree_semitones(d)) % 12 for d in key.triad(degree)]
    options = []
    for inversion in range(3):
        notes = sorted(n + (12 if i < inversion else 0) for i, n in enumerate(sorted(base)))
        for shift in (-12, 0):
            options.append([n + shift for n in notes])
    options = [o for o in options if 52 <= o[0] and o[-1] <= 76]
    reference = previous or [55, 60, 64]
    return min(options, key=lambda o: (sum(abs(a - b) for a, b in zip(o, reference)), o))


def render_chords(track: Track, arrangement: Arrangement, grid: Grid, harmony: Harmony,
                  levels: dict[str, float] = LEVELS, pans: dict[str, float] = PANS,
                  pad: tuple[int, float] = PAD, octave: int = 0) -> list[list[int]]:
    """A wide pad holding each bar's triad; choruses and instrumentals add an eighth-note arpeggio.

    `octave` moves pad and arpeggio by whole octaves (the dense mix puts them in the singer's
    range). Returns the voicing of every bar (the dense mix's lead plays around it)."""
    step_s = pattern_step_s(grid)
    previous: list[int] | None = None
    voicings: list[list[int]] = []
    for bar, block in enumerate(block_at_bar(arrangement)):
        previous = chord_voicing(harmony.key, harmony.root_at_bar(bar), previous)
        notes = [midi + 12 * octave for midi in previous]
        voicings.append(notes)
        bar_t = grid.bar_time(bar)
        for midi in notes:
            for side, cents in ((-1.0, -6.0), (1.0, 6.0)):
                hz = midi_to_hz(midi + cents / 100.0)
                sound = tone(hz, grid.bar_s + 0.08, pad, 0.06, 0.12)
                track.add(sound, bar_t, levels["pad"] / len(notes) * 1.5, side * 0.7)
        if block.kind in ("chorus", "hook", "instrumental"):
            steps = int(round(grid.bar_s / step_s))
            arp = notes + [notes[0] + 12]
            for step in range(steps):
                sound = tone(midi_to_hz(arp[step % len(arp)] + 12), step_s * 0.9, PLUCK, 0.003, 0.02,
                             decay_s=0.12)
                track.add(sound, bar_t + step * step_s, levels["arp"], pans["arp"])
    return voicings


def render_backing(arrangement: Arrangement, grid: Grid, harmony: Harmony, n_samples: int,
                   rng: np.random.Generator) -> np.ndarray:
    """The whole band as a stereo float32 array of exactly `n_samples`."""
    track = Track.empty(n_samples)
    kit = drum_kit(midi_to_hz(bass_midi(harmony.key, 0)), rng)
    render_drums(track, arrangement, grid, kit, rng)
    render_bass(track, arrangement, grid, harmony)
    render_chords(track, arrangement, grid, harmony)
    return track.samples
