"""The arranger: sections and lines -> blocks of whole bars that exactly fill the song's length.

A song is a row of blocks: a voice-free intro, the lyric sections in order (each line on
its own whole bars), voice-free [Instrumental] blocks, and an outro that fades. When the
lyrics are too long for the duration, bars are taken away in the order a musician would:
shorter instrumentals and intro/outro first, then tighter lines, then no instrumentals,
and only as a last resort lines are dropped from the end (they are reported as unsung).
Spare bars become a longer intro, short breaks after choruses, and a longer outro.

Lines the request asks the singer to skip (`skip` in `arrange`) are arranged like any other
line, so their bars are played, but they are reported as unsung and nobody sings them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mvflow.song.structure import Section, is_loud, words_of

INTRO_BARS = 2
MAX_INTRO_BARS = 4
INSTRUMENTAL_BARS = 4
OUTRO_BARS = 2
#: Beyond this the outro stops growing and spare bars become instrumental solos.
MAX_OUTRO_BARS = 8
BREAK_BARS = 2
#: Bars per block when a whole song is instrumental (verse-like and chorus-like blocks alternate).
INSTRUMENTAL_BODY_BARS = 8


@dataclass
class LinePlan:
    """One sung line: its words, how many bars it wants (relaxed) and can live with (tight)."""

    text: str
    natural_bars: int
    tight_bars: int
    bars: int = 0
    start_bar: int = 0
    #: 1-based number of the line on the lyric sheet (lines with words, tags not counted).
    number: int = 0
    #: The singer skips this line: its bars are played, nobody sings.
    skipped: bool = False

    @property
    def words(self) -> list[str]:
        return words_of(self.text)

    @property
    def loud(self) -> bool:
        return is_loud(self.text)


@dataclass
class Block:
    """A run of bars with one musical role. Sung blocks are as long as their lines."""

    kind: str
    label: str
    voice_free_bars: int = 0
    lines: list[LinePlan] = field(default_factory=list)
    start_bar: int = 0

    @property
    def sung(self) -> bool:
        return bool(self.lines)

    @property
    def bars(self) -> int:
        return sum(line.bars for line in self.lines) if self.lines else self.voice_free_bars


@dataclass
class Arrangement:
    """Blocks in playing order with start bars assigned, plus the lines that could not be sung."""

    blocks: list[Block]
    total_bars: int
    unsung_lines: list[str]


LineNeeds = Callable[[str], tuple[int, int]]


def build_blocks(sections: list[Section], needs: LineNeeds,
                 skip: frozenset[int] = frozenset()) -> tuple[list[Block], list[str]]:
    """Blocks in lyric order, framed by an intro and an outro; lines under instrumental tags are unsung,
    and so are the lines numbered in `skip` (they keep their bars)."""
    blocks = [Block("intro", "Intro", INTRO_BARS)]
    outro_label = "Outro"
    unsung: list[str] = []
    number = 0
    for index, section in enumerate(sections):
        if section.instrumental:
            number += len(section.lines)
            unsung.extend(section.lines)
            if section.kind == "intro" and len(blocks) == 1:
                blocks[0].label = section.label
            elif section.kind == "outro" and index == len(sections) - 1:
                outro_label = section.label
            else:
                blocks.append(Block("instrumental", section.label, INSTRUMENTAL_BARS))
            continue
        lines = []
        for text in section.lines:
            number += 1
            natural, tight = needs(text)
            lines.append(LinePlan(text=text, natural_bars=natural, tight_bars=tight, bars=natural, number=number,
                                  skipped=number in skip))
            if number in skip:
                unsung.append(text)
        blocks.append(Block(section.kind, section.label, lines=lines))
    blocks.append(Block("outro", outro_label, OUTRO_BARS))
    return blocks, unsung


def _shrink_voice_free(kinds: tuple[str, ...], floor: int) -> Callable[[list[Block]], bool]:
    """A reduction step: take one bar from the longest voice-free block of `kinds` above `floor`."""

    def step(blocks: list[Block]) -> bool:
        candidates = [b for b in blocks if not b.sung and b.kind in kinds and b.voice_free_bars > floor]
        if not candidates:
            return False
        max(reversed(candidates), key=lambda b: b.voice_free_bars).voice_free_bars -= 1
        return True

    return step


def _tighten_line(blocks: list[Block]) -> bool:
    """A reduction step: take one bar from the line with the most room to spare (later lines first)."""
    lines = [line for block in blocks for line in block.lines if line.bars > line.tight_bars]
    if not lines:
        return False
    max(reversed(lines), key=lambda line: line.bars - line.tight_bars).bars -= 1
    return True


#: Reductions in the order they are tried; each removes exactly one bar when it can.
_REDUCTIONS: tuple[Callable[[list[Block]], bool], ...] = (
    _shrink_voice_free(("instrumental",), 2),
    _shrink_voice_free(("intro", "outro"), 1),
    _tighten_line,
    _shrink_voice_free(("instrumental",), 0),
    _shrink_voice_free(("outro",), 0),
)


def _drop_last_line(blocks: list[Block], unsung: list[str]) -> bool:
    """The last resort: drop the final sung line (its block goes when it has no lines left)."""
    for block in reversed(blocks):
        if block.lines:
            line = block.lines.pop()
            if not line.skipped:  # a skipped line is listed as unsung already
                unsung.append(line.text)
            if not block.lines:
                blocks.remove(block)
            return True
    return False


def _shrink(blocks: list[Block], total_bars: int, unsung: list[str]) -> None:
    """Apply reductions (then drop lines) until the blocks fit in `total_bars`."""
    dropped: list[str] = []
    while sum(b.bars for b in blocks) > total_bars:
        if not any(step(blocks) for step in _REDUCTIONS) and not _drop_last_line(blocks, dropped):
            break
    unsung.extend(reversed(dropped))
    blocks[:] = [b for b in blocks if b.bars > 0 or b.kind in ("intro", "outro")]


def _grow(blocks: list[Block], total_bars: int) -> None:
    """Spend spare bars: a longer intro, short breaks after choruses, solos, the rest on the outro."""
    spare = total_bars - sum(b.bars for b in blocks)
    intro = blocks[0]
    if spare >= 3 * (MAX_INTRO_BARS - intro.voice_free_bars) and intro.voice_free_bars < MAX_INTRO_BARS:
        spare -= MAX_INTRO_BARS - intro.voice_free_bars
        intro.voice_free_bars = MAX_INTRO_BARS
    position = 1
    while position < len(blocks) - 1:
        block, following = blocks[position], blocks[position + 1]
        if block.kind in ("chorus", "hook") and following.sung and spare >= 2 * BREAK_BARS:
            blocks.insert(position + 1, Block("instrumental", "Break", BREAK_BARS))
            spare -= BREAK_BARS
            position += 1
        position += 1
    outro = blocks[-1]
    while outro.voice_free_bars + spare > MAX_OUTRO_BARS:  # short lyrics, long song: solos, not a long outro
        bars = min(INSTRUMENTAL_BODY_BARS, outro.voice_free_bars + spare - MAX_OUTRO_BARS)
        blocks.insert(len(blocks) - 1, Block("instrumental", "Solo", bars))
        spare -= bars
    outro.voice_free_bars += max(0, spare)


def _instrumental_body(total_bars: int, intro: Block, outro: Block) -> list[Block]:
    """Verse-like and chorus-like voice-free blocks for a song without lyrics."""
    intro.voice_free_bars = min(MAX_INTRO_BARS, max(1, total_bars // 6))
    body: list[Block] = []
    room = total_bars - intro.voice_free_bars - OUTRO_BARS
    kinds = ("verse", "chorus")
    while room >= INSTRUMENTAL_BODY_BARS // 2:
        bars = min(INSTRUMENTAL_BODY_BARS, room)
        body.append(Block(kinds[len(body) % 2], "Instrumental", bars))
        room -= bars
    return [intro, *body, outro]


def assign_start_bars(blocks: list[Block]) -> None:
    """Number the bars: each block and each line learns the bar it starts on."""
    bar = 0
    for block in blocks:
        block.start_bar = bar
        for line in block.lines:
            line.start_bar = bar
            bar += line.bars
        if not block.lines:
            bar += block.voice_free_bars


def arrange(sections: list[Section], needs: LineNeeds, total_bars: int, partial_bar: bool = False,
            skip: frozenset[int] = frozenset()) -> Arrangement:
    """Fit sections into exactly `total_bars` whole bars.

    With `partial_bar` the song ends inside one more bar; the outro owns it (it is played,
    and faded, but no line is ever placed in it). `skip` holds sheet line numbers nobody sings.
    """
    blocks, unsung = build_blocks(sections, needs, skip)
    if not any(b.sung for b in blocks) and not any(b.kind == "instrumental" for b in blocks):
        blocks = _instrumental_body(total_bars, blocks[0], blocks[-1])
    _shrink(blocks, total_bars, unsung)
    if sum(b.bars for b in blocks) > total_bars:  # shorter than intro + outro: keep what fits
        blocks[0].voice_free_bars = min(blocks[0].voice_free_bars, total_bars)
        blocks[-1].voice_free_bars = max(0, total_bars - blocks[0].voice_free_bars)
    _grow(blocks, total_bars)
    blocks[-1].voice_free_bars += int(partial_bar)
    assign_start_bars(blocks)
    return Arrangement(blocks=blocks, total_bars=total_bars, unsung_lines=unsung)
