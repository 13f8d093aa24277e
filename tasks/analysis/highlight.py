"""Which part of a song the short shows: the first full chorus, widened to bar lines where no line
is being sung, at most MAX_SHORT seconds with its fades; or the part the user chose by hand.

A *phrase boundary* is a bar line that no lyric line is sung across (and the song's start and
end). The short's music starts on the chorus's own bar line (at or just before its first line)
and ends on the first phrase boundary after its last line; the fades lie outside that: the
sound and picture fade in over the half second before the bar line and out over the half
second after the last one, so no sung word is faded.

Without a chorus (no tags, an instrumental, lyrics the engine rewrote) the loudest section
found in the audio stands in.
"""

from __future__ import annotations

import numpy as np

from mvflow.analysis.sections import phrase_end, sung_end
from mvflow.inputs import check_short_range, check_short_start
from mvflow.models import Clip, LyricLine, SongAnalysis, SongSection

#: Longest short, fades included (platforms count a minute as "up to 60 s"; one second spare).
MAX_SHORT = 59.0
FADE = 0.5
CHORUS_KINDS = ("chorus", "hook")
#: A bar line this close to a line's start or end is not "inside" it (alignment jitter).
EDGE = 0.08


def phrase_boundaries(analysis: SongAnalysis, lines: list[LyricLine]) -> np.ndarray:
    """Sorted times where a cut falls between phrases: bar lines no line is sung across, 0 and the end."""
    beat = 60.0 / analysis.tempo
    sung = [(ln.start + EDGE, sung_end(ln, beat) - EDGE) for ln in lines if sung_end(ln, beat) - ln.start > 2 * EDGE]
    free = [d for d in analysis.downbeats if not any(a < d < b for a, b in sung)]
    return np.unique(np.round([0.0, *free, analysis.duration], 4))


def strongest_section(sections: list[SongSection]) -> tuple[SongSection, str]:
    """The first complete chorus (or hook), else the first sung one, else the loudest section."""
    choruses = [s for s in sections if s.kind in CHORUS_KINDS and s.lines > 0]
    complete = [s for s in choruses if s.complete]
    if complete:
        return complete[0], "first full chorus"
    if choruses:
        return choruses[0], "first chorus (not every line was timed)"
    if not sections:
        raise ValueError("the analysis has no sections")
    return max(sections, key=lambda s: (s.energy, -s.start)), "loudest section"


def short_clip(analysis: SongAnalysis, lines: list[LyricLine], start: float | None = None,
               end: float | None = None) -> Clip:
    """The short's clip: the user's [start, end] when given, else the strongest section's phrases."""
    if start is not None or end is not None:
        return chosen_clip(analysis.duration, start, end)
    section, reason = strongest_section(analysis.sections)
    bounds = phrase_boundaries(analysis, lines)
    phrase_start = section.start
    inside = [ln for ln in lines if section.start - EDGE <= ln.start < section.end]
    last_sung = max((sung_end(ln, 60.0 / analysis.tempo) for ln in inside), default=section.end - EDGE)
    later = [ln.start for ln in lines if ln.start >= section.end - EDGE]
    end = phrase_end(phrase_start, last_sung, bounds, min(later, default=analysis.duration))
    if end is None:
        end = phrase_end(phrase_start, last_sung, bounds, analysis.duration)
    phrase_end_at = end if end is not None else analysis.duration
    fade_in = min(FADE, phrase_start)
    fade_out = min(FADE, analysis.duration - phrase_end_at)
    longest = MAX_SHORT - fade_in - fade_out
    if phrase_end_at - phrase_start > longest:
        phrase_end_at = _cut_within(bounds, analysis.downbeats, phrase_start, phrase_start + longest)
        fade_out = min(FADE, analysis.duration - phrase_end_at)
    return Clip(start=round(phrase_start - fade_in, 4), end=round(phrase_end_at + fade_out, 4),
                phrase_start=round(phrase_start, 4), phrase_end=round(phrase_end_at, 4),
                fade_in=round(fade_in, 4), fade_out=round(fade_out, 4), reason=reason)


def _cut_within(bounds: np.ndarray, downbeats: list[float], start: float, latest: float) -> float:
    """The last phrase boundary after `start` and before `latest`; else the last bar line; else `latest`."""
    for candidates in (bounds, np.asarray(downbeats, float)):
        fits = candidates[(candidates > start + 1.0) & (candidates <= latest - FADE + 1e-6)]
        if len(fits):
            return float(fits[-1])
    return latest - FADE


def chosen_clip(duration: float, start: float | None, end: float | None) -> Clip:
    """A clip the user chose (--short-from/--short-to): taken as given, fading inside it."""
    check_short_range(start, end)  # short_clip comes here with either one given: both, in order
    assert start is not None and end is not None
    check_short_start(start, duration)
    end = min(end, duration)
    fade = min(FADE, (end - start) / 4)
    return Clip(start=round(start, 4), end=round(end, 4), phrase_start=round(start + fade, 4),
                phrase_end=round(end - fade, 4), fade_in=round(fade, 4), fade_out=round(fade, 4),
                reason="chosen by hand")
