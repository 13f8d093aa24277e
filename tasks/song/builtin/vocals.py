"""The lead vocal of a whole song: every placed line sung on its bars, plus where each word landed.

This is where the arranger's bars, the harmony and the singer meet: a line's words are laid
out on the grid from its first bar, each word gets a melody note that fits the chord of the
bar it falls in, and the sung line is levelled so all normal lines sit at the same loudness
(UPPERCASE lines a fixed step louder). The word times recorded here are the ground truth
that placement.json reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mvflow.errors import PermanentError
from mvflow.song.builtin.arrange import Arrangement, Block, LinePlan
from mvflow.song.builtin.harmony import Harmony
from mvflow.song.builtin.melody import Register, line_melody, register_for
from mvflow.song.builtin.params import rng_for
from mvflow.song.builtin.phrasing import RELAXED, TIGHT, bars_needed, fit_words
from mvflow.song.builtin.psola import sustain
from mvflow.song.builtin.voice import pitch_calibration, sing_word, voice_range_midi, word_durations
from mvflow.song.structure import words_of
from mvflow.song.theory import SAMPLE_RATE as SR
from mvflow.song.theory import Grid, midi_to_hz

#: RMS of a normal sung line over its span (first word start to last word end).
LINE_RMS = 0.1
#: How much louder UPPERCASE lines are sung, in dB.
LOUD_DB = 5.0
#: Minimum silence kept between two words (a word never runs into the next one).
MIN_WORD_GAP_S = 0.01
#: Held words stop this long before the next word starts (a sung legato still articulates).
HOLD_GAP_S = 0.05
#: A line's last word is held until this long before the line's bars end: the singer breathes.
BREATH_S = 0.35
#: Longest a word is stretched beyond its spoken length, seconds.
MAX_HOLD_S = 1.2


@dataclass(frozen=True)
class SungWord:
    """A sung word: `start` is when it starts sounding (its onset), `end` when it has faded out.

    `notes` (sung style only) are its melody notes as (start, end, MIDI pitch), several for a melisma.
    """

    text: str
    start: float
    end: float
    notes: tuple[tuple[float, float, float], ...] = ()

    def as_dict(self) -> dict:
        record = {"text": self.text, "start": round(self.start, 4), "end": round(self.end, 4)}
        if self.notes:
            record["notes"] = [[round(a, 4), round(b, 4), round(m, 2)] for a, b, m in self.notes]
        return record


@dataclass(frozen=True)
class SungLine:
    """Where one lyric line was sung, in seconds from the start of the song."""

    text: str
    section: str
    loud: bool
    words: tuple[SungWord, ...]
    #: The line's number on the lyric sheet (1-based, counting lines with words), as skip_lines counts.
    number: int = 0

    @property
    def start(self) -> float:
        return self.words[0].start

    @property
    def end(self) -> float:
        return self.words[-1].end

    def as_dict(self) -> dict:
        return {
            "text": self.text, "line": self.number, "section": self.section, "start": round(self.start, 4),
            "end": round(self.end, 4), "loud": self.loud, "words": [w.as_dict() for w in self.words],
        }


class Singer:
    """An espeak voice that knows its range, measures lines and sings them."""

    def __init__(self, voice: str, grid: Grid) -> None:
        try:
            pitch_calibration(voice)  # fails fast, and once, for a voice espeak-ng does not have
        except ValueError as exc:
            raise PermanentError(f"{exc}: set engine_options.voice to an espeak-ng voice such as 'en-us'") from exc
        self.voice = voice
        self.grid = grid

    def durations(self, words: list[str]) -> list[float]:
        return word_durations(words, self.voice)

    def line_needs(self, text: str) -> tuple[int, int]:
        """(relaxed, tight) bar counts for a line: what the arranger fits the song with."""
        durations = self.durations(words_of(text))
        return bars_needed(durations, self.grid, RELAXED), bars_needed(durations, self.grid, TIGHT)

    def register(self, harmony: Harmony) -> Register:
        low, high = voice_range_midi(self.voice)
        return register_for(harmony.key, low, high)


def word_chords(starts: list[float], line: LinePlan, grid: Grid, harmony: Harmony) -> list[int]:
    """The chord root under each word (the chord of the bar the word starts in)."""
    return [harmony.root_at_bar(line.start_bar + int(start // grid.bar_s)) for start in starts]


def _sing_line(singer: Singer, block: Block, line: LinePlan, harmony: Harmony, register: Register,
               seed: int, index_in_block: int, voice_track: np.ndarray) -> SungLine:
    """Sing one line into `voice_track` and return where its words landed."""
    grid = singer.grid
    words = line.words
    starts = fit_words(singer.durations(words), grid, line.bars)
    # Same section kind + same line number -> same melodic contour, so verses and choruses repeat.
    rng = rng_for(seed, "melody", block.kind, str(index_in_block))
    degrees = line_melody(word_chords(starts, line, grid, harmony), block.kind, register, rng)
    line_t = grid.bar_time(line.start_bar)
    sung: list[SungWord] = []
    pieces: list[tuple[int, np.ndarray]] = []
    for i, (word, start, degree) in enumerate(zip(words, starts, degrees)):
        hz = midi_to_hz(harmony.key.degree_midi(degree, register.tonic_midi))
        last = i + 1 == len(starts)
        room = (line.bars * grid.bar_s if last else starts[i + 1]) - start
        audio = _fit_note(sing_word(word, hz, singer.voice, SR), hz, room, BREATH_S if last else HOLD_GAP_S)
        at = int(round((line_t + start) * SR))
        pieces.append((at, audio))
        sung.append(SungWord(word, at / SR, (at + len(audio)) / SR))
    mix_line(voice_track, pieces, LINE_RMS * (10 ** (LOUD_DB / 20) if line.loud else 1.0))
    return SungLine(text=line.text, section=block.label, loud=line.loud, words=tuple(sung), number=line.number)


def _fit_note(audio: np.ndarray, hz: float, room_s: float, release_s: float) -> np.ndarray:
    """Make a sung word fill its note: held (legato) up to `release_s` before the room ends.

    A word longer than its room (rare: the arranger sizes lines from these lengths) is cut,
    with a short fade instead of a click, so it never runs into the next word.
    """
    limit = int((room_s - MIN_WORD_GAP_S) * SR)
    if len(audio) > limit:
        out = audio[:limit].copy()
        fade = min(len(out), int(0.015 * SR))
        if fade:
            out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        return out
    held = min(room_s - release_s, len(audio) / SR + MAX_HOLD_S)
    return sustain(audio, SR, hz, int(held * SR))


def mix_line(track: np.ndarray, pieces: list[tuple[int, np.ndarray]], target_rms: float) -> None:
    """Add a line's words to the track, scaled so the line's span has `target_rms`."""
    first, last = pieces[0][0], pieces[-1][0] + len(pieces[-1][1])
    span = np.zeros(last - first, dtype=np.float32)
    for at, audio in pieces:
        span[at - first: at - first + len(audio)] += audio
    rms = float(np.sqrt(np.mean(span**2))) if len(span) else 0.0
    gain = target_rms / rms if rms > 0 else 0.0
    end = min(len(track), last)
    if first < end:
        track[first:end] += span[: end - first] * gain


#: How one line is sung into the track: (singer, block, line, harmony, register, seed, index in block, track).
LineSinger = Callable[[Singer, Block, LinePlan, Harmony, Register, int, int, np.ndarray], SungLine]


def sing(arrangement: Arrangement, singer: Singer, harmony: Harmony, seed: int,
         n_samples: int, sing_line: LineSinger | None = None) -> tuple[np.ndarray, list[SungLine]]:
    """The mono vocal track (exactly `n_samples` long) and the placement of every sung line.

    `sing_line` is the vocal style (default: the spoken style of this module). Lines the
    request skips keep their bars and their place in the block (so repeated sections keep
    their melodies) but nobody sings them.
    """
    track = np.zeros(n_samples, dtype=np.float32)
    register = singer.register(harmony)
    placed: list[SungLine] = []
    for block in arrangement.blocks:
        for index, line in enumerate(block.lines):
            if not line.skipped:
                placed.append((sing_line or _sing_line)(singer, block, line, harmony, register, seed, index, track))
    return track, placed
