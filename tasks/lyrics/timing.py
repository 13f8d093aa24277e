"""What every transcriber's timing of known lyrics comes to: each line on the clock (or not), its
source and confidence, and the lines the audio shows were not sung.

The local transcriber times lines itself by forced alignment (mvflow.lyrics.forced); the cloud
ones return timed words that mvflow.lyrics.align places on the known lines. Both end here, so the
files, the manifest and the CLI report them the same way.

Sources: `heard` (the audio's words were recognised as this line), `aligned` (forced alignment
of the known words placed it; the audio supports it, less strongly), `estimated` (placed from
where a voice sings and the line's length: no evidence for its words).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from mvflow.models import LineSource, LyricLine, LyricWord

#: Contrast (forced.py) at which confidence reaches 1 - 1/e: confidence = 1 - exp(-contrast / this).
CONFIDENCE_SCALE = 2.5
#: Confidence of an estimated line (no acoustic evidence for its words, only for a voice).
ESTIMATED_CONFIDENCE = 0.2


def confidence_of(contrast: float) -> float:
    """0..1 from forced alignment's contrast: 0 for no evidence, 0.38 at the presence threshold (1.2),
    0.7 at 3, 0.94 at 7."""
    return round(1.0 - math.exp(-max(0.0, contrast) / CONFIDENCE_SCALE), 3)


@dataclass
class LineTiming:
    """One known line on the song's clock."""

    index: int
    words: list[LyricWord]
    source: LineSource
    confidence: float

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    def as_line(self, text: str) -> LyricLine:
        return LyricLine(text=text, start=self.start, end=self.end, words=self.words,
                         confidence=self.confidence, source=self.source)


@dataclass
class Timing:
    """The result for a lyric sheet: one entry per known line (None: not placed), and which
    lines the audio shows were not sung."""

    lines: list[LineTiming | None]
    unsung: set[int] = field(default_factory=set)

    def placed(self) -> list[LineTiming]:
        return [t for t in self.lines if t is not None]
