"""Harmony: a chord progression per section kind, and the chord of every bar of the song.

All chords are diatonic triads of the key (diminished ones avoided), one per bar, so the
bass roots, the pads and the melody's chord tones all belong to the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.song.builtin.arrange import Arrangement
from mvflow.song.theory import Key, note_names

#: Chord progressions (scale degrees, one chord per bar) by section kind, a few per kind so seeds differ.
_PROGRESSIONS: dict[str, dict[str, tuple[tuple[int, ...], ...]]] = {
    "major": {
        "verse": ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 0, 4)),
        "prechorus": ((3, 4, 5, 4), (1, 3, 4, 4)),
        "chorus": ((3, 0, 4, 5), (0, 4, 5, 3), (5, 3, 0, 4)),
        "bridge": ((5, 3, 0, 4), (3, 5, 4, 4)),
        "intro": ((0, 3, 0, 4), (0, 5, 3, 4)),
        "outro": ((3, 4, 0, 0), (3, 0, 4, 0)),
    },
    "minor": {
        "verse": ((0, 5, 2, 6), (0, 3, 5, 4), (0, 6, 5, 6)),
        "prechorus": ((3, 5, 6, 6), (5, 6, 3, 4)),
        "chorus": ((5, 6, 0, 0), (0, 6, 5, 6), (5, 2, 6, 0)),
        "bridge": ((3, 5, 2, 6), (5, 3, 6, 4)),
        "intro": ((0, 5, 0, 6), (0, 3, 0, 6)),
        "outro": ((5, 6, 0, 0), (3, 6, 0, 0)),
    },
}
_KIND_FAMILY = {"hook": "chorus", "instrumental": "verse"}


def progression_for(key: Key, kind: str, choice: int) -> tuple[int, ...]:
    """A chord progression (scale degrees) for a section kind; `choice` picks among variants.

    Modes other than major/minor borrow the table of the closer of the two and skip any
    diminished triad, so every chord stays diatonic and consonant.
    """
    family = "major" if key.degree_semitones(2) == 4 else "minor"
    table = _PROGRESSIONS[family]
    options = table.get(_KIND_FAMILY.get(kind, kind), table["verse"])
    prog = options[choice % len(options)]
    return tuple(d if not key.is_diminished(d) else 0 for d in prog)


@dataclass(frozen=True)
class Harmony:
    """The chord (root scale degree) of every bar of the song."""

    key: Key
    roots: tuple[int, ...]

    def root_at_bar(self, bar: int) -> int:
        return self.roots[min(max(bar, 0), len(self.roots) - 1)] if self.roots else 0


def plan_harmony(arrangement: Arrangement, key: Key, rng: np.random.Generator) -> Harmony:
    """One progression per section kind (all verses share theirs), one chord per bar; ends on the tonic."""
    choice = {kind: int(rng.integers(0, 8)) for kind in ("intro", "verse", "prechorus", "chorus", "hook", "bridge",
                                                         "instrumental", "outro")}
    roots: list[int] = []
    for block in arrangement.blocks:
        prog = progression_for(key, block.kind, choice.get(block.kind, 0))
        roots.extend(prog[i % len(prog)] for i in range(block.bars))
    if roots:
        roots[-1] = 0
    return Harmony(key=key, roots=tuple(roots))


def chord_name(key: Key, degree: int) -> str:
    """Lead-sheet name of the diatonic triad on `degree` ('Am', 'F', 'Bdim')."""
    root, third, fifth = (key.degree_semitones(d) for d in key.triad(degree))
    pc = (key.tonic + root) % 12
    names = note_names(key.tonic, key.mode, key.tonic_name)
    quality = "dim" if fifth - root == 6 else ("m" if third - root == 3 else "")
    return names[pc] + quality
