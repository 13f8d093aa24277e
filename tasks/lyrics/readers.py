"""Read timed lyrics from a file the user already has: .lrc (line or word stamps), .srt, or our .json.

The inverse of the writers in tasks/lyrics/formats.py, for `mvflow render` (video from
existing files). Each format is a `TimedLyricsReader` in the registry READERS, keyed by the
file's suffix, so the suffix picks the reader without an if-chain. Every problem ends in one
LyricsFileError naming the file and what is wrong.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from pydantic import ValidationError

from mvflow.errors import LrcError, LyricsFileError, validation_line
from mvflow.lyrics.formats import lrc_tags, parse_lrc
from mvflow.models import LyricLine
from mvflow.registry import Provider, Registry, either


class TimedLyricsReader(Provider):
    """Reads one timed-lyrics format: its text -> timed lines, and the file's metadata tags."""

    role: ClassVar[str] = "timed-lyrics reader"

    def __init__(self, suffix: str, description: str, parse: Callable[[str], list[LyricLine]],
                 tags: Callable[[str], dict[str, str]] | None = None) -> None:
        self.name, self.description, self._parse, self._tags = suffix, description, parse, tags

    def read(self, text: str) -> tuple[list[LyricLine], dict[str, str]]:
        """(timed lines, in file order, tags such as LRC's [ti:]/[ar:]; {} for a format without tags)."""
        return self._parse(text), self._tags(text) if self._tags else {}


READERS: Registry[TimedLyricsReader] = Registry(TimedLyricsReader, {
    ".lrc": "mvflow.lyrics.readers:LRC",
    ".srt": "mvflow.lyrics.readers:SRT",
    ".json": "mvflow.lyrics.readers:JSON",
}, error=LyricsFileError)


def read_timed_lyrics(path: Path) -> list[LyricLine]:
    """Timed lines from `path`, chosen by its suffix (.lrc, .srt, .json), sorted by start."""
    return read_lyrics_with_tags(path)[0]


def read_lyrics_with_tags(path: Path) -> tuple[list[LyricLine], dict[str, str]]:
    """(timed lines sorted by start, the file's metadata tags): LRC [ti:]/[ar:]/...; none for .srt/.json."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise LyricsFileError(f"{path}: timed lyrics must be {either(READERS)} (plain lyrics? time them first "
                              f"with `mvflow transcribe SONG --lyrics {path.name} --format lrc`)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise LyricsFileError(f"lyrics file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LyricsFileError(f"cannot read lyrics file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        lines, tags = READERS.get(suffix).read(text)
    except (LrcError, LyricsFileError) as exc:
        raise LyricsFileError(f"{path}: {exc}") from None
    return sorted(lines, key=lambda ln: ln.start), tags


_SRT_TIME = re.compile(r"(\d+):(\d{2}):(\d{2})[,.](\d{1,3})")
_SRT_ARROW = re.compile(rf"^\s*{_SRT_TIME.pattern}\s*-->\s*{_SRT_TIME.pattern}")
_SRT_TAG = re.compile(r"<[^>]+>|\{\\[^}]*\}")  # <i>, <font ...>, {\an8}


def _srt_seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000


def parse_srt(text: str) -> list[LyricLine]:
    """SubRip: numbered cues 'hh:mm:ss,mmm --> hh:mm:ss,mmm' then text rows (joined into one
    lyric line; formatting tags dropped). Raises LyricsFileError on a cue without a time line."""
    lines = []
    for number, block in enumerate(re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()), start=1):
        rows = [r for r in block.split("\n") if r.strip()]
        if rows and rows[0].strip().isdigit():
            rows = rows[1:]
        timing = _SRT_ARROW.match(rows[0]) if rows else None
        if timing is None:
            shown = block.strip().splitlines()[0] if block.strip() else ""
            raise LyricsFileError(f"SRT cue {number}: expected 'hh:mm:ss,mmm --> hh:mm:ss,mmm', got {shown!r}")
        groups = timing.groups()
        start, end = _srt_seconds(*groups[:4]), _srt_seconds(*groups[4:])
        words = " ".join(_SRT_TAG.sub("", r).strip() for r in rows[1:]).strip()
        if words:
            lines.append(LyricLine(text=words, start=start, end=max(start, end)))
    return lines


def parse_json(text: str) -> list[LyricLine]:
    """Our lyrics.json: [{start, end, text, words: [{text, start, end}]}] (see formats.to_json)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LyricsFileError(f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise LyricsFileError("not lyrics: JSON nested thousands of levels deep") from None
    if not isinstance(data, list):
        raise LyricsFileError("expected a JSON list of {start, end, text, words} lines")
    try:
        lines = [LyricLine.model_validate(item) for item in data]
    except ValidationError as exc:
        raise LyricsFileError(validation_line(exc, "line entry {where}: {message}")) from None
    for k, line in enumerate(lines):
        times = [line.start, line.end, *(t for w in line.words for t in (w.start, w.end))]
        if not all(math.isfinite(t) for t in times):
            raise LyricsFileError(f"line entry {k}: times must be finite numbers of seconds, not NaN or Infinity")
    return lines


LRC = TimedLyricsReader(".lrc", "line or word stamps; word stamps <mm:ss.xx> give the karaoke fill", parse_lrc,
                        lrc_tags)
SRT = TimedLyricsReader(".srt", "SubRip subtitles", parse_srt)
JSON = TimedLyricsReader(".json", "mvflow's lyrics.json", parse_json)
