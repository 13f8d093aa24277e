"""Where a line's words fall inside its bars, and how many bars a line needs.

Words start on a fine subdivision of the beat (see Grid.step_s), one after the other with a
small gap, the way a singer phrases a line: relaxed when the song has room, tight when the
lyrics must be squeezed in. The arranger asks `bars_needed`; the singer asks `fit_words`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mvflow.song.theory import Grid


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
