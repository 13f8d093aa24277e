"""Timed lyric lines the song cannot show where they are stamped, and the one warning that names them.

A line stamped 09:59 on a 10-second song never appears, and a `--lyrics-offset -5` moves the
lines of the first five seconds to 0 (they lose their start): the video still renders, but
the user is told which lines, in the same words by every path that takes timed lyrics —
`mvflow render` (before rendering), `mvflow make` and batch entries with an LRC (when the
request is validated, against the requested length), the lyrics step (against the real audio:
its log, SyncedLyrics.outside, so the manifest, the run's summary artifact and the CLI
report) and `mvflow transcribe`.
"""

from __future__ import annotations

from mvflow.lyrics.formats import lrc_stamp
from mvflow.models import LyricLine, OutsideLine

#: Lines named in a warning; the rest are counted.
NAMED = 3


def lines_outside(lines: list[LyricLine], offset: float, song_end: float | None) -> list[OutsideLine]:
    """The lines (times before `offset`) whose start, shifted by `offset`, falls at or after
    `song_end` (None: not known, not checked) or below 0."""
    outside = []
    for line in lines:
        start = line.start + offset
        if start < 0:
            outside.append(OutsideLine(text=line.text, stamp=line.start, start=start, where="before_start"))
        elif song_end is not None and start >= song_end:
            outside.append(OutsideLine(text=line.text, stamp=line.start, start=start, where="after_end"))
    return outside


def outside_warnings(outside: list[OutsideLine], song_end: float) -> list[str]:
    """One line per kind (after the end, before the start), naming the lines and the likely fix."""
    late = [line for line in outside if line.where == "after_end"]
    early = [line for line in outside if line.where == "before_start"]
    warnings = []
    if late:
        offset = late[0].start - late[0].stamp
        fix = f"check the lyrics offset ({offset:+g} s)" if offset > 0 else "is it this song's lyrics file?"
        warnings.append(f"{_count(late)} after the song ends ({_clock(song_end)}) and never "
                        f"{'shows' if len(late) == 1 else 'show'}: {_named(late)}; {fix}")
    if early:
        offset = early[0].start - early[0].stamp
        warnings.append(f"{_count(early)} before the song after the lyrics offset ({offset:+g} s) and "
                        f"{'is' if len(early) == 1 else 'are'} moved to {_clock(0)}: {_named(early)}")
    return warnings


def _count(lines: list[OutsideLine]) -> str:
    return "1 lyric line starts" if len(lines) == 1 else f"{len(lines)} lyric lines start"


def _named(lines: list[OutsideLine]) -> str:
    named = ", ".join(f"[{_clock(line.stamp)}] {line.text!r}" for line in lines[:NAMED])
    return named + (f" and {len(lines) - NAMED} more" if len(lines) > NAMED else "")


def _clock(seconds: float) -> str:
    """A time as its LRC stamp reads (mm:ss.xx), so a line can be found in the file."""
    return lrc_stamp(max(0.0, seconds))
