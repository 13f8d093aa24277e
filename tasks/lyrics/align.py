"""Put the user's known lyrics on the audio's clock.

We know what was sung (we sent it to the song engine), so timing is an alignment
problem, not a transcription problem: the transcript only supplies *times*; every
displayed word is the user's own (case, punctuation, spelling).

How it works
------------
1. ``known_lyric_lines`` turns the lyric sheet into display lines (structure tags gone).
2. ``align_lines`` runs one global Needleman–Wunsch alignment of the transcript's words
   onto all known words of the song.  Scores come from fuzzy token similarity, so a
   misheard word ("arrives" heard as "eyes") still pairs with its slot; two known words
   heard as one ("night time" -> "nighttime") and one heard as two are explicit moves;
   missing, extra and repeated words (a chorus sung three times) fall out of the global
   optimum instead of a greedy search latching onto the wrong repeat.
3. Paired known words take the transcript's times.  Unpaired words inside a line are
   interpolated between their timed neighbours by character length.
4. Placement rule (documented in ``place_lines``): a line is *anchored* when its words
   that paired with similarity >= ``ANCHOR_SIMILARITY`` hold at least ``ANCHOR_MIN_SHARE``
   of its letters.  A run of consecutive un-anchored lines is placed only between two
   anchored lines, and only when the gap between them is a plausible length for that much
   text; otherwise those lines are returned as unplaced, never invented.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
import unicodedata
from dataclasses import dataclass

from mvflow.lyrics.timing import ESTIMATED_CONFIDENCE, LineTiming, Timing
from mvflow.models import LyricLine, LyricWord

#: A pair at least this similar is trusted timing evidence for its word.
ANCHOR_SIMILARITY = 0.5
#: ...and a line is "anchored" when such words hold at least this share of its letters.
#: One short word is no evidence for a whole line: an unsung "(guitar solo over the last
#: chords)" caught a misheard "They" as its "the", and an outro's hallucinated "All right."
#: caught an unsung "...morning light". Measured on built-in-engine songs: sung lines score
#: 0.62 or more, such false anchors 0.20 or less.
ANCHOR_MIN_SHARE = 0.34
#: Scores of leaving known words unheard or heard words unused (affine gaps: a run of
#: n skipped words costs GAP_OPEN + n * GAP_EXTEND). A lone skip (-0.8) costs more than
#: half an unrelated pair (-1), so a substitution between two anchors stays a pair.
GAP_OPEN = -0.3
GAP_EXTEND = -0.5
#: Bonus for a run of skipped known words that starts at a line's start, and again for one
#: that ends at a line's end: with repeated text, "this whole line was not heard" beats
#: an equally long skip straddling two lines.
LINE_GAP_BONUS = 0.1
#: Merges/splits must be near-exact spellings: they are cheaper to get wrong than pairs.
MERGE_MIN_SIMILARITY = 0.75
MERGE_PENALTY = 0.2
#: A line's first word longer than this many median word durations has swallowed the
#: pause before it (whisper's known habit); its start is pulled in to that length.
#: Measured on built-in-engine songs: 1.0 gives median/p90 line-start error 0.07/0.24 s,
#: 2.0 (faster-whisper's own cap) 0.19/0.36 s.
FIRST_WORD_MAX_MEDIANS = 1.0
#: A line's first word shorter than this many median word durations was collapsed onto its
#: end (whisper's other habit after a pause); its start is moved back to one median.
#: Measured with benchmarks/sync_accuracy.py (14 songs, 167 lines, same transcripts):
#: median/p90 line-start error 0.13/0.48 s without, 0.09/0.23 s with it.
FIRST_WORD_MIN_MEDIANS = 0.5
#: Rough singing pace, seconds per character, used for plausibility and packing.
SECONDS_PER_CHAR = 0.1
#: An un-anchored run fits its gap when gap / natural length lies within these factors.
MIN_STRETCH, MAX_STRETCH = 0.35, 2.5
#: Slack added to MAX_STRETCH so very short lines ("Oh!") may still be held for a while.
STRETCH_SLACK_SECONDS = 1.0

_TAG = re.compile(r"\[[^\]]*\]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
_NUMBER_WORDS = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
)

# Dynamic-programming moves: (known words consumed, heard words consumed).
_PAIR, _SKIP_KNOWN, _SKIP_HEARD, _MERGE, _SPLIT = range(5)
_STEPS = {_PAIR: (1, 1), _SKIP_KNOWN: (1, 0), _SKIP_HEARD: (0, 1), _MERGE: (2, 1), _SPLIT: (1, 2)}


# --------------------------------------------------------------------------- known lyrics


def known_lyric_lines(lyrics: str) -> list[str]:
    """The lines a viewer should see: structure tags ([Verse 1], [Chorus], [inst]...) and
    blank lines removed, everything else exactly as the user wrote it."""
    return [text for text, _ in _sheet_lines(lyrics)]


def instrumental_flags(lyrics: str) -> list[bool]:
    """One flag per `known_lyric_lines` entry: True when the line sits under an instrumental
    tag ([Instrumental], [inst], [Solo], [Break]...), where engines play and nobody sings
    (the built-in engine never sings such lines; it lists them as unsung)."""
    return [flag for _, flag in _sheet_lines(lyrics)]


def _sheet_lines(lyrics: str) -> list[tuple[str, bool]]:
    """(display text, under an instrumental tag) for every line that has words."""
    # The tag grammar is the song engine's (ACE-Step style sheets); imported here so the
    # song package loads only when lyrics are actually read.
    from mvflow.song.structure import section_kind

    lines, section = [], None
    for raw in lyrics.splitlines():
        for tag in _TAG.findall(raw):
            section = section_kind(tag[1:-1]) or section  # unknown tags are hints, not sections
        text = re.sub(r"\s+", " ", _TAG.sub(" ", raw)).strip()
        if normalise(text):
            lines.append((text, section == "instrumental"))
    return lines


# --------------------------------------------------------------------------- similarity


def normalise(token: str) -> str:
    """Comparison form of a word: lower case, no accents, no punctuation or apostrophes
    ("Don't," -> "dont"); small numbers spelled out so whisper's "2" meets the user's "two"."""
    text = unicodedata.normalize("NFKD", token.translate(_APOSTROPHES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = re.sub(r"[^a-z0-9]+", "", text)
    if text.isdigit() and int(text) < len(_NUMBER_WORDS):
        return _NUMBER_WORDS[int(text)]
    return text


def _sound_key(word: str) -> str:
    """Crude spelling-to-sound folding so near-homophones compare closer ("eyes"/"arrives")."""
    word = re.sub(r"(.)\1+", r"\1", word)
    for src, dst in (("ph", "f"), ("ck", "k"), ("q", "k"), ("z", "s"), ("y", "i")):
        word = word.replace(src, dst)
    return word


@functools.lru_cache(maxsize=65536)
def similarity(a: str, b: str) -> float:
    """0..1 similarity of two normalised words: best of spelling and sound-folded spelling."""
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    spelled = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    sounded = difflib.SequenceMatcher(None, _sound_key(a), _sound_key(b), autojunk=False).ratio()
    return max(spelled, sounded)


def _best_split(whole: str, left: str, right: str) -> tuple[float, float, float]:
    """Best way to cut `whole` so its two parts match `left` and `right`.

    Returns (sim_left, sim_right, fraction of `whole` before the cut), or zeros when a
    cheap bound already shows `whole` is not `left`+`right` written as one word. Scoring
    the parts separately stops a merge from swallowing a missing short word
    ("tonight we" heard as "tonight" is a pair plus a gap, not a merge).
    """
    matcher = difflib.SequenceMatcher(None, whole, left + right, autojunk=False)
    if matcher.real_quick_ratio() < MERGE_MIN_SIMILARITY or matcher.quick_ratio() < MERGE_MIN_SIMILARITY:
        return 0.0, 0.0, 0.0
    best = (0.0, 0.0, 0.0)
    for cut in range(1, len(whole)):
        sl, sr = similarity(whole[:cut], left), similarity(whole[cut:], right)
        if sl + sr > best[0] + best[1]:
            best = (sl, sr, cut / len(whole))
    return best


@functools.lru_cache(maxsize=65536)
def _joint_score(whole: str, left: str, right: str) -> float:
    """Score of one word standing for two (merge or split): both halves must match.
    Words starting differently or of very different length are ruled out before any
    string matching (this runs for every DP cell)."""
    length_ratio = len(whole) / max(1, len(left) + len(right))
    if not (whole and left and whole[0] == left[0]) or not 0.6 <= length_ratio <= 1.7:
        return float("-inf")
    sl, sr, _ = _best_split(whole, left, right)
    if min(sl, sr) < MERGE_MIN_SIMILARITY:
        return float("-inf")
    return _pair_score(sl) + _pair_score(sr) - MERGE_PENALTY


def _pair_score(sim: float) -> float:
    """+1 for identical, -1 for unrelated: an unrelated pair (-1) still beats two gaps (-1.2),
    which is right for a substitution sitting between two anchors."""
    return 2.0 * sim - 1.0


# --------------------------------------------------------------------------- global alignment


@dataclass
class _Link:
    """One DP move on the best path: known[i:i+nk] <-> heard[j:j+nh] with its similarity."""

    move: int
    i: int
    j: int
    sim: float


def _align(known: list[str], heard: list[str], line_of: list[int]) -> list[_Link]:
    """Needleman–Wunsch (Gotoh's affine-gap form) over normalised words with pair, skip,
    merge and split moves.

    Affine gaps matter for repeated text: when a chorus is sung twice but heard once,
    linear gaps score every way of sharing the heard words between the two copies the
    same; an opening cost per gap makes one copy whole and the other one clean gap.
    Known words after the last heard word are skipped for free (semi-global alignment): a
    song too short for its lyric sheet drops lines from the end, so when the heard words
    fit two copies of a chorus equally well, the earlier copy is the one that was sung.
    `line_of[i]` is the line of known word i (for LINE_GAP_BONUS).
    """
    n, m = len(known), len(heard)
    starts_line = [i == 0 or line_of[i] != line_of[i - 1] for i in range(n)]
    ends_line = [i == n - 1 or line_of[i] != line_of[i + 1] for i in range(n)]
    neg = float("-inf")
    total = [[neg] * (m + 1) for _ in range(n + 1)]  # best score of any path to (i, j)
    gap_k = [[neg] * (m + 1) for _ in range(n + 1)]  # ... whose last move skipped a known word
    gap_h = [[neg] * (m + 1) for _ in range(n + 1)]  # ... whose last move skipped a heard word
    how = [[_PAIR] * (m + 1) for _ in range(n + 1)]  # last move of total[i][j]
    extends_k = [[False] * (m + 1) for _ in range(n + 1)]  # gap_k[i][j] continues a gap
    extends_h = [[False] * (m + 1) for _ in range(n + 1)]
    total[0][0] = 0.0
    for i in range(n + 1):
        for j in range(m + 1):
            if i == j == 0:
                continue
            if i and j == m:  # the unheard tail of the lyric sheet
                gap_k[i][j], extends_k[i][j] = max((total[i - 1][j], False), (gap_k[i - 1][j], True))
            elif i:
                opening = total[i - 1][j] + (LINE_GAP_BONUS if starts_line[i - 1] else 0.0)
                gap_k[i][j], extends_k[i][j] = _gap(opening, gap_k[i - 1][j])
            if j:
                gap_h[i][j], extends_h[i][j] = _gap(total[i][j - 1], gap_h[i][j - 1])
            closing = LINE_GAP_BONUS if i and ends_line[i - 1] and j < m else 0.0
            best, move = gap_k[i][j] + closing, _SKIP_KNOWN
            if gap_h[i][j] > best:
                best, move = gap_h[i][j], _SKIP_HEARD
            candidates = []
            if i and j:
                pair = _pair_score(similarity(known[i - 1], heard[j - 1]))
                candidates.append((total[i - 1][j - 1] + pair, _PAIR))
            if i >= 2 and j:
                merge = _joint_score(heard[j - 1], known[i - 2], known[i - 1])
                candidates.append((total[i - 2][j - 1] + merge, _MERGE))
            if i and j >= 2:
                split = _joint_score(known[i - 1], heard[j - 2], heard[j - 1])
                candidates.append((total[i - 1][j - 2] + split, _SPLIT))
            for s, candidate in candidates:
                if s > best:
                    best, move = s, candidate
            total[i][j], how[i][j] = best, move
    return _trace(how, extends_k, extends_h, known, heard)


def _gap(from_total: float, from_gap: float) -> tuple[float, bool]:
    """Best score ending in a skip: open a new gap or extend the current one (True)."""
    opened, extended = from_total + GAP_OPEN + GAP_EXTEND, from_gap + GAP_EXTEND
    return (extended, True) if extended >= opened else (opened, False)


def _trace(
    how: list[list[int]],
    extends_k: list[list[bool]],
    extends_h: list[list[bool]],
    known: list[str],
    heard: list[str],
) -> list[_Link]:
    """Walk the DP back from the end into the list of moves (with pair similarities)."""
    links: list[_Link] = []
    i, j, state = len(known), len(heard), None
    while i > 0 or j > 0:
        move = state if state is not None else how[i][j]
        if move == _SKIP_KNOWN:
            state = _SKIP_KNOWN if extends_k[i][j] else None
        elif move == _SKIP_HEARD:
            state = _SKIP_HEARD if extends_h[i][j] else None
        dk, dh = _STEPS[move]
        i, j = i - dk, j - dh
        sim = similarity(known[i], heard[j]) if move == _PAIR else 0.0
        links.append(_Link(move, i, j, sim))
    links.reverse()
    return links


# --------------------------------------------------------------------------- timing


@dataclass
class _Slot:
    """One known word on its way to a LyricWord."""

    text: str
    line: int
    chars: int
    start: float | None = None
    end: float | None = None
    sim: float = 0.0

    @property
    def timed(self) -> bool:
        return self.start is not None


def _monotone(words: list[LyricWord]) -> list[LyricWord]:
    """Transcript words with times forced non-decreasing (whisper occasionally overlaps)."""
    out, clock = [], 0.0
    for w in words:
        start = max(w.start, clock)
        end = max(w.end, start)
        out.append(LyricWord(text=w.text, start=start, end=end))
        clock = start
    return out


def _apply_links(
    slots: list[_Slot], heard: list[LyricWord], links: list[_Link], known_n: list[str], heard_n: list[str]
) -> None:
    """Copy transcript times onto the known words they were aligned with (`*_n`: normalised)."""
    for link in links:
        i, j = link.i, link.j
        if link.move == _PAIR:
            _time(slots[i], heard[j].start, heard[j].end, link.sim)
        elif link.move == _SPLIT:
            sl, sr, _ = _best_split(known_n[i], heard_n[j], heard_n[j + 1])
            _time(slots[i], heard[j].start, heard[j + 1].end, min(sl, sr))
        elif link.move == _MERGE:
            sl, sr, frac = _best_split(heard_n[j], known_n[i], known_n[i + 1])
            cut = heard[j].start + frac * (heard[j].end - heard[j].start)
            _time(slots[i], heard[j].start, cut, sl)
            _time(slots[i + 1], cut, heard[j].end, sr)


def _fix_line_openers(slots: list[_Slot], heard: list[LyricWord]) -> None:
    """Re-estimate the start of each line's first heard word when its length is implausible.

    Whisper's word times are least reliable right after a pause, and it errs both ways:
    it stretches the first word back over the pause, or it collapses it to (almost) zero
    length at its end. We know where lines begin, so a line opener longer than
    FIRST_WORD_MAX_MEDIANS median heard-word durations loses its start to that cap (a held
    note keeps its end), and one shorter than FIRST_WORD_MIN_MEDIANS medians is given one
    median before its end, though never before the timed word before it ends.
    """
    durations = sorted(w.end - w.start for w in heard if w.end > w.start)
    if not durations:
        return
    median = durations[len(durations) // 2]
    longest, shortest = FIRST_WORD_MAX_MEDIANS * median, FIRST_WORD_MIN_MEDIANS * median
    previous_end, line = 0.0, None
    for slot in (s for s in slots if s.timed):
        length = slot.end - slot.start
        if slot.line != line and length > longest:
            slot.start = slot.end - longest
        elif slot.line != line and length < shortest:
            slot.start = max(previous_end, min(slot.start, slot.end - median))
        previous_end, line = slot.end, slot.line


def _time(slot: _Slot, start: float, end: float, sim: float) -> None:
    slot.start, slot.end, slot.sim = start, end, sim


def _spread(slots: list[_Slot], start: float, end: float) -> None:
    """Share [start, end] among slots in proportion to their character counts."""
    total = sum(s.chars for s in slots) or 1
    clock = start
    for s in slots:
        length = (end - start) * s.chars / total
        s.start, s.end = clock, clock + length
        clock += length


def _natural(slots: list[_Slot]) -> float:
    return SECONDS_PER_CHAR * sum(s.chars for s in slots)


def _fill_line(slots: list[_Slot], lo: float, hi: float | None) -> None:
    """Time the untimed words of an anchored line: interior runs spread between their timed
    neighbours; a leading run is packed just before the first timed word (not earlier than
    `lo`), a trailing run just after the last one (not later than `hi`)."""
    timed = [k for k, s in enumerate(slots) if s.timed]
    first, last = timed[0], timed[-1]
    for a, b in itertools.pairwise(timed):
        if b > a + 1:
            _spread(slots[a + 1 : b], slots[a].end, slots[b].start)
    if first > 0:
        end = slots[first].start
        _spread(slots[:first], min(end, max(lo, end - _natural(slots[:first]))), end)
    if last < len(slots) - 1:
        start = slots[last].end
        limit = start + _natural(slots[last + 1 :])
        _spread(slots[last + 1 :], start, limit if hi is None else max(start, min(hi, limit)))


def _fits(slots: list[_Slot], lo: float, hi: float) -> bool:
    """True when the gap [lo, hi] is a plausible length to have sung these words in."""
    natural = _natural(slots)
    return MIN_STRETCH * natural <= hi - lo <= MAX_STRETCH * natural + STRETCH_SLACK_SECONDS


def _place_run(slots: list[_Slot], lo: float, hi: float) -> None:
    """Lay un-anchored words into a gap that fits them: centred, at most a little slower
    than natural pace, so the pauses around them are not all swallowed by the guess."""
    span = min(hi - lo, 1.5 * _natural(slots))
    start = lo + (hi - lo - span) / 2
    _spread(slots, start, start + span)


def align_lines(
    lines: list[str],
    words: list[LyricWord],
    *,
    end_time: float | None = None,
    maybe_unsung: list[bool] | None = None,
) -> tuple[list[LyricLine], list[str]]:
    """Time the known `lines` with the transcript `words`; return (timed lines, unplaced lines).

    The split form of `place_lines` (see there for the placement rule).
    """
    placed = place_lines(lines, words, end_time=end_time, maybe_unsung=maybe_unsung)
    return [p for p in placed if p is not None], [text for text, p in zip(lines, placed) if p is None]


def place_lines(
    lines: list[str],
    words: list[LyricWord],
    *,
    end_time: float | None = None,
    maybe_unsung: list[bool] | None = None,
) -> list[LyricLine | None]:
    """One entry per known line, in order: its timing, or None when it stays unplaced.

    Kept per line (not split) so a caller can tell *which* copy of a repeated chorus line
    was placed, e.g. the sync-accuracy benchmark comparing against the engine's placement.

    Placement rule: a line is anchored when its words that paired with a heard word at
    similarity >= ANCHOR_SIMILARITY hold at least ANCHOR_MIN_SHARE of its letters; its other
    words get the times of whatever they paired with (misheard words sit between anchors, so
    their times are right) or are interpolated. Consecutive un-anchored lines are placed
    only if they lie between two anchored lines and the gap from the previous line's end to
    the next anchored line's start is between MIN_STRETCH and MAX_STRETCH (+slack) times
    their natural sung length. Otherwise they are unplaced: a line we cannot bound is not
    shown at an invented time. The song's start and `end_time` are no such bound (intros and
    outros are long and whisper likes to hallucinate there); `end_time` only limits how far
    the missing last words of a heard line may be packed. Lines flagged in `maybe_unsung`
    (see `instrumental_flags`) are placed only when anchored: a gap is evidence that a line
    was sung and missed only if the line was meant to be sung.

    Returned times are non-decreasing across all words and lines.
    """
    by_line, placed = _placement(lines, words, end_time, maybe_unsung)
    timed = [_to_line(line, by_line[k]) if placed[k] else None for k, line in enumerate(lines)]
    _non_decreasing([t for t in timed if t is not None])
    return timed


def timing_from_words(
    lines: list[str],
    words: list[LyricWord],
    *,
    end_time: float | None = None,
    maybe_unsung: list[bool] | None = None,
) -> Timing:
    """`place_lines` as a Timing (mvflow.lyrics.timing), for the cloud transcribers.

    An anchored line is `heard`, with the share of its letters heard well as its confidence
    (times the mean similarity of those words); a line laid into a gap between anchors is
    `estimated`. A line under an instrumental tag that no word anchors is unsung (nobody was
    meant to sing it and nobody was heard); any other line left out stays unplaced.
    """
    by_line, placed = _placement(lines, words, end_time, maybe_unsung)
    timed = {k: _to_line(text, by_line[k]) for k, text in enumerate(lines) if placed[k]}
    _non_decreasing(list(timed.values()))
    flags = maybe_unsung or [False] * len(lines)
    return Timing(
        lines=[LineTiming(k, timed[k].words, *_evidence(by_line[k])) if k in timed else None
               for k in range(len(lines))],
        unsung={k for k, flag in enumerate(flags) if flag and not placed[k]},
    )


def _evidence(slots: list[_Slot]) -> tuple[str, float]:
    """(source, confidence) of a placed line: heard with its heard share, or estimated."""
    if _is_anchored(slots):
        return "heard", round(_heard_share(slots), 3)
    return "estimated", ESTIMATED_CONFIDENCE


def _placement(lines: list[str], words: list[LyricWord], end_time: float | None,
               maybe_unsung: list[bool] | None) -> tuple[list[list[_Slot]], list[bool]]:
    """Every known word's slot (timed where placed), per line, and which lines were placed."""
    slots = [
        _Slot(text=tok, line=k, chars=max(1, len(normalise(tok))))
        for k, line in enumerate(lines)
        for tok in line.split()
    ]
    heard = _monotone([w for w in words if normalise(w.text)])
    known_n, heard_n = [normalise(s.text) for s in slots], [normalise(w.text) for w in heard]
    links = _align(known_n, heard_n, [s.line for s in slots])
    _apply_links(slots, heard, links, known_n, heard_n)
    _fix_line_openers(slots, heard)
    by_line = [[s for s in slots if s.line == k] for k in range(len(lines))]
    guessable = [not flag for flag in maybe_unsung] if maybe_unsung else [True] * len(lines)
    return by_line, _place_lines(by_line, end_time, guessable)


def _place_lines(by_line: list[list[_Slot]], end_time: float | None, guessable: list[bool]) -> list[bool]:
    """Fill every line's times per the placement rule; True for each line that got placed.
    Un-anchored lines that are not `guessable` are left out of the runs laid into gaps."""
    anchored = [_is_anchored(line) for line in by_line]
    for line, ok in zip(by_line, anchored):
        if not ok:  # weak pairs alone are not evidence; forget them
            for s in line:
                s.start = s.end = None
    placed = list(anchored)
    clock, k = 0.0, 0
    while k < len(by_line):
        if anchored[k]:
            _fill_line(by_line[k], clock, _next_start(by_line, anchored, k + 1, end_time))
            clock = max(clock, by_line[k][-1].end)
            k += 1
            continue
        run_end = k
        while run_end < len(by_line) and not anchored[run_end]:
            run_end += 1
        members = [r for r in range(k, run_end) if guessable[r]]
        run = [s for r in members for s in by_line[r]]
        hi = _next_start(by_line, anchored, run_end, None)
        if run and k > 0 and hi is not None and _fits(run, clock, hi):
            _place_run(run, clock, hi)
            for r in members:
                placed[r] = True
            clock = run[-1].end
        k = run_end
    return placed


def _heard_share(line: list[_Slot]) -> float:
    """The share of the line's letters heard well, times how well (mean similarity of those words)."""
    good = [s for s in line if s.sim >= ANCHOR_SIMILARITY]
    if not good:
        return 0.0
    share = sum(s.chars for s in good) / sum(s.chars for s in line)
    return share * sum(s.sim for s in good) / len(good)


def _is_anchored(line: list[_Slot]) -> bool:
    """True when the line's well-heard words hold ANCHOR_MIN_SHARE of its letters."""
    heard = sum(s.chars for s in line if s.sim >= ANCHOR_SIMILARITY)
    return heard >= ANCHOR_MIN_SHARE * sum(s.chars for s in line)


def _next_start(by_line: list[list[_Slot]], anchored: list[bool], k: int, end_time: float | None):
    """Start of the first timed word at or after anchored line k (or `end_time`)."""
    for line, ok in zip(by_line[k:], anchored[k:]):
        if ok:
            return min(s.start for s in line if s.timed)
    return end_time


def _to_line(text: str, slots: list[_Slot]) -> LyricLine:
    words = [LyricWord(text=s.text, start=s.start, end=s.end) for s in slots]
    return LyricLine(text=text, start=words[0].start, end=words[-1].end, words=words)


def _non_decreasing(lines: list[LyricLine]) -> list[LyricLine]:
    """Clamp every start/end so time never runs backwards (guards interpolation edge cases)."""
    clock = 0.0
    for line in lines:
        for w in line.words:
            w.start = clock = max(clock, w.start)
            w.end = clock = max(clock, w.end)
        line.start, line.end = line.words[0].start, line.words[-1].end
    return lines


# --------------------------------------------------------------------------- no known lyrics

#: Break transcript lines here: sentence punctuation, long pauses, long lines.
_SENTENCE_END = re.compile(r"[.!?\u2026]['\"\u201d)]*$")
MAX_PAUSE_SECONDS = 1.5
MAX_WORDS_PER_LINE = 8


def lines_from_transcript(words: list[LyricWord]) -> list[LyricLine]:
    """Lines built from the transcript alone (no known lyrics): a new line after sentence
    punctuation, before a pause longer than MAX_PAUSE_SECONDS, or after MAX_WORDS_PER_LINE."""
    lines: list[list[LyricWord]] = []
    current: list[LyricWord] = []
    for w in _monotone([w for w in words if normalise(w.text)]):
        if current and w.start - current[-1].end > MAX_PAUSE_SECONDS:
            lines.append(current)
            current = []
        current.append(LyricWord(text=w.text.strip(), start=w.start, end=w.end))
        if _SENTENCE_END.search(current[-1].text) or len(current) >= MAX_WORDS_PER_LINE:
            lines.append(current)
            current = []
    if current:
        lines.append(current)
    return [
        LyricLine(text=" ".join(w.text for w in ws), start=ws[0].start, end=ws[-1].end, words=ws)
        for ws in lines
    ]
