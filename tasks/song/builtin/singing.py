"""The sung vocal style: words held over eighth notes, glides between notes, vibrato, melisma.

The spoken style (vocals.py) puts one espeak-ng word per grid step, retuned to one note,
which is what made the offline lyric timing look better than it is on real songs. Here a
word is *sung*: it gets one to three eighth notes of the beat grid, its own melody note
(or two or three notes when it is a melisma, e.g. a line's last word), and is rendered by
pitch-synchronous overlap-add (PSOLA) from the monotone espeak word with

* a time map: the consonants keep their spoken speed, the vowel (syllable nucleus) is held
  until the note ends, so the word really lasts its notes instead of being stretched speech;
* a pitch contour: a scoop into the first note, portamento between notes, delayed vibrato
  (about 5-6 Hz, +-30-60 cents) on held notes, a slow drift, a fall at the end of a phrase;
* a singing envelope: a soft vowel attack, a held note that decays a little, a tremolo
  locked to the vibrato, and a release that is a fade, not a gate.

PSOLA keeps the formants where espeak put them while the pitch moves, which keeps the
words intelligible. Every random choice comes from a stream seeded by the song's seed and
the line's text, so the same request sings the same song, and repeated choruses repeat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mvflow.song.builtin.arrange import Block, LinePlan
from mvflow.song.builtin.harmony import Harmony
from mvflow.song.builtin.melody import Register, line_melody, register_for
from mvflow.song.builtin.params import rng_for
from mvflow.song.builtin.vocals import LINE_RMS, LOUD_DB, Singer, SungLine, SungWord, mix_line, word_chords
from mvflow.song.builtin.voice import sing_word, voice_range_midi
from mvflow.song.structure import words_of
from mvflow.song.theory import SAMPLE_RATE as SR
from mvflow.song.theory import Grid, midi_to_hz

#: A word may be sung this much faster than espeak speaks it before it needs another eighth.
SQUEEZE = 0.75
#: Longest a word is held, in eighths (a word that needs more when squeezed gets what it needs).
MAX_WORD_EIGHTHS = 3
#: Chance that a word gets one eighth more than it needs (relaxed phrasing only).
HOLD_CHANCE = 0.35
#: Chance that an inner word held over two or more eighths is a melisma (two notes).
INNER_MELISMA_CHANCE = 0.35
#: Silence between a word's end and the next word's eighth: a sung legato still articulates.
ARTICULATION_S = 0.04
#: Semitones the sung register sits above the espeak voice's own range (PSOLA moves the pitch,
#: not the formants, so the voice stays itself; a singer's range is above their speaking range).
REGISTER_LIFT = 8.0

#: Pitch contour: scoop into a word, glide between notes, fall at a phrase end (seconds / semitones).
SCOOP_S = 0.07
SCOOP_FIRST_SEMITONES = -0.7
GLIDE_S = 0.09
PHRASE_FALL_S = 0.12
PHRASE_FALL_SEMITONES = -0.8
#: Vibrato: rate range (Hz), depth range (semitones, the peak deviation), delay after a note
#: starts, and how long it takes to reach full depth. Notes shorter than VIBRATO_MIN_NOTE_S get none.
VIBRATO_HZ = (5.0, 6.0)
VIBRATO_DEPTH = (0.3, 0.6)
VIBRATO_DELAY_S = 0.18
VIBRATO_RAMP_S = 0.2
VIBRATO_MIN_NOTE_S = 0.3
#: Slow pitch drift (cents) a real voice has on long notes.
DRIFT_CENTS = 8.0
#: Envelope: vowel attack, release of inner words and of a line's last word, decay over a hold (dB),
#: and tremolo depth (relative amplitude) locked to the vibrato.
ATTACK_S = 0.025
RELEASE_S = 0.07
PHRASE_RELEASE_S = 0.18
HOLD_DECAY_DB = -3.0
TREMOLO = 0.08


@dataclass(frozen=True)
class WordRhythm:
    """Where a word sits in its line, in eighths from the line's first bar, and how many notes it has."""

    eighth: int
    eighths: int
    notes: int


@dataclass(frozen=True)
class Note:
    """One melody note of a sung word, in seconds from the word's start."""

    start: float
    length: float
    midi: float


def eighth_s(grid: Grid) -> float:
    """The sung rhythm's unit: an eighth note in every meter (a 6/8 bar has six of them)."""
    return grid.beat_s / 2


def eighths_per_bar(grid: Grid) -> int:
    return int(round(grid.bar_s / eighth_s(grid)))


def needed_eighths(duration_s: float, unit_s: float) -> int:
    """Eighths a word of this spoken length needs when sung at most SQUEEZE faster."""
    return max(1, math.ceil(duration_s * SQUEEZE / unit_s - 1e-9))


def line_rhythm(durations: list[float], unit_s: float, rng: np.random.Generator | None) -> tuple[list[WordRhythm], int]:
    """Each word's eighths and note count, and the eighths the whole line takes (breath included).

    With `rng` the phrasing is relaxed: a pickup or a late entry, some words held an eighth
    longer, melismas, the last word held over three or more eighths and a breath after it.
    Without it the phrasing is tight: every word as short as it may be, a short last note.
    """
    words: list[WordRhythm] = []
    cursor = int(rng.integers(0, 2)) if rng is not None else 0
    for i, duration in enumerate(durations):
        need = needed_eighths(duration, unit_s)
        last = i == len(durations) - 1
        if rng is None:
            length = max(need, 2) if last else need
            notes = 1
        elif last:
            length = max(need + 1, 3)
            notes = int(rng.integers(2, 4))
        else:
            extra = int(need < MAX_WORD_EIGHTHS and rng.random() < HOLD_CHANCE)
            length = need + extra
            notes = 2 if length >= 2 and rng.random() < INNER_MELISMA_CHANCE else 1
        words.append(WordRhythm(eighth=cursor, eighths=length, notes=min(notes, length)))
        cursor += length
    breath = int(rng.integers(1, 3)) if rng is not None else 1
    return words, cursor + breath


class SungSinger(Singer):
    """A Singer whose lines are sung (held notes, glides, vibrato) instead of spoken on the grid."""

    def __init__(self, voice: str, grid: Grid, seed: int) -> None:
        super().__init__(voice, grid)
        self.seed = seed

    def rhythm(self, text: str, relaxed: bool) -> tuple[list[WordRhythm], int]:
        """The line's rhythm; relaxed phrasing is random but fixed per (seed, line text)."""
        rng = rng_for(self.seed, "sung rhythm", text) if relaxed else None
        return line_rhythm(self.durations(words_of(text)), eighth_s(self.grid), rng)

    def line_needs(self, text: str) -> tuple[int, int]:
        per_bar = eighths_per_bar(self.grid)
        return tuple(max(1, math.ceil(self.rhythm(text, relaxed)[1] / per_bar)) for relaxed in (True, False))

    def register(self, harmony: Harmony) -> Register:
        low, high = voice_range_midi(self.voice)
        return register_for(harmony.key, low + REGISTER_LIFT, high + REGISTER_LIFT)


def melisma_degrees(degree: int, count: int, toward: int | None, register: Register,
                    rng: np.random.Generator) -> list[int]:
    """Scale degrees of a word sung over `count` notes.

    An inner word moves by step toward the next word's note (a passing tone); a line's last
    word (`toward` None) approaches its note by step from above or below, so the line still
    lands on the chord tone the melody chose.
    """
    if count <= 1:
        return [degree]
    if toward is None:
        step = 1 if rng.random() < 0.6 else -1
        return [register.clamp(degree + step * (count - 1 - k)) for k in range(count)]
    step = int(np.sign(toward - degree)) or (1 if rng.random() < 0.5 else -1)
    return [register.clamp(degree + step * k) for k in range(count)]


def word_notes(rhythm: WordRhythm, degrees: list[int], unit_s: float, harmony: Harmony,
               register: Register) -> list[Note]:
    """The word's notes in seconds from its start: one eighth each, the last note gets the rest."""
    notes = []
    for k, degree in enumerate(degrees):
        length = (rhythm.eighths - (len(degrees) - 1)) if k == len(degrees) - 1 else 1
        notes.append(Note(start=k * unit_s, length=length * unit_s,
                          midi=float(harmony.key.degree_midi(degree, register.tonic_midi))))
    return notes


# --------------------------------------------------------------------------- rendering one word


def syllable_nuclei(x: np.ndarray, frame_s: float = 0.01) -> list[int]:
    """Sample positions of the word's syllable nuclei: peaks of its smoothed energy envelope.

    A peak counts when it is loud (over 30 % of the word's loudest frame) and the envelope
    dips by a third between it and the previous peak; the loudest word frame is the fallback.
    """
    frame = max(1, int(SR * frame_s))
    n = len(x) // frame
    if n == 0:
        return [len(x) // 2]
    energy = np.sqrt(np.mean(x[: n * frame].reshape(n, frame) ** 2, axis=1))
    smooth = np.convolve(energy, np.ones(3) / 3, mode="same")
    top = float(smooth.max())
    peaks: list[int] = []
    valley = top
    for i in range(n):
        left = smooth[i - 1] if i else -1.0
        right = smooth[i + 1] if i + 1 < n else -1.0
        valley = min(valley, smooth[i])
        if smooth[i] >= left and smooth[i] > right and smooth[i] > 0.3 * top:
            if not peaks or valley < 0.67 * min(smooth[i], smooth[peaks[-1]]):
                peaks.append(i)
            elif smooth[i] > smooth[peaks[-1]]:
                peaks[-1] = i
            valley = smooth[i]
    peaks = peaks or [int(np.argmax(smooth))]
    return [p * frame + frame // 2 for p in peaks]


def _syllable_boundary(x: np.ndarray, a: int, b: int) -> int:
    """The quietest 5 ms between two nuclei: where the next syllable's consonant is."""
    frame = int(0.005 * SR)
    if b - a < 2 * frame:
        return (a + b) // 2
    starts = range(a, b - frame, frame)
    return min(starts, key=lambda s: float(np.sum(x[s:s + frame] ** 2))) + frame // 2


@dataclass(frozen=True)
class Segment:
    """A stretch of the output word: `play` reads the source at `rate` from `source`; `hold` loops there."""

    out_start: int
    out_end: int
    kind: str
    source: float
    rate: float = 1.0


def time_map(x: np.ndarray, notes: list[Note], n_out: int) -> list[Segment]:
    """How the output word reads its spoken source: consonants at speed, nuclei held as long as needed.

    A word shorter than its notes holds its last nucleus (its last vowel); a word sung over
    several notes with several syllables also holds its first nucleus until the second note,
    so a syllable change falls on a note change. A word longer than its notes is read faster.
    """
    n_src = len(x)
    extra = n_out - n_src
    if extra <= 0:
        return [Segment(0, n_out, "play", 0.0, n_src / max(1, n_out))]
    nuclei = syllable_nuclei(x)
    holds: list[tuple[int, int]] = []  # (source position, samples held)
    if len(notes) > 1 and len(nuclei) > 1:
        boundary = _syllable_boundary(x, nuclei[0], nuclei[1])
        first = min(extra, max(0, int(notes[1].start * SR) - boundary))
        holds.append((nuclei[0], first))
        extra -= first
    holds.append((nuclei[-1], extra))
    segments: list[Segment] = []
    out, src = 0, 0
    for at, length in holds:
        if at > src:
            segments.append(Segment(out, out + at - src, "play", float(src)))
            out += at - src
            src = at
        if length > 0:
            segments.append(Segment(out, out + length, "hold", float(at)))
            out += length
    segments.append(Segment(out, n_out, "play", float(src)))
    return segments


def _source_position(segment: Segment, t: float, step: int, period: float) -> float:
    """Where grain number `step` of a segment reads the source; holds wander +-25 ms (ping-pong)."""
    if segment.kind == "play":
        return segment.source + (t - segment.out_start) * segment.rate
    wander = max(1, int(0.025 * SR / period))
    offset = wander - abs(step % (2 * wander) - wander)
    return segment.source + (offset - wander / 2) * period


def pitch_contour(notes: list[Note], n_out: int, previous_midi: float | None, phrase_end: bool,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """MIDI pitch per output sample, and the vibrato's phase signal (for the tremolo).

    Scoop into the first note, raised-cosine glides at note changes (arriving a little late,
    as singers do), delayed vibrato on every note long enough, a slow drift, and a fall at the
    end of a phrase.
    """
    t = np.arange(n_out) / SR
    midi = np.full(n_out, notes[0].midi)
    for before, note in zip(notes, notes[1:]):
        glide = min(GLIDE_S, 0.5 * before.length, 0.5 * note.length)
        ramp = np.clip((t - (note.start - 0.35 * glide)) / glide, 0.0, 1.0)
        midi += (note.midi - before.midi) * (0.5 - 0.5 * np.cos(np.pi * ramp))
    scoop = SCOOP_FIRST_SEMITONES if previous_midi is None else float(np.clip(previous_midi - notes[0].midi,
                                                                              -2.0, 2.0)) * 0.6
    midi += scoop * np.clip(1.0 - t / SCOOP_S, 0.0, 1.0) ** 2
    if phrase_end:
        fall = np.clip((t - (t[-1] - PHRASE_FALL_S)) / PHRASE_FALL_S, 0.0, 1.0) if n_out else t
        midi += PHRASE_FALL_SEMITONES * fall**2
    wobble = np.zeros(n_out)
    rate, depth = rng.uniform(*VIBRATO_HZ), rng.uniform(*VIBRATO_DEPTH)
    for note in notes:
        if note.length < VIBRATO_MIN_NOTE_S:
            continue
        rel = t - note.start
        inside = (rel >= 0) & (rel < note.length)
        amount = np.clip((rel - VIBRATO_DELAY_S) / VIBRATO_RAMP_S, 0.0, 1.0) * inside
        wobble += amount * np.sin(2 * np.pi * rate * (1 + rng.uniform(-0.03, 0.03)) * rel)
    phases = rng.uniform(0, 2 * np.pi, 2)
    drift = DRIFT_CENTS / 100 * (0.6 * np.sin(2 * np.pi * 0.7 * t + phases[0]) + 0.4 * np.sin(2 * np.pi * 1.6 * t
                                                                                            + phases[1]))
    return midi + depth * wobble + drift, wobble


def pitch_marks(x: np.ndarray, period: float) -> np.ndarray:
    """Analysis marks on the word's glottal pulses: the peaks of its fundamental, about `period` apart.

    espeak's "monotone" words still move a little (its "me" rises most of a semitone), and a
    grain cut half-way between two pulses carries both into the output, so marks a fixed
    period apart would keep that pitch. Here the word is low-passed to its fundamental and,
    from its strongest peak, each next mark is the highest point within +-35 % of a period of
    where the last period says it should be.
    """
    spec = np.fft.rfft(x)
    spec[np.fft.rfftfreq(len(x), 1 / SR) > 1.6 * SR / period] = 0
    fundamental = np.fft.irfft(spec, len(x))
    reach = max(1, int(0.35 * period))
    anchor = int(np.argmax(fundamental))
    marks = [anchor]
    for direction in (1, -1):
        t = anchor
        while 0 <= t + direction * period < len(x):
            guess = int(round(t + direction * period))
            lo, hi = max(0, guess - reach), min(len(x), guess + reach + 1)
            t = lo + int(np.argmax(fundamental[lo:hi]))
            marks.append(t)
    return np.array(sorted(set(marks)), dtype=float)


def psola(x: np.ndarray, base_hz: float, segments: list[Segment], midi: np.ndarray) -> np.ndarray:
    """Overlap-add two-period grains of the monotone `x` (pitch about `base_hz`) at the contour's periods.

    Synthesis marks follow the wanted pitch; each mark takes the source grain nearest to
    where the time map says the output is, so the pitch moves while the formants stay.
    """
    period = SR / base_hz
    width = int(round(period))
    n_out = len(midi)
    window = np.hanning(2 * width + 1)
    padded = np.concatenate([np.zeros(width), x, np.zeros(3 * width + 2)])
    out = np.zeros(n_out + 4 * width + 2)
    hz = 440.0 * 2.0 ** ((midi - 69.0) / 12.0)
    marks = pitch_marks(x, period)
    t, seg, step = 0.0, 0, 0
    while t < n_out:
        while segments[seg].out_end <= t and seg + 1 < len(segments):
            seg, step = seg + 1, 0
        source = _source_position(segments[seg], t, step, period)
        k = min(len(marks) - 1, int(np.searchsorted(marks, source)))
        if k and source - marks[k - 1] < marks[k] - source:
            k -= 1
        a = int(round(marks[k]))
        grain = padded[a: a + 2 * width + 1] * window
        s = int(round(t))
        out[s: s + len(grain)] += grain
        t += SR / hz[min(n_out - 1, s)]
        step += 1
    return out[width: width + n_out]


def singing_envelope(n: int, segments: list[Segment], starts_with_vowel: bool, wobble: np.ndarray,
                     phrase_end: bool) -> np.ndarray:
    """Gain per sample: soft vowel attack, held notes decaying a little, tremolo, and a faded release.

    The release fades a held vowel out; a word that ends on a consonant after its held vowel
    (hold "aa", then "ts") keeps the consonant whole and only gets an anti-click fade.
    """
    env = np.ones(n)
    if starts_with_vowel:
        a = min(n, int(ATTACK_S * SR))
        env[:a] *= np.linspace(0.0, 1.0, a) ** 1.5
    for segment in segments:
        if segment.kind == "hold":
            length = segment.out_end - segment.out_start
            env[segment.out_start:] *= 10 ** (HOLD_DECAY_DB / 20 * np.minimum(
                1.0, np.arange(n - segment.out_start) / max(1, length)))
    env *= 1.0 + TREMOLO * wobble
    release = int((PHRASE_RELEASE_S if phrase_end else RELEASE_S) * SR)
    held_until = max((s.out_end for s in segments if s.kind == "hold"), default=0)
    if n - held_until > release // 2:  # the word ends on a consonant: it is sung, not faded
        release = int(0.01 * SR)
    r = min(n, release)
    if r:
        env[-r:] *= 0.5 + 0.5 * np.cos(np.linspace(0.0, np.pi, r))
    return env


def sing_held_word(word: str, notes: list[Note], length_s: float, voice: str, previous_midi: float | None,
                   phrase_end: bool, rng: np.random.Generator) -> np.ndarray:
    """`word` sung over `notes` for `length_s` seconds (mono float32 at SR).

    espeak speaks the word at the first note, or as near as its own pitch setting reaches;
    PSOLA moves it the rest of the way, so notes above the speaking range keep the voice's formants.
    """
    low, high = voice_range_midi(voice)
    base_hz = midi_to_hz(float(np.clip(notes[0].midi, low, high)))
    spoken = sing_word(word, base_hz, voice, SR)
    n_out = max(1, int(round(length_s * SR)))
    segments = time_map(spoken, notes, n_out)
    midi, wobble = pitch_contour(notes, n_out, previous_midi, phrase_end, rng)
    audio = psola(spoken, base_hz, segments, midi)
    vowel_first = word[:1].lower() in "aeiou"
    return (audio * singing_envelope(n_out, segments, vowel_first, wobble, phrase_end)).astype(np.float32)


# --------------------------------------------------------------------------- a whole line


def sing_line_sung(singer: SungSinger, block: Block, line: LinePlan, harmony: Harmony, register: Register,
                   seed: int, index_in_block: int, voice_track: np.ndarray) -> SungLine:
    """Sing one line into `voice_track` (held notes, melisma) and return where its words landed."""
    grid = singer.grid
    unit = eighth_s(grid)
    words = line.words
    rhythm, span = singer.rhythm(line.text, relaxed=True)
    if span > line.bars * eighths_per_bar(grid):
        rhythm, _ = singer.rhythm(line.text, relaxed=False)
    starts = [r.eighth * unit for r in rhythm]
    # Same section kind + same line number -> same melodic contour, so verses and choruses repeat.
    melody_rng = rng_for(seed, "melody", block.kind, str(index_in_block))
    degrees = line_melody(word_chords(starts, line, grid, harmony), block.kind, register, melody_rng)
    voice_rng = rng_for(seed, "sung voice", line.text)
    line_t = grid.bar_time(line.start_bar)
    sung: list[SungWord] = []
    pieces: list[tuple[int, np.ndarray]] = []
    previous: float | None = None
    for i, (word, r) in enumerate(zip(words, rhythm)):
        last = i + 1 == len(words)
        toward = None if last else degrees[i + 1]
        notes = word_notes(r, melisma_degrees(degrees[i], r.notes, toward, register, voice_rng), unit, harmony,
                           register)
        length = r.eighths * unit - (0.0 if last else ARTICULATION_S)
        audio = sing_held_word(word, notes, length, singer.voice, previous, last, voice_rng)
        at = int(round((line_t + starts[i]) * SR))
        pieces.append((at, audio))
        start = at / SR
        word_notes_abs = tuple((start + n.start, start + min(n.start + n.length, length), n.midi) for n in notes)
        sung.append(SungWord(word, start, (at + len(audio)) / SR, word_notes_abs))
        previous = notes[-1].midi
    mix_line(voice_track, pieces, LINE_RMS * (10 ** (LOUD_DB / 20) if line.loud else 1.0))
    return SungLine(text=line.text, section=block.label, loud=line.loud, words=tuple(sung), number=line.number)
