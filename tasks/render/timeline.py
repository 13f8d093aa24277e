"""When each lyric block is on screen, how opaque it is, and how much of it has been sung.

A "block" is one lyric line shown large plus the next line shown small. Block i owns a
window of time: it starts `lead` seconds before line i is sung and ends `hold` seconds
after it, or, when the next line follows closely, at a boundary the two blocks share.
Each block fades in at the start of its window and out at its end, inside the window, so
windows never overlap and at most one block is on screen: a change of line is a short
dip (old block out, new block in) rather than a dissolve, where two differently laid out
blocks would show through each other.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from mvflow.models import LyricLine, LyricWord
from mvflow.render.style import Style
from mvflow.render.text import normalise_text


@dataclass(frozen=True)
class Block:
    """Line `line` on screen during [start, end], fading in and out over `fade` seconds."""

    line: int  # index into the timeline's lines
    start: float
    end: float
    fade: float

    def opacity(self, t: float) -> float:
        if t <= self.start or t >= self.end:
            return 0.0
        if self.fade <= 0:
            return 1.0
        return _smoothstep(min(t - self.start, self.end - t) / self.fade)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3 - 2 * x)


def usable_lines(lines: list[LyricLine]) -> list[LyricLine]:
    """Lines worth showing, in time order (blank text dropped, inverted times repaired)."""
    kept = [ln if ln.end >= ln.start else ln.model_copy(update={"end": ln.start})
            for ln in lines if ln.text.strip()]
    return sorted(kept, key=lambda ln: (ln.start, ln.end))


def _boundary(prev: LyricLine, nxt: LyricLine, style: Style) -> float | None:
    """The time two neighbouring blocks hand over, or None if there is room for a gap.

    The handover is when the second block would appear (`lead` before it is sung) or, if
    the first line is still being sung then, when it ends; but never after the second
    line has started.
    """
    natural_out, natural_in = prev.end + style.hold, nxt.start - style.lead
    if natural_in - natural_out >= 2 * style.fade:
        return None
    return max(natural_in, min(prev.end, nxt.start))


def schedule(lines: list[LyricLine], style: Style) -> list[Block]:
    """One block per line (lines as returned by usable_lines), in time order, never overlapping."""
    starts = [ln.start - style.lead for ln in lines]
    ends = [ln.end + style.hold for ln in lines]
    for i in range(len(lines) - 1):
        handover = _boundary(lines[i], lines[i + 1], style)
        if handover is not None:
            ends[i] = starts[i + 1] = handover
    return [Block(i, start, end, min(style.fade, (end - start) / 2))
            for i, (start, end) in enumerate(zip(starts, ends, strict=True)) if end > start]


class Timeline:
    """Looks up the block on screen at a time (there is at most one)."""

    def __init__(self, lines: list[LyricLine], style: Style):
        self.lines = usable_lines(lines)
        self.blocks = schedule(self.lines, style)
        self._starts = [b.start for b in self.blocks]
        self.clocks = [KaraokeClock(ln) if style.karaoke else None for ln in self.lines]
        self.next_line = style.next_line
        motion = style.motion
        self.entrance_time = motion.entrance_time if motion.entrance != "none" else 0.0

    def entrance(self, block: Block, t: float) -> float:
        """How much of the line's rise into place is still to go at t: 1 (just appeared) to 0 (landed).

        The rise ends when the line's first word is sung (or when its fade-in is done, if the
        block appears later than that), so the text lands on the word.
        """
        if self.entrance_time <= 0:
            return 0.0
        arrive = max(self.lines[block.line].start, block.start + block.fade)
        begin = max(block.start, arrive - self.entrance_time)
        if t >= arrive or arrive <= begin:
            return 0.0
        progress = max(0.0, (t - begin) / (arrive - begin))
        return (1.0 - progress) ** 2  # ease-out: fast at first, settling onto the word

    def visible(self, t: float) -> tuple[Block, float] | None:
        """(block, opacity) of the block on screen at t, or None."""
        i = bisect.bisect_left(self._starts, t) - 1
        if i < 0:
            return None
        opacity = self.blocks[i].opacity(t)
        return (self.blocks[i], opacity) if opacity > 0.0 else None

    def next_block(self, t: float) -> Block | None:
        """The first block that appears after t."""
        i = bisect.bisect_right(self._starts, t)
        return self.blocks[i] if i < len(self.blocks) else None

    def upcoming_text(self, line: int) -> str | None:
        return self.lines[line + 1].text if self.next_line and line + 1 < len(self.lines) else None

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
