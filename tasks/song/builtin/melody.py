"""Melodies for lyric lines: one scale note per word, leaning on the chord under it.

A line starts on a chord tone, walks mostly by step, and lands on a chord tone; the
chorus sits higher than the verse. Notes are scale degrees of the song's key, placed in the
singer's comfortable register, so every sung note belongs to the key by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.song.theory import Key

#: Where each section kind's melody hovers, in scale degrees above the tonic.
SECTION_CENTER = {"verse": 2, "prechorus": 3, "chorus": 4, "hook": 4, "bridge": 3, "intro": 2, "outro": 2}

_STEPS = np.array([-2, -1, 0, 1, 2])
_STEP_WEIGHTS = np.array([0.15, 0.3, 0.1, 0.3, 0.15])


@dataclass(frozen=True)
class Register:
    """The singer's range for this key: the tonic's MIDI note and the lowest/highest usable degree."""

    tonic_midi: int
    low_degree: int
    high_degree: int

    def clamp(self, degree: int) -> int:
        return min(self.high_degree, max(self.low_degree, degree))


def register_for(key: Key, low_midi: float, high_midi: float) -> Register:
    """Place the key's tonic so degrees 0..+4 (verse to chorus) sit in the middle of the voice.

    The usable window reaches 2 semitones past what espeak's own pitch setting covers:
    that little is left to resampling, which keeps formants natural.
    """
    low, high = low_midi - 2, high_midi + 2
    target = (low + high) / 2 - 4
    tonic = min((key.tonic_midi_near(target), key.tonic_midi_near(target) + 12), key=lambda t: abs(t - target))
    low_degree = next(d for d in range(-14, 15) if key.degree_midi(d, tonic) >= low)
    high_degree = max(d for d in range(-14, 22) if key.degree_midi(d, tonic) <= high)
    return Register(tonic_midi=tonic, low_degree=low_degree, high_degree=high_degree)


def nearest_chord_tone(degree: int, chord_root: int) -> int:
    """The degree of the chord (root, third or fifth, any octave) nearest to `degree`."""
    candidates = [chord_root + offset + 7 * octave for offset in (0, 2, 4) for octave in range(-3, 4)]
    return min(candidates, key=lambda c: (abs(c - degree), c))


def line_melody(chord_roots: list[int], kind: str, register: Register, rng: np.random.Generator) -> list[int]:
    """Scale degrees for one line, one per word; `chord_roots` is the chord degree under each word."""
    if not chord_roots:
        return []
    center = register.clamp(SECTION_CENTER.get(kind, 2))
    degree = register.clamp(nearest_chord_tone(center + int(rng.integers(-1, 2)), chord_roots[0]))
    notes = [degree]
    for i, root in enumerate(chord_roots[1:], start=1):
        step = int(rng.choice(_STEPS, p=_STEP_WEIGHTS))
        pull = int(np.sign(center - degree)) if abs(center - degree) > 2 else 0
        degree = register.clamp(degree + step + pull)
        if i == len(chord_roots) - 1:
            degree = register.clamp(nearest_chord_tone(degree, root))
        notes.append(degree)
    return notes
