"""Lyric file formats: LRC, enhanced (word) LRC, SRT, ASS (karaoke) and JSON writers, and an LRC reader.

Offsets: every writer takes `offset` in seconds, *positive = lyrics appear later*
(the intuitive "my lyrics are early, push them back" knob); times are clamped at 0.
The LRC ``[offset:ms]`` tag follows the opposite, historical LRC convention: a positive
value makes lyrics appear EARLIER (real time = stamp - offset). ``parse_lrc`` applies it.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field

from mvflow.errors import LrcError
from mvflow.models import LyricLine, LyricWord
from mvflow.textbreak import join_words

#: A line shown for longer than this is assumed to have ended (no next stamp, or a long gap).
MAX_LINE_SECONDS = 8.0
#: The writers emit an empty stamped line (a "clear screen") when the next line starts
#: this much after the current one ends, so players and our reader keep the line's end.
GAP_MARK_SECONDS = 0.5


# --------------------------------------------------------------------------- writers


def _shift(t: float, offset: float) -> float:
    return max(0.0, t + offset)


def _centis(t: float) -> tuple[int, int, int]:
    """(minutes, seconds, hundredths), rounded once so 59.999 s becomes 01:00.00."""
    total = round(t * 100)
    return total // 6000, (total // 100) % 60, total % 100


def lrc_stamp(t: float) -> str:
    """mm:ss.xx without brackets (minutes grow past 99 rather than wrap)."""
    m, s, c = _centis(t)
    return f"{m:02d}:{s:02d}.{c:02d}"


def _srt_stamp(t: float) -> str:
    ms = round(t * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _gap_after(lines: list[LyricLine], k: int) -> bool:
    """True when line k should be followed by an empty 'clear' stamp."""
    return k == len(lines) - 1 or lines[k + 1].start - lines[k].end >= GAP_MARK_SECONDS


def _lrc_body(lines: list[LyricLine], offset: float, render) -> list[str]:
    out = []
    for k, line in enumerate(lines):
        out.append(f"[{lrc_stamp(_shift(line.start, offset))}]{render(line)}")
        if _gap_after(lines, k):
            out.append(f"[{lrc_stamp(_shift(line.end, offset))}]")
    return out


def _join(head: list[str], body: list[str]) -> str:
    return "\n".join(head + body) + "\n" if head or body else ""


def to_lrc(lines: list[LyricLine], offset: float = 0.0, title: str | None = None) -> str:
    """Line-stamped LRC ([mm:ss.xx]text), with [ti:] when a title is given; an empty stamp
    marks where a line ends before a pause (and after the last line)."""
    head = [f"[ti:{title}]"] if title else []
    return _join(head, _lrc_body(lines, offset, lambda line: line.text))


def to_enhanced_lrc(lines: list[LyricLine], offset: float = 0.0) -> str:
    """Enhanced LRC: [mm:ss.xx]<mm:ss.xx>word <mm:ss.xx>word...<mm:ss.xx>, the last word
    stamp being the line's end. Lines without word times fall back to plain text."""

    def render(line: LyricLine) -> str:
        if not line.words:
            return line.text
        words = " ".join(f"<{lrc_stamp(_shift(w.start, offset))}>{w.text}" for w in line.words)
        return f"{words}<{lrc_stamp(_shift(line.words[-1].end, offset))}>"

    return _join([], _lrc_body(lines, offset, render))


def to_srt(lines: list[LyricLine], offset: float = 0.0) -> str:
    blocks = [
        f"{k}\n{_srt_stamp(_shift(line.start, offset))} --> "
        f"{_srt_stamp(max(_shift(line.end, offset), _shift(line.start, offset)))}\n{line.text}\n"
        for k, line in enumerate(lines, start=1)
    ]
    return "\n".join(blocks)


# ASS (Advanced SubStation Alpha): what players and ffmpeg's `ass`/`subtitles` filters read for
# karaoke. Karaoke colours: a {\kf} sweep fills each word from SecondaryColour (not yet sung,
# white) to PrimaryColour (sung, yellow). Colours are &HAABBGGRR.
ASS_PLAY_RES = (1920, 1080)
_ASS_STYLE_FIELDS = (
    "Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, "
    "MarginL, MarginR, MarginV, Encoding"
)
_ASS_STYLE = "Default,Arial,64,&H0000D7FF,&H00FFFFFF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,1,3,1,2,60,60,80,1"
_ASS_EVENT_FIELDS = "Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text"


def _ass_stamp(centis: int) -> str:
    """h:mm:ss.cc from whole centiseconds (ASS has no finer unit)."""
    return f"{centis // 360000}:{centis // 6000 % 60:02d}:{centis // 100 % 60:02d}.{centis % 100:02d}"


def _ass_text(text: str) -> str:
    """Text safe inside a Dialogue line: braces open override blocks and a backslash starts
    a tag (\\N, \\h), so they are replaced by look-alikes rather than silently eaten."""
    return text.replace("\\", "\u29f5").replace("{", "(").replace("}", ")")


def _karaoke(line: LyricLine, start: int, end: int, offset: float) -> str:
    """'{\\kf50}The {\\kf30}City ...': each word sweeps from its start to the next word's start
    (the last to the line's end), in centiseconds that sum exactly to end - start; a pause
    before the first word is an empty {\\k} so the sweep still starts on the sung word."""
    starts = [min(max(round(_shift(w.start, offset) * 100), start), end) for w in line.words]
    cuts = [start, *itertools.accumulate(starts, max), end]
    lead = f"{{\\k{cuts[1] - cuts[0]}}}" if cuts[1] > cuts[0] else ""
    sweeps = (f"{{\\kf{b - a}}}{_ass_text(w.text)}" for w, a, b in zip(line.words, cuts[1:], cuts[2:]))
    return lead + " ".join(sweeps)


def _ass_event(line: LyricLine, offset: float) -> str:
    start = round(_shift(line.start, offset) * 100)
    end = max(start, round(_shift(line.end, offset) * 100))
    text = _karaoke(line, start, end, offset) if line.words else _ass_text(line.text)
    return f"Dialogue: 0,{_ass_stamp(start)},{_ass_stamp(end)},Default,,0,0,0,,{text}"


def to_ass(lines: list[LyricLine], offset: float = 0.0, title: str | None = None) -> str:
    """ASS subtitles, 1920x1080: one Dialogue event per line, as karaoke ({\\kf} per word) when
    the line has word times, else the plain line."""
    width, height = ASS_PLAY_RES
    head = [
        "[Script Info]",
        f"Title: {title or 'mvflow lyrics'}",
        "ScriptType: v4.00+",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "",
        "[V4+ Styles]",
        f"Format: {_ASS_STYLE_FIELDS}",
        f"Style: {_ASS_STYLE}",
        "",
        "[Events]",
        f"Format: {_ASS_EVENT_FIELDS}",
    ]
    return "\n".join(head + [_ass_event(line, offset) for line in lines]) + "\n"


def to_json(lines: list[LyricLine], offset: float = 0.0) -> str:
    """[{start, end, text, words: [{text, start, end}], source, confidence}], times in seconds (ms
    precision); source (heard | aligned | estimated) and confidence (0-1) when a transcriber timed the line."""

    def t(x: float) -> float:
        return round(_shift(x, offset), 3)

    def entry(line: LyricLine) -> dict:
        item = {
            "start": t(line.start),
            "end": t(line.end),
            "text": line.text,
            "words": [{"text": w.text, "start": t(w.start), "end": t(w.end)} for w in line.words],
        }
        if line.source is not None:  # how the line was timed, when a transcriber timed it
            item.update(source=line.source, confidence=line.confidence)
        return item

    return json.dumps([entry(line) for line in lines], indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- reader

#: Minutes have at most 4 digits (a stamp past 166 h is garbage, and an endless digit run must not
#: reach int()); a stamp that does not match is reported with its line.
_STAMP = r"(\d{1,4}):(\d{1,2})(?:[.:](\d{1,3}))?"
_LINE_STAMP = re.compile(r"\[" + _STAMP + r"\]")
_WORD_STAMP = re.compile(r"<" + _STAMP + r">")
_META = re.compile(r"\[([A-Za-z#][A-Za-z0-9#_-]*):([^\]]*)\]")


def _seconds(minutes: str, seconds: str, fraction: str | None) -> float | None:
    """Stamp parts to seconds; None when the seconds field is out of range."""
    if int(seconds) >= 60:
        return None
    frac = int(fraction) / 10 ** len(fraction) if fraction else 0.0
    return int(minutes) * 60 + int(seconds) + frac


@dataclass
class _Entry:
    """One stamped occurrence of a line (a line with three stamps gives three entries)."""

    start: float
    text: str
    words: list[LyricWord] = field(default_factory=list)
    words_end: float | None = None


def parse_lrc(text: str) -> list[LyricLine]:
    """Read LRC as found in the wild; return lines sorted by time.

    Accepts [mm:ss], [mm:ss.x], [mm:ss.xx], [mm:ss.xxx] (and ':' before the fraction),
    several stamps on one line (a repeated chorus), metadata tags ([ti:], [ar:], [al:],
    [by:], [offset:ms], ...), enhanced <mm:ss.xx> word stamps, a BOM and CRLF line ends.
    An empty stamped line is a gap: it ends the previous line. A line's end is the next
    stamp (capped at MAX_LINE_SECONDS), or its last word stamp when it has one.
    Raises LrcError naming the first line that is none of the above.
    """
    offset_ms = 0
    entries: list[_Entry] = []
    for number, raw in enumerate(text.lstrip("\ufeff").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if meta := _META.fullmatch(line):
            offset_ms = _offset_tag(meta, number, raw) if meta.group(1).lower() == "offset" else offset_ms
            continue
        entries.extend(_parse_stamped(line, number, raw))
    shift = -offset_ms / 1000.0
    entries.sort(key=lambda e: e.start)
    return _to_lines(entries, shift)


def lrc_tags(text: str) -> dict[str, str]:
    """The LRC's metadata tags, lower-cased names: {"ti": title, "ar": artist, "al": album, ...}."""
    tags = {}
    for raw in text.lstrip("\ufeff").splitlines():
        if (meta := _META.fullmatch(raw.strip())) and meta.group(2).strip():
            tags.setdefault(meta.group(1).lower(), meta.group(2).strip())
    return tags


def _bad(number: int, raw: str, why: str) -> LrcError:
    return LrcError(f"LRC line {number}: {why}: {raw.strip()!r}")


#: The largest [offset:ms] accepted (one hour): anything beyond moves every line off the song.
MAX_OFFSET_MS = 3_600_000


def _offset_tag(meta: re.Match, number: int, raw: str) -> int:
    value = meta.group(2).strip()
    if not re.fullmatch(r"[+-]?\d{1,10}", value):
        raise _bad(number, raw, "[offset:] must be whole milliseconds")
    if abs(int(value)) > MAX_OFFSET_MS:
        raise _bad(number, raw, "[offset:] is more than an hour")
    return int(value)


def _parse_stamped(line: str, number: int, raw: str) -> list[_Entry]:
    """Entries for one '[t1][t2]text' line; LrcError when it has no valid leading stamp."""
    starts, pos = [], 0
    while m := _LINE_STAMP.match(line, pos):
        t = _seconds(*m.groups())
        if t is None:
            raise _bad(number, raw, "seconds must be below 60")
        starts.append(t)
        pos = m.end()
    if not starts:
        raise _bad(number, raw, "expected a [mm:ss.xx] time stamp or a [tag:value]")
    body = line[pos:]
    text, words, words_end = _parse_words(body, number, raw)
    return [
        _Entry(
            start=t,
            text=text,
            words=[LyricWord(text=w.text, start=w.start + t - starts[0], end=0.0) for w in words],
            words_end=None if words_end is None else words_end + t - starts[0],
        )
        for t in starts
    ]


def _parse_words(body: str, number: int, raw: str) -> tuple[str, list[LyricWord], float | None]:
    """Split enhanced '<t>word <t>word<t>' text into words; the trailing bare stamp (if any)
    is the last word's end. Plain text gives no words."""
    pieces = _WORD_STAMP.split(body)
    if len(pieces) == 1:
        return re.sub(r"\s+", " ", body).strip(), [], None
    words, words_end = [], None
    lead = pieces[0].strip()
    for k in range(1, len(pieces), 4):
        t = _seconds(*pieces[k : k + 3])
        if t is None:
            raise _bad(number, raw, "word stamp seconds must be below 60")
        word = pieces[k + 3].strip()
        if word:
            words.append(LyricWord(text=word, start=t, end=0.0))
        else:
            words_end = t
    text = join_words([lead, *(w.text for w in words)])  # no spaces invented between CJK words
    return text, words, words_end


def _to_lines(entries: list[_Entry], shift: float) -> list[LyricLine]:
    """Entries (sorted) to LyricLines: gaps dropped, ends filled, offset applied."""
    lines = []
    for k, e in enumerate(entries):
        if not e.text:
            continue
        next_start = entries[k + 1].start if k + 1 < len(entries) else None
        end = _line_end(e, next_start)
        words = _word_ends(e.words, end)
        lines.append(
            LyricLine(
                text=e.text,
                start=max(0.0, e.start + shift),
                end=max(0.0, end + shift),
                words=[LyricWord(text=w.text, start=max(0.0, w.start + shift), end=max(0.0, w.end + shift))
                       for w in words],
            )
        )
    return lines


def _line_end(e: _Entry, next_start: float | None) -> float:
    """The trailing word stamp if there is one, else the next stamp capped at MAX_LINE_SECONDS;
    never before the line's last word starts."""
    if e.words_end is not None:
        end = e.words_end if next_start is None else min(e.words_end, next_start)
    else:
        cap = e.start + MAX_LINE_SECONDS
        end = cap if next_start is None else min(next_start, cap)
    return max([end, e.start] + [w.start for w in e.words])


def _word_ends(words: list[LyricWord], line_end: float) -> list[LyricWord]:
    """Each word ends where the next begins; the last where the line ends."""
    ends = [w.start for w in words[1:]] + [line_end]
    return [LyricWord(text=w.text, start=w.start, end=max(w.start, end)) for w, end in zip(words, ends)]
