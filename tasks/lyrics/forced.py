"""The local transcriber's timing of known lyrics: forced alignment with faster-whisper, line by line,
with the evidence that says how sure it is and which lines were not sung at all.

We know the words, so timing does not depend on recognising them (a free transcript of a
dense mix misses most of them). The method, built on whisper_align.WhisperAligner:

1. **Locate** (a sliding window over the song). A 30 s window starts at the audio cursor and
   is offered the next lines of the sheet (as many as could be sung in 1.6x its length). Each
   line's *contrast* (its token log-probability with the window's audio minus with silence)
   says whether it is sung there: at least PRESENT_CONTRAST means yes. A chorus whose text
   already came earlier in the same window is copied by whisper's decoder whatever plays, so
   such a line is also accepted when its text alone (`presence`) is in the window. Lines
   after the last present one belong to later windows; a line between present ones that is
   not present is *unsung* (a singer who skipped it, an [Instrumental] note); two such lines
   in a row end the window's run early. The present lines are aligned together (DTW), and a
   line squeezed into almost no time is not there either. All lines but the last are kept;
   the next window starts a second before that last line, which it re-aligns.
2. **Refine**: lines are re-aligned in small groups (up to GROUP_LINES lines, GROUP_MAX_S
   seconds) in a window that ends where the neighbouring lines are, which tightens word times;
   each line's evidence is measured again there (contrast, or its text alone for a line that
   scores low), and a line without evidence in its own stretch is dropped.
3. **Line ends**: DTW gives the pause before a line to its first word and the pause after it to
   its last; a first word longer than the song's median word is cut back to that length from its
   end, a last word longer than three medians from its start.
4. **Estimated**: lines left without evidence between two placed lines, in a gap long enough
   to sing them, where `vocal_activity` says someone sings, are spread over that voice by their
   length and marked `estimated` rather than leaving a sung verse without lyrics.

Every placed line gets a source — `heard` (contrast >= HEARD_CONTRAST: whisper recognises it),
`aligned` (present, placed by alignment) or `estimated` — and a confidence in 0..1 from its
contrast (mvflow.lyrics.timing.LineTiming).
"""

from __future__ import annotations

import math

import numpy as np

from mvflow.lyrics.align import normalise
from mvflow.lyrics.timing import ESTIMATED_CONFIDENCE, LineTiming, Timing, confidence_of
from mvflow.lyrics.whisper_align import FILLER, FILLER_LINE, WINDOW_S, AlignedWord, WhisperAligner, Window
from mvflow.models import LyricWord

#: Contrast (mean token log-probability with the audio minus with silence) of a line sung in
#: the window. Measured on built-in songs, clean and dense mixes: sung lines 2.0-7.0, lines
#: not in the window -0.7..0.7 (a line cut by the window's edge falls in between).
PRESENT_CONTRAST = 1.2
#: From here on whisper would recognise the line by itself: its source is `heard`.
HEARD_CONTRAST = 3.0
#: A window is offered lines worth this many times its length, at SECONDS_PER_CHAR a letter.
SECONDS_PER_CHAR = 0.1
OFFER_FACTOR = 1.6
MAX_OFFERED_LINES = 12
#: A line aligned into less than this many seconds per letter was squeezed in: not sung there.
SQUEEZED_S_PER_CHAR = 0.025
#: More than this many absent lines in a row end a window's run (the rest belongs to later windows).
MAX_RUN_GAP = 2
#: The next window starts this long before the last line of the previous one.
REWIND_S = 1.0
#: ... and at least this far after the previous window's start (the cursor always moves on).
MIN_ADVANCE_S = 3.0
#: Refining groups: at most this many lines spanning at most this long, padded by PAD_S.
GROUP_LINES = 4
GROUP_MAX_S = 25.0
PAD_S = 1.0
#: A line kept on its text alone is checked in a window of its own stretch, padded this much.
VERIFY_PAD_S = 0.5
#: A line's first word may last at most this many median word durations, its last word at most
#: CLOSER_MAX_MEDIANS (see _cap_line_ends).
OPENER_MAX_MEDIANS = 1.0
CLOSER_MAX_MEDIANS = 3.0
#: Before the song's median word is known, no word of a line's ends lasts longer than this: a line
#: aligned alone in a window would otherwise stretch over all of it (the DTW path covers the window),
#: and the next window would start after the lines sung in that stretch.
MAX_WORD_S = 3.0
#: An estimated run must fit its gap: gap / natural length within these factors.
MIN_STRETCH, MAX_STRETCH = 0.35, 2.5


def time_lines(aligner: WhisperAligner, lines: list[str], maybe_unsung: list[bool] | None = None) -> Timing:
    """Time the known `lines` (display text, in sheet order) on the aligner's song.

    `maybe_unsung[i]` marks lines under an instrumental tag: they are placed only on acoustic
    evidence, never estimated.
    """
    maybe_unsung = maybe_unsung or [False] * len(lines)
    located = _locate(aligner, lines, list(range(len(lines))), 0.0, aligner.duration)
    _second_chance(aligner, lines, located)
    timed = _refine(aligner, lines, located)
    found = _second_chance(aligner, lines, timed)  # gaps left by lines refining dropped
    if found:
        timed = _refine(aligner, lines, timed, only=found)
    _cap_line_ends(timed)
    result: list[LineTiming | None] = [timed.get(k) for k in range(len(lines))]
    voiceless = _estimate(aligner, lines, result, maybe_unsung)
    unsung = {k for k in range(len(lines)) if result[k] is None and (maybe_unsung[k] or k in voiceless)}
    return Timing(lines=result, unsung=unsung)


# --------------------------------------------------------------------------- 1. locate


def _locate(aligner: WhisperAligner, lines: list[str], todo: list[int], start: float, end: float,
            threshold: float = PRESENT_CONTRAST) -> dict[int, LineTiming]:
    """Slide a window over [start, end] looking for the lines `todo` (sheet indices, in order);
    the lines found, each with its alignment."""
    placed: dict[int, LineTiming] = {}
    cursor, position = start, 0
    while position < len(todo) and cursor < end - 1.0:
        window = aligner.window(cursor, min(end, cursor + WINDOW_S))
        offered = _offer(lines, todo[position:], window.end - window.start)
        sung, words, evidence = _sung_in(aligner, window, lines, offered, threshold)
        if not sung:  # nobody sings these lines here: look further on
            cursor += WINDOW_S / 2
            continue
        final = window.end >= end - 0.01
        kept = sung if final or len(sung) == 1 else sung[:-1]
        for k in kept:
            placed[k] = _line_timing(k, words, evidence[k])
        if final:
            break
        last = sung[-1]
        if len(sung) > 1:  # the window's last line may run past its end: the next window starts before it
            position, resume = todo.index(last), placed_start(words, last) - REWIND_S
        else:
            position, resume = todo.index(last) + 1, placed[last].end - REWIND_S / 2
        cursor = max(resume, cursor + MIN_ADVANCE_S)
    return placed


def _second_chance(aligner: WhisperAligner, lines: list[str], placed: dict[int, LineTiming]) -> set[int]:
    """Look again for the lines missing between two placed lines (or before the first, after the
    last), in a window that holds only their stretch of the song: nothing else there to confuse
    them with, and a weakly sung line stands out. Returns the lines it found."""
    found: set[int] = set()
    order = sorted(placed)
    bounds = [-1, *order, len(lines)]
    for before, after in zip(bounds, bounds[1:]):
        missing = list(range(before + 1, after))
        if not missing:
            continue
        # from the last word's start and to the first word's end: a line's outer words may have
        # been handed the pause beside it (see _cap_line_ends), where the missing line may be sung
        start = placed[before].words[-1].start if before >= 0 else 0.0
        end = placed[after].words[0].end if after < len(lines) else aligner.duration
        if end - start >= 1.0:
            more = _locate(aligner, lines, missing, start, end)
            placed.update(more)
            found.update(more)
    return found


def _offer(lines: list[str], candidates: list[int], seconds: float) -> list[int]:
    """The lines a window of `seconds` is asked about: as many as could be sung in OFFER_FACTOR x it."""
    offered, budget = [], 0.0
    for k in candidates:
        offered.append(k)
        budget += SECONDS_PER_CHAR * len(lines[k])
        if budget > OFFER_FACTOR * seconds or len(offered) >= MAX_OFFERED_LINES:
            break
    return offered


def _sung_in(aligner: WhisperAligner, window: Window, lines: list[str], offered: list[int],
             threshold: float):  # noqa: ANN202 - (lines, words, evidence)
    """(the offered lines sung in the window, their alignment, each line's evidence).

    The run starts at the first line present; a line between present ones that is not present is
    left out (unsung, or for a second look); more than MAX_RUN_GAP absent lines in a row end the
    run (what follows belongs to later windows); lines the alignment squeezes are left out too.
    """
    words, contrast = aligner.contrast(window, [(k, lines[k]) for k in offered])
    evidence = _evidence(aligner, window, lines, offered, contrast)
    sung, absent = [], 0
    for k in offered:
        if evidence[k] >= threshold:
            sung.append(k)
            absent = 0
        elif sung:
            absent += 1
            if absent > MAX_RUN_GAP:
                break
    while sung:
        words, contrast = aligner.contrast(window, _with_gaps(lines, sung))
        squeezed = _squeezed(words, sung, lines)
        if not squeezed:
            break
        sung = [k for k in sung if k not in squeezed]
    return sung, words, {k: max(contrast.get(k, -math.inf), evidence[k]) for k in sung}


def _with_gaps(lines: list[str], indices: list[int]) -> list[tuple[int, str]]:
    """The lines `indices` (in order) to align, with a FILLER where lines between them are left out:
    a skipped or mangled line still takes its time in the song, and without a placeholder the DTW
    path (which covers the whole window) would give that time to the next line's first words."""
    out: list[tuple[int, str]] = []
    for previous, k in zip([None, *indices], indices):
        if previous is not None and k > previous + 1:
            out.append((FILLER_LINE, FILLER))
        out.append((k, lines[k]))
    return out


def _evidence(aligner: WhisperAligner, window: Window, lines: list[str], offered: list[int],
              contrast: dict[int, float]) -> dict[int, float]:
    """Each offered line's evidence of being sung in the window: its contrast, or — for a line
    repeating text offered before it, which the decoder copies — its text's contrast alone. Not
    when that earlier line is itself heard in the window: its own singing would answer for the
    repeat's text (the repeat is looked for again in a later window, past the first)."""
    seen: set[str] = set()
    heard: set[str] = set()
    repeats = []
    for k in offered:
        key = " ".join(normalise(w) for w in lines[k].split())
        if key in seen and key not in heard and contrast[k] < PRESENT_CONTRAST:
            repeats.append(k)
        seen.add(key)
        if contrast[k] >= PRESENT_CONTRAST:
            heard.add(key)
    alone = aligner.presence(window, [(k, lines[k]) for k in repeats])
    return {k: max(contrast[k], alone.get(k, -math.inf)) for k in offered}


def _squeezed(words: list[AlignedWord], sung: list[int], lines: list[str]) -> list[int]:
    """Lines the alignment crushed into far less time than the window's other lines take per letter
    (less than MIN_STRETCH of their median pace, or under SQUEEZED_S_PER_CHAR): not sung there."""
    pace = {k: _span(words, k) / max(1, len(lines[k])) for k in sung}
    typical = float(np.median(list(pace.values())))
    return [k for k in sung if pace[k] < max(SQUEEZED_S_PER_CHAR, MIN_STRETCH * typical)]


def _span(words: list[AlignedWord], line: int) -> float:
    mine = [w for w in words if w.line == line]
    return mine[-1].end - mine[0].start


def placed_start(words: list[AlignedWord], line: int) -> float:
    return next(w.start for w in words if w.line == line)


def _line_timing(line: int, words: list[AlignedWord], contrast: float) -> LineTiming:
    mine = [LyricWord(text=w.text, start=w.start, end=w.end) for w in words if w.line == line]
    _cap_ends(mine, MAX_WORD_S, MAX_WORD_S)
    return LineTiming(line, mine, "heard" if contrast >= HEARD_CONTRAST else "aligned", confidence_of(contrast))


# --------------------------------------------------------------------------- 2. refine


def _refine(aligner: WhisperAligner, lines: list[str], located: dict[int, LineTiming],
            only: set[int] | None = None) -> dict[int, LineTiming]:
    """Re-align located lines in small groups bounded by their neighbours (tighter word times).

    With `only`, just those lines are re-aligned; the others are kept as they are.
    """
    order = sorted(located)
    refined = {k: t for k, t in located.items() if only is not None and k not in only}
    k = 0
    while k < len(order):
        if order[k] in refined:
            k += 1
            continue
        group = _group(order, k, located, refined)
        before = located[order[k - 1]].end if k > 0 else 0.0
        after = located[order[k + len(group)]].start if k + len(group) < len(order) else aligner.duration
        start = max(before, located[group[0]].start - PAD_S)
        end = min(after, located[group[-1]].end + PAD_S, start + WINDOW_S)
        window = aligner.window(start, end)
        words, contrast = aligner.contrast(window, _with_gaps(lines, group))
        weak = [g for g in group if contrast[g] < PRESENT_CONTRAST]
        alone = aligner.presence(window, [(g, lines[g]) for g in weak])
        for g in group:
            evidence = max(contrast[g], alone.get(g, -math.inf))
            if evidence >= PRESENT_CONTRAST:  # else its text is not sung where the window placed it
                refined[g] = _line_timing(g, words, evidence)
        for g in [g for g in weak if g in refined and not _sung_where_placed(aligner, lines, refined[g])]:
            del refined[g]
        k += len(group)
    return refined


def _sung_where_placed(aligner: WhisperAligner, lines: list[str], timing: LineTiming) -> bool:
    """A line kept on its text alone (`presence`: its words are somewhere in the window, maybe in
    another line sharing them, "Ride on, ride on" in "Ride on through the dawn") must show that
    text where the alignment put it, in a window of just its own stretch."""
    window = aligner.window(timing.start - VERIFY_PAD_S, timing.end + VERIFY_PAD_S)
    return aligner.presence(window, [(timing.index, lines[timing.index])])[timing.index] >= PRESENT_CONTRAST


def _group(order: list[int], k: int, located: dict[int, LineTiming], kept: dict[int, LineTiming]) -> list[int]:
    """Consecutive located lines from order[k] (none of them `kept` as they are) within GROUP_LINES/GROUP_MAX_S."""
    group = [order[k]]
    while len(group) < GROUP_LINES and k + len(group) < len(order):
        candidate = order[k + len(group)]
        if candidate in kept or located[candidate].end - located[group[0]].start > GROUP_MAX_S:
            break
        group.append(candidate)
    return group


# --------------------------------------------------------------------------- 3. line openers


def _cap_line_ends(timed: dict[int, LineTiming]) -> None:
    """A line's first word may last at most OPENER_MAX_MEDIANS median word durations, its last at
    most CLOSER_MAX_MEDIANS: DTW hands the first word the pause before the line and the last word
    the pause after it. The first word keeps its end (DTW's ends are right: 88 % within 0.3 s on the
    dense-mix benchmark) and loses its start; the last keeps its start. Measured there, line starts
    within 0.3 s: no cap 38 %, this cap 86 %, the first word's true length 86 %; per-letter caps
    51-67 %. Sung last words (held notes) last up to 3.3 medians."""
    durations = [w.end - w.start for t in timed.values() for w in t.words if w.end > w.start]
    if not durations:
        return
    median = float(np.median(durations))
    for timing in timed.values():
        _cap_ends(timing.words, OPENER_MAX_MEDIANS * median, CLOSER_MAX_MEDIANS * median)


def _cap_ends(words: list[LyricWord], first: float, last: float) -> None:
    """Shorten the first word (from its start) to `first` seconds and the last (from its end) to `last`."""
    if words[0].end - words[0].start > first:
        words[0] = words[0].model_copy(update={"start": words[0].end - first})
    if words[-1].end - words[-1].start > last:
        words[-1] = words[-1].model_copy(update={"end": words[-1].start + last})


# --------------------------------------------------------------------------- 4. estimated


def _estimate(aligner: WhisperAligner, lines: list[str], result: list[LineTiming | None],
              maybe_unsung: list[bool]) -> set[int]:
    """Spread each run of unplaced lines over the voice in its stretch of the song (between its
    placed neighbours, or the song's start or end), when the voice could hold them; lines under an
    instrumental tag are never estimated. Returns the lines whose stretch has no voice at all."""
    voiceless: set[int] = set()
    k = 0
    while k < len(result):
        if result[k] is not None:
            k += 1
            continue
        end = k
        while end < len(result) and result[end] is None:
            end += 1
        run = [j for j in range(k, end) if not maybe_unsung[j]]
        lo = result[k - 1].end if k > 0 else 0.0
        hi = result[end].start if end < len(result) else aligner.duration
        voiced = vocal_activity(aligner, lo, hi) if run else None
        if run and voiced is None:
            voiceless.update(run)
        elif run:
            natural = SECONDS_PER_CHAR * sum(len(lines[j]) for j in run)
            if MIN_STRETCH * natural <= voiced[1] - voiced[0] <= MAX_STRETCH * natural + 1.0:
                for j, timing in zip(run, _spread(lines, run, *voiced)):
                    result[j] = timing
        k = end
    return voiceless


def _spread(lines: list[str], run: list[int], start: float, end: float) -> list[LineTiming]:
    """The run's words laid over [start, end] in proportion to their letters."""
    letters = [max(1, len(normalise(w))) for j in run for w in lines[j].split()]
    scale = (end - start) / sum(letters)
    clock, n, out = start, 0, []
    for j in run:
        words = []
        for w in lines[j].split():
            length = letters[n] * scale
            words.append(LyricWord(text=w, start=clock, end=clock + length))
            clock += length
            n += 1
        out.append(LineTiming(j, words, "estimated", ESTIMATED_CONFIDENCE))
    return out


#: A stretch whose speech probability (1 - whisper's no-speech probability) reaches this has a voice.
#: Measured on the dense-mix benchmark songs: windows of one sung line 0.19-0.94 (10th percentile
#: 0.35); the stretches between lines, skipped lines and instrumental breaks 0.04-0.15.
VOICE_PROBABILITY = 0.25
#: Long gaps are scanned in pieces this long (half overlapping) to find where the voice is.
VOICE_PIECE_S = 3.0
#: A gap's first and last moments belong to its neighbours (a held last note, the room's echo, a
#: breath before the next line): the voice is looked for inside these margins.
VOICE_MARGIN_BEFORE_S, VOICE_MARGIN_AFTER_S = 0.8, 1.0


def vocal_activity(aligner: WhisperAligner, start: float, end: float) -> tuple[float, float] | None:
    """The part of [start, end] where a voice sings (first to last voiced piece), or None.

    Uses whisper's no-speech probability, which tells a sung stretch from an instrumental one
    where a speech VAD does not (see WhisperAligner.speech_probability); a gap longer than two
    pieces is scanned piece by piece so an instrumental break inside it is left out.
    """
    start, end = start + VOICE_MARGIN_BEFORE_S, end - VOICE_MARGIN_AFTER_S
    if end - start < 1.0:
        return None
    if end - start <= 2 * VOICE_PIECE_S:
        return (start, end) if aligner.speech_probability(aligner.window(start, end)) >= VOICE_PROBABILITY else None
    starts = np.arange(start, end - VOICE_PIECE_S / 2, VOICE_PIECE_S / 2)
    voiced = [t for t in starts
              if aligner.speech_probability(aligner.window(t, min(end, t + VOICE_PIECE_S))) >= VOICE_PROBABILITY]
    if not voiced:
        return None
    return float(voiced[0]), float(min(end, voiced[-1] + VOICE_PIECE_S))
