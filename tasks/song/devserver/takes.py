"""Takes that leave lyric lines out: a real ACE-Step weakness, made on demand by the development server.

Generated vocals sometimes skip a line of the lyrics (or several). mvflow's best-take choice
(`--takes N`) exists because of it, so the development server can make a take skip lines: the
FaultPlan's `skip_lines` lists, audio by audio, which lines the next audios leave out, and
`skip_line_rate` lets every audio leave each line out with that probability, drawn from the
audio's own seed (so a take's gaps follow its seed). The built-in engine then sings the lyrics
with its `skip_lines` option: the skipped lines' bars are played and nobody sings them, real
audio that the lyric timing has to find the gaps in, like a real ACE-Step take.

Lines are counted from 1 over the lyric sheet's lines with words (tags and blank lines not
counted), as the built-in engine's `skip_lines` counts them.
"""

from __future__ import annotations

import random

from mvflow.song.structure import parse_lyrics


def sung_line_count(lyrics: str) -> int:
    """The lines with words, as the built-in engine numbers them for `skip_lines`."""
    return sum(len(section.lines) for section in parse_lyrics(lyrics))


def random_skips(seed: int, rate: float, count: int) -> list[int]:
    """Line numbers an audio made with `seed` skips when each line is left out with probability `rate`."""
    if rate <= 0 or count <= 0:
        return []
    rng = random.Random(f"skip-lines\x1f{seed}")
    return [n for n in range(1, count + 1) if rng.random() < rate]
