"""When each lyric block is on screen, how opaque it is, and how much of it has been sung.

A "block" is one lyric line shown large plus the next line shown small. Block i fades in
`lead` seconds before line i is sung and fades out `hold` seconds after it ends; when the
next line follows closely the two blocks share one boundary and cross-fade there with
complementary ramps (opacities summing to 1), so the compositor never needs more than a
two-picture lerp.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from tasks.models import LyricLine, LyricWord
from tasks.render.style import Style
from tasks.render.text import normalise_text


@dataclass(frozen=True)
class Ramp:
    """A smooth 0->1 step centred on `at`, `half` seconds each side (a hard step if half=0)."""

    at: float
    half: float

    def rise(self, t: float) -> float:
        if self.half <= 0:
            return 1.0 if t >= self.at else 0.0
        x = min(max((t - self.at + self.half) / (2 * self.half), 0.0), 1.0)
        return x * x * (3 - 2 * x)

    @property
    def begins(self) -> float:
        return self.at - self.half

    @property
    def ends(self) -> float:
        return self.at + self.half


@dataclass(frozen=True)
class Block:
    line: int  # index into the schedule's lines
    fade_in: Ramp
    fade_out: Ramp

    def opacity(self, t: float) -> float:
        return self.fade_in.rise(t) * (1.0 - self.fade_out.rise(t))


def usable_lines(lines: list[LyricLine]) -> list[LyricLine]:
    """Lines worth showing, in time order (blank text dropped, inverted times repaired)."""
    kept = [ln if ln.end >= ln.start else ln.model_copy(update={"end": ln.start})
            for ln in lines if ln.text.strip()]
    return sorted(kept, key=lambda ln: (ln.start, ln.end))


def _boundary(prev: LyricLine, nxt: LyricLine, style: Style) -> float | None:
    """Shared cross-fade time between two neighbouring lines, or None if they fade separately.

    Lines closer than a fade apart cross-fade when the second would appear (`lead` before
    it is sung) or, if the first is still being sung then, when the first ends; but never
    after the second has started.
    """
    natural_out, natural_in = prev.end + style.hold, nxt.start - style.lead
    if natural_in - natural_out >= style.fade:
        return None
    return max(natural_in, min(prev.end, nxt.start))


def schedule(lines: list[LyricLine], style: Style) -> list[Block]:
    """One block per line (lines as returned by usable_lines), with their fade ramps."""
    ins = [ln.start - style.lead for ln in lines]
    outs = [ln.end + style.hold for ln in lines]
    shared = [False] * len(lines)  # shared[i]: block i's fade-out is block i+1's fade-in
    for i in range(len(lines) - 1):
        boundary = _boundary(lines[i], lines[i + 1], style)
        if boundary is not None:
            outs[i] = ins[i + 1] = boundary
            shared[i] = True
    # A ramp may take at most half of its block, and a shared ramp must be the same on
    # both sides for the two opacities to sum to one.
    half_in = [min(style.fade, o - s) / 2 for s, o in zip(ins, outs, strict=True)]
    half_out = list(half_in)
    for i in range(len(lines) - 1):
        if shared[i]:
            half_out[i] = half_in[i + 1] = min(half_out[i], half_in[i + 1])
    return [Block(i, Ramp(ins[i], half_in[i]), Ramp(outs[i], half_out[i]))
            for i in range(len(lines)) if outs[i] > ins[i]]


class Timeline:
    """Looks up the visible blocks (at most two) at a time."""

    def __init__(self, lines: list[LyricLine], style: Style):
        self.lines = usable_lines(lines)
        self.blocks = schedule(self.lines, style)
        self._begins = [b.fade_in.begins for b in self.blocks]
        self.clocks = [KaraokeClock(ln) if style.karaoke else None for ln in self.lines]

    def visible(self, t: float) -> list[tuple[Block, float]]:
        """(block, opacity) for blocks with opacity > 0 at t, earliest first."""
        i = bisect.bisect_right(self._begins, t)
        found = []
        for block in self.blocks[max(0, i - 2) : i]:
            opacity = block.opacity(t)
            if opacity > 0.0:
                found.append((block, opacity))
        return found

    def next_block(self, t: float) -> Block | None:
        """The first block that starts fading in after t."""
        i = bisect.bisect_right(self._begins, t)
        return self.blocks[i] if i < len(self.blocks) else None

    def upcoming_text(self, line: int) -> str | None:
        return self.lines[line + 1].text if line + 1 < len(self.lines) else None

    def has_karaoke(self, line: int) -> bool:
        clock = self.clocks[line]
        return bool(clock and clock.spans)

    def sung_chars(self, line: int, t: float) -> float:
        clock = self.clocks[line]
        return clock.sung_chars(t) if clock else 0.0


@dataclass(frozen=True)
class _Span:
    first: int  # char offsets in the normalised line text
    last: int
    start: float
    end: float


class KaraokeClock:
    """How many characters of a line are sung at time t, from its word timings.

    Words are located in the line's text in order (one-to-one with its tokens when the
    counts match, else by searching forward), so punctuation or casing differences
    between the transcript words and the displayed line do not break the highlight.
    Lines without word timings are never highlighted (sung_chars stays 0).
    """

    def __init__(self, line: LyricLine):
        self.text = normalise_text(line.text)
        self.spans = self._locate(line.words)

    def _locate(self, words: list[LyricWord]) -> list[_Span]:
        tokens = self.text.split(" ")
        if not words:
            return []
        if len(words) == len(tokens):
            spans, pos = [], 0
            for token, word in zip(tokens, words, strict=True):
                spans.append(_Span(pos, pos + len(token), word.start, max(word.end, word.start)))
                pos += len(token) + 1
            return spans
        lowered, cursor, spans = self.text.lower(), 0, []
        for word in words:
            needle = word.text.strip().lower()
            found = lowered.find(needle, cursor) if needle else -1
            if found >= 0:
                spans.append(_Span(found, found + len(needle), word.start, max(word.end, word.start)))
                cursor = found + len(needle)
        return spans

    def sung_chars(self, t: float) -> float:
        sung = 0.0
        for span in self.spans:
            if t >= span.end:
                sung = float(span.last)
            elif t > span.start:
                return span.first + (span.last - span.first) * (t - span.start) / (span.end - span.start)
            else:
                break
        return sung
