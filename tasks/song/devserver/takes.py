"""Takes that leave lyric lines out: a real ACE-Step weakness, made on demand by the development server.

Generated vocals sometimes skip a line of the lyrics (or several). mvflow's best-take choice
(`--takes N`) exists because of it, so the development server can make a take skip lines: the
FaultPlan's `skip_lines` lists, audio by audio, which lines the next audios leave out, and
`skip_line_rate` lets every audio leave each line out with that probability, drawn from the
audio's own seed (so a take's gaps follow its seed). The singer then sings the lyrics without
those lines: real audio that the lyric timing has to find the gaps in, like a real ACE-Step take.

Lines are counted from 1 over the lyric sheet's lines with words (tags and blank lines not counted),
as the built-in engine's `skip_lines` counts them.
"""

from __future__ import annotations

import random
import re

_TAG_ONLY = re.compile(r"^\s*\[[^\]]*\]\s*$")


def is_sung_line(line: str) -> bool:
    """A line with words (not blank, not only a [tag])."""
    return bool(line.strip()) and not _TAG_ONLY.match(line)


def sung_line_count(lyrics: str) -> int:
    return sum(1 for line in lyrics.splitlines() if is_sung_line(line))


def without_lines(lyrics: str, skip: list[int]) -> str:
    """The lyrics with the sung lines numbered in `skip` removed (tags and the other lines kept)."""
    if not skip:
        return lyrics
    kept, number = [], 0
    for line in lyrics.splitlines():
        if is_sung_line(line):
            number += 1
            if number in skip:
                continue
        kept.append(line)
    return "\n".join(kept)


def random_skips(seed: int, rate: float, count: int) -> list[int]:
    """Line numbers an audio made with `seed` skips when each line is left out with probability `rate`."""
    if rate <= 0 or count <= 0:
        return []
    rng = random.Random(f"skip-lines\x1f{seed}")
    return [n for n in range(1, count + 1) if rng.random() < rate]
