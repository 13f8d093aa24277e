"""Music theory the local engine needs: keys, scales, diatonic chords, meters and the beat grid.

Everything here is pure and tiny on purpose: the arranger, the backing and the voice all
derive their notes from one `Key` and their times from one `Grid`, which is what keeps the
bass, the chords and the melody in the same key and on the same beat.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_SHARP_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLAT_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")

#: Semitone offsets of each scale degree from the tonic.
MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
}
_MODE_ALIASES = {
    "": "major", "M": "major", "maj": "major", "major": "major", "ionian": "major",
    "m": "minor", "min": "minor", "minor": "minor", "aeolian": "minor",
}

_KEY_RE = re.compile(r"^\s*([A-Ga-g])\s*(#|♯|b|♭|s|sharp|flat)?\s*[-_ ]?\s*([A-Za-z]*)\s*(?:scale|key)?\s*$")


@dataclass(frozen=True)
class Key:
    """A tonic pitch class plus a mode; degrees are 0-based (0 = tonic) and may leave the octave."""

    tonic: int
    mode: str
    tonic_name: str

    @property
    def name(self) -> str:
        return f"{self.tonic_name} {self.mode}"

    @property
    def intervals(self) -> tuple[int, ...]:
        return MODES[self.mode]

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.tonic + i) % 12 for i in self.intervals)

    def degree_semitones(self, degree: int) -> int:
        """Semitones above the tonic of a scale degree (degree 7 is the octave, -1 the leading tone below)."""
        octave, step = divmod(degree, 7)
        return 12 * octave + self.intervals[step]

    def degree_midi(self, degree: int, tonic_midi: int) -> int:
        """MIDI note of `degree` counted from the tonic at `tonic_midi`."""
        return tonic_midi + self.degree_semitones(degree)

    def tonic_midi_near(self, target_midi: float) -> int:
        """The MIDI number of this key's tonic closest to (and not above) `target_midi`."""
        below = math.floor((target_midi - self.tonic) / 12)
        return self.tonic + 12 * below

    def triad(self, degree: int) -> tuple[int, int, int]:
        """The diatonic triad on `degree`, as scale degrees (root, third, fifth): all tones stay in the key."""
        return degree, degree + 2, degree + 4

    def is_diminished(self, degree: int) -> bool:
        root, _, fifth = (self.degree_semitones(d) for d in self.triad(degree))
        return fifth - root == 6


def _mode_name(raw: str) -> str | None:
    if raw in ("M", "m"):  # case matters only for the one-letter forms
        return _MODE_ALIASES[raw]
    low = raw.lower()
    return _MODE_ALIASES.get(low) or (low if low in MODES else None)


def parse_key(text: str) -> Key:
    """Parse 'A minor', 'F# major', 'Bbm', 'C', 'Eb dorian', 'c#min' into a Key.

    Raises ValueError with a readable message for anything else.
    """
    match = _KEY_RE.match(text or "")
    mode = _mode_name(match.group(3)) if match else None
    if not match or mode is None:
        raise ValueError(f"unknown key {text!r}: use e.g. 'A minor', 'F# major', 'Bbm' or 'C'")
    letter = match.group(1).upper()
    accidental = {"#": 1, "♯": 1, "s": 1, "sharp": 1, "b": -1, "♭": -1, "flat": -1}.get(match.group(2) or "", 0)
    tonic = (_LETTER_PC[letter] + accidental) % 12
    if accidental == 0:
        name = letter
    else:
        name = letter + ("#" if accidental > 0 else "b")
    return Key(tonic=tonic, mode=mode, tonic_name=name)


_FLAT_KEYS = {"major": {5, 10, 3, 8, 1}, "minor": {2, 7, 0, 5, 10}}


def note_names(tonic: int, mode: str, tonic_name: str = "") -> tuple[str, ...]:
    """Flat spellings for flat keys (F, Bb, Dm ...) or a flat tonic, sharp spellings otherwise."""
    family = "major" if MODES[mode][2] == 4 else "minor"
    flat = "b" in tonic_name[1:] or (not tonic_name[1:] and tonic % 12 in _FLAT_KEYS[family])
    return _FLAT_NAMES if flat else _SHARP_NAMES


def key_from_pitch_class(tonic: int, mode: str) -> Key:
    """A Key spelled the conventional way (flats for F, Bb, Eb... ; sharps otherwise)."""
    return Key(tonic=tonic % 12, mode=mode, tonic_name=note_names(tonic, mode)[tonic % 12])


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_midi(hz: float) -> float:
    return 69.0 + 12.0 * math.log2(hz / 440.0)


@dataclass(frozen=True)
class Meter:
    """Counted units per bar. 6 is compound 6/8: six eighths felt as two groups of three."""

    beats: int

    @property
    def label(self) -> str:
        return {2: "2/4", 3: "3/4", 4: "4/4", 6: "6/8"}[self.beats]


def parse_time_signature(text: str | int | None) -> Meter:
    """'4', '4/4', '3/4', '6/8', '2' ... -> Meter. Raises ValueError for unsupported meters."""
    raw = str(text if text is not None else "4").strip().replace(" ", "")
    allowed = {"2": 2, "3": 3, "4": 4, "6": 6, "2/4": 2, "3/4": 3, "4/4": 4, "6/8": 6, "": 4}
    if raw not in allowed:
        raise ValueError(f"unsupported time signature {text!r}: use 2, 3, 4 or 6 (or 2/4, 3/4, 4/4, 6/8)")
    return Meter(allowed[raw])


#: The sample rate every part of the song is rendered at (song.wav is 44.1 kHz stereo).
SAMPLE_RATE = 44100

#: Longest grid step a word may be snapped to, seconds.
WORD_STEP_MAX_S = 0.16


@dataclass(frozen=True)
class Grid:
    """Where beats and bars fall in seconds: the single clock every part of the song follows.

    bpm counts quarter notes, as in a DAW. A bar has `meter.beats` counted units: quarters
    in 2/4, 3/4 and 4/4, eighths in 6/8 (so a 6/8 bar lasts three quarter-note beats).
    """

    bpm: int
    meter: Meter

    @property
    def beat_s(self) -> float:
        """One quarter note."""
        return 60.0 / self.bpm

    @property
    def unit_s(self) -> float:
        """One counted unit of the meter: a quarter, or an eighth in 6/8."""
        return self.beat_s / 2 if self.meter.beats == 6 else self.beat_s

    @property
    def bar_s(self) -> float:
        return self.unit_s * self.meter.beats

    @property
    def step_s(self) -> float:
        """The subdivision words start on: the longest unit/2**k of at most WORD_STEP_MAX_S.

        Fine enough that snapping words to it keeps speech flowing (coarse steps open gaps
        between words, which both sounds stilted and blurs whisper's word timing).
        """
        step = self.unit_s
        while step > WORD_STEP_MAX_S:
            step /= 2
        return step

    def bar_time(self, bar: float) -> float:
        return bar * self.bar_s
