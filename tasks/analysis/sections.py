"""Where the song's sections start and end: from the lyric sheet's tags when it has them, from
the audio otherwise.

From the lyrics: the sheet (`Song.lyrics`, "[Verse]", "[Chorus]" ...) says which lines belong
to which section, the timed lines (`SyncedLyrics`) say when each line is sung; the two are
matched in order by their text (lines that were not timed simply have no match). A sung
section starts on the bar line at or just before its first line and ends where the next one
starts; a section nobody sings ([Intro], [Outro], a solo) fills the gap between its
neighbours, its start being the first bar line after the previous section's last line.

From the audio: bar-synchronous timbre, chroma and loudness, a self-similarity matrix, and
Foote's checkerboard novelty: a boundary where the bars before and after are alike among
themselves but unlike each other; boundaries at least four bars apart, on bar lines.
Such sections have no kind (""); their `energy` (loudness relative to the song's loudest
section) is what picks the strongest one when no chorus is known.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from mvflow.analysis.onsets import FRAME_RATE, Features
from mvflow.models import LyricLine, SongSection

#: Shortest section found from the audio, in bars.
MIN_BARS = 4
#: Beats the last word of a line is taken to last at most (see sung_end).
HOLD_BEATS = 2.0
#: Unsung bars after a sung section's last line that make a break of their own.
BREAK_BARS = 2
#: A line sung this much of a beat before its bar line still starts that bar (a pickup, or
#: timing error of the alignment).
PICKUP_BEATS = 0.5


def line_key(text: str) -> str:
    """Comparison form of a lyric line in any script: NFKC, lower case, word characters only."""
    return "".join(re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower()))


@dataclass(frozen=True)
class SheetSection:
    kind: str
    label: str
    lines: tuple[str, ...]


def sheet_sections(lyrics: str) -> list[SheetSection]:
    """The tagged sections of a lyric sheet, in order; [] when it has no section tags."""
    from mvflow.song.structure import has_section_tags, parse_lyrics

    if not has_section_tags(lyrics):
        return []
    return [SheetSection(s.kind, s.label, s.lines) for s in parse_lyrics(lyrics)]


def match_lines(sheet: list[SheetSection], lines: list[LyricLine]) -> list[list[LyricLine]]:
    """For each sheet section, the timed lines that are its lines (matched in order by text)."""
    keys = [(i, line_key(text)) for i, section in enumerate(sheet) for text in section.lines]
    timed = sorted(lines, key=lambda ln: ln.start)
    matcher = difflib.SequenceMatcher(None, [k for _, k in keys], [line_key(ln.text) for ln in timed],
                                      autojunk=False)
    found: list[list[LyricLine]] = [[] for _ in sheet]
    for block in matcher.get_matching_blocks():
        for offset in range(block.size):
            found[keys[block.a + offset][0]].append(timed[block.b + offset])
    return found


def sung_end(line: LyricLine, beat_s: float, hold_beats: float = HOLD_BEATS) -> float:
    """When a line's singing really ends: its end, but at most HOLD_BEATS after its last word starts.

    Aligners place a word's start on its onset, but may stretch the last word of a phrase over the
    music after it (to the next line, or to the song's end); a held note rarely lasts longer.
    """
    if not line.words:
        return line.end
    return min(line.end, line.words[-1].start + hold_beats * beat_s)


def bar_line_at_or_before(t: float, downbeats: np.ndarray, beat_s: float) -> float:
    """The last bar line at or before t (a pickup of up to PICKUP_BEATS counts as the bar), or t."""
    earlier = downbeats[downbeats <= t + PICKUP_BEATS * beat_s]
    return float(earlier[-1]) if len(earlier) else t


def phrase_end(start: float, last_end: float, candidates: np.ndarray, limit: float) -> float | None:
    """Where a phrase that starts on the bar line `start` and whose last line ends at `last_end` ends:
    the first candidate bar line after `last_end` (and not after `limit`) that closes an even number
    of bars, else the first candidate at all; None when there is none.

    Phrases run in twos and fours of bars, and a held last note outlasts the time stamp the
    transcript gives its word, so an odd bar count usually means the phrase is not over yet.
    """
    fits = np.asarray(candidates, float)
    fits = fits[(fits >= last_end - 1e-6) & (fits <= limit + 1e-6)]
    if len(fits) == 0:
        return None
    bar = _bar_length(candidates)
    for t in fits:
        if bar and round((t - start) / bar) % 2 == 0:
            return float(t)
    return float(fits[0])


def _bar_length(downbeats: np.ndarray) -> float:
    gaps = np.diff(np.asarray(downbeats, float))
    return float(np.median(gaps)) if len(gaps) else 0.0


def sections_from_lyrics(lyrics: str, lines: list[LyricLine], downbeats: np.ndarray, beat_s: float,
                         duration: float) -> list[SongSection]:
    """Sections from the sheet's tags and the timed lines; [] when the sheet has no tags or no
    tagged line was timed."""
    sheet = sheet_sections(lyrics)
    timed = match_lines(sheet, lines) if sheet else []
    if not any(timed):
        return []
    spans: list[tuple[float, float] | None] = []
    for found in timed:
        if not found:
            spans.append(None)
            continue
        start = bar_line_at_or_before(min(ln.start for ln in found), downbeats, beat_s)
        spans.append((start, max(sung_end(ln, beat_s) for ln in found)))
    sections = []
    for i, (part, found) in enumerate(zip(sheet, timed, strict=True)):
        start = _section_start(i, spans, downbeats, duration)
        end = _section_start(i + 1, spans, downbeats, duration) if i + 1 < len(sheet) else duration
        if end - start <= 1e-3:
            continue
        section = SongSection(kind=part.kind, label=part.label, start=round(start, 3), end=round(end, 3),
                              lines=len(found), complete=len(found) == len(part.lines))
        sections.extend(_split_break(section, spans[i], downbeats, end >= duration))
    return _with_edges(sections, duration)


def _split_break(section: SongSection, span: tuple[float, float] | None, downbeats: np.ndarray,
                 last: bool) -> list[SongSection]:
    """A sung section followed by BREAK_BARS or more bars nobody sings (a break the sheet has no tag
    for) ends at the bar line after its last line; the break becomes an instrumental section."""
    if span is None or last:
        return [section]
    end = phrase_end(span[0], span[1], downbeats, section.end)
    if end is None:
        return [section]
    bars = downbeats[(downbeats >= end - 1e-3) & (downbeats < section.end - 1e-3)]
    if len(bars) < BREAK_BARS:
        return [section]
    cut = round(end, 3)
    return [section.model_copy(update={"end": cut}),
            SongSection(kind="instrumental", label="Instrumental", start=cut, end=section.end)]


def _section_start(i: int, spans: list[tuple[float, float] | None], downbeats: np.ndarray,
                   duration: float) -> float:
    """Section i's start: its first line's bar line; for an unsung section, where the phrase of the
    last section sung before it ends (phrase_end; 0 at the top of the song)."""
    if i < len(spans) and spans[i] is not None:
        return spans[i][0]
    before = [span for span in spans[:i] if span is not None]
    if not before:
        return 0.0
    after = [span[0] for span in spans[i:] if span is not None]
    limit = after[0] if after else duration
    start = phrase_end(before[-1][0], before[-1][1], downbeats, limit)
    return min(start, limit) if start is not None else limit


def _with_edges(sections: list[SongSection], duration: float) -> list[SongSection]:
    """Cover the whole song: an untagged stretch before the first section is an intro, after the
    last an outro; overlaps (a line sung over a bar line early) are resolved in time order."""
    out: list[SongSection] = []
    for section in sorted(sections, key=lambda s: s.start):
        if out and section.start < out[-1].end:
            out[-1] = out[-1].model_copy(update={"end": section.start})
        out.append(section)
    out = [s for s in out if s.end - s.start > 1e-3]
    if out and out[0].start > 1e-3:
        out.insert(0, SongSection(kind="intro", label="Intro", start=0.0, end=out[0].start))
    if out and out[-1].end < duration - 1e-3:
        out.append(SongSection(kind="outro", label="Outro", start=out[-1].end, end=round(duration, 3)))
    return out


# ---------------------------------------------------------------- from the audio


def bar_features(feats: Features, downbeats: np.ndarray) -> np.ndarray:
    """(bars, d) per-bar means of timbre (log bands, centred), chroma and loudness, each part scaled
    to unit variance so none dominates the similarity."""
    edges = np.clip(np.rint(np.asarray(downbeats) * FRAME_RATE).astype(int), 0, feats.n_frames)
    edges = np.append(edges, feats.n_frames)
    rows = []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        b = max(b, a + 1)
        rows.append(np.concatenate([feats.bands_db[a:b].mean(axis=0), 4 * feats.chroma[a:b].mean(axis=0),
                                    [feats.loudness_db[a:b].mean()]]))
    x = np.array(rows, np.float64)
    x -= x.mean(axis=0)
    return x / (x.std(axis=0) + 1e-6)


def novelty(x: np.ndarray, half: int) -> np.ndarray:
    """Foote novelty of each bar boundary: a Gaussian-tapered checkerboard kernel of `half` bars
    a side slid along the diagonal of the cosine self-similarity matrix."""
    unit = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-9)
    ssm = unit @ unit.T
    n = len(x)
    idx = np.arange(-half, half)
    sign = np.where(idx < 0, -1.0, 1.0)
    taper = np.exp(-0.5 * ((idx + 0.5) / (0.5 * half)) ** 2)
    kernel = np.outer(sign * taper, sign * taper)
    padded = np.pad(ssm, half, mode="edge")
    out = np.zeros(n + 1)
    for i in range(1, n):
        window = padded[i : i + 2 * half, i : i + 2 * half]
        out[i] = float((window * kernel).sum())
    return np.maximum(out, 0.0)


def sections_from_audio(feats: Features, downbeats: np.ndarray, duration: float) -> list[SongSection]:
    """Sections at the bar lines where the music changes most (at least MIN_BARS apart)."""
    downbeats = np.asarray(downbeats, float)
    if len(downbeats) < 2 * MIN_BARS:
        return [SongSection(kind="", label="Section 1", start=0.0, end=round(duration, 3))]
    x = bar_features(feats, downbeats)
    score = novelty(x, MIN_BARS)
    threshold = score.mean() + 0.5 * score.std()
    chosen: list[int] = []
    for i in np.argsort(-score):
        if score[i] <= threshold or i == 0 or i >= len(downbeats):
            continue
        if all(abs(i - j) >= MIN_BARS for j in chosen) and i >= MIN_BARS // 2 and len(downbeats) - i >= MIN_BARS // 2:
            chosen.append(int(i))
    starts = [0.0, *sorted(float(downbeats[i]) for i in chosen)]
    ends = [*starts[1:], duration]
    return [SongSection(kind="", label=f"Section {k + 1}", start=round(a, 3), end=round(b, 3))
            for k, (a, b) in enumerate(zip(starts, ends, strict=True))]


def with_energy(sections: list[SongSection], feats: Features) -> list[SongSection]:
    """Each section's mean loudness in dB relative to the loudest section (0 = the loudest)."""
    means = []
    for s in sections:
        a, b = int(s.start * FRAME_RATE), max(int(s.end * FRAME_RATE), int(s.start * FRAME_RATE) + 1)
        power = np.power(10.0, feats.loudness_db[a:b] / 10.0)
        means.append(float(10.0 * np.log10(power.mean() + 1e-10)) if len(power) else -100.0)
    top = max(means, default=0.0)
    return [s.model_copy(update={"energy": round(float(m - top), 2)}) for s, m in zip(sections, means, strict=True)]
