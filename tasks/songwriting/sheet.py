"""A song plan's lyric sheet: its sections, its tags, and how long its lines take to sing.

The sheet is ACE-Step's format: a section tag on its own line in square brackets, then the
lines sung in that section. A plan may use seven sections (`SECTIONS`), each optionally
numbered ([Verse 2]) and with a short performance hint after a dash or colon ([Chorus -
anthemic], [Intro: soft piano]). Tags ACE-Step's own guide uses for the same things ([Hook],
[Guitar Solo], [Build], [Fade Out] ...) are rewritten to those seven (`normalise_tag`), so a
songwriter's wording does not fail a plan; any other tag is reported, never guessed.

Timing is an estimate for checking a plan, not the engine's own arrangement: a sung line
takes its syllables at a comfortable singing rate plus a breath, rounded up to whole bars
of the song's meter; the intro and outro get a bar each, an instrumental break a bar. The
built-in engine sings every line of a sheet that fits this estimate.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field

#: The sections a plan may use, in the spelling plans are written with.
SECTIONS = ("Intro", "Verse", "Pre-Chorus", "Chorus", "Bridge", "Outro", "Instrumental")
#: Sections that may have no lines (they are played, not sung); the others must have lines.
MAY_BE_EMPTY = frozenset({"Intro", "Outro", "Instrumental"})
#: Other names for the seven sections, as ACE-Step's guide and songwriters write them.
SYNONYMS: dict[str, str] = {
    "intro": "Intro", "opening": "Intro",
    "verse": "Verse",
    "pre chorus": "Pre-Chorus", "prechorus": "Pre-Chorus", "build": "Pre-Chorus", "build up": "Pre-Chorus",
    "buildup": "Pre-Chorus",
    "chorus": "Chorus", "hook": "Chorus", "refrain": "Chorus", "post chorus": "Chorus",
    "bridge": "Bridge", "middle 8": "Bridge", "middle eight": "Bridge",
    "outro": "Outro", "ending": "Outro", "coda": "Outro", "fade out": "Outro", "fadeout": "Outro",
    "instrumental": "Instrumental", "inst": "Instrumental", "interlude": "Instrumental", "solo": "Instrumental",
    "break": "Instrumental", "breakdown": "Instrumental", "drop": "Instrumental",
}
#: Words that make a tag an instrumental part whatever comes before them ([Guitar Solo], [Piano Interlude]).
INSTRUMENTAL_TAIL = ("solo", "interlude", "break", "breakdown", "drop", "instrumental")

#: A comfortable singing rate, and the breath at the end of a line.
SYLLABLES_PER_SECOND = 3.0
BREATH_S = 0.4
#: Bars every song keeps for its intro and outro together, and at least one per instrumental break between.
FRAME_BARS = 2
BREAK_BARS = 1

_TAG_LINE = re.compile(r"^\s*\[([^\]]*)\]\s*(.*)$")
_HINT_SPLIT = re.compile(r"\s*:\s*|\s+[-–—]\s+")
_NAME = re.compile(r"^([^\W\d_][^\W\d_ '-]*(?:[ -][^\W\d_]+)*)\s*(\d{1,2})?$")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
#: Scripts sung a syllable per character: CJK ideographs, kana, Hangul syllables.
_SYLLABIC = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_VOWEL_GROUP = re.compile(r"[aeiouyæøœаеёиоуыэюяαεηιουωіїєاویے]+")


@dataclass
class Section:
    """One tagged block: its canonical name, the tag as it will be written, and its lines."""

    name: str
    tag: str
    lines: list[str] = field(default_factory=list)

    @property
    def voice_free(self) -> bool:
        """Played, not sung: an [Instrumental] part, or an intro/outro (any section) without lines."""
        return self.name == "Instrumental" or not self.lines


@dataclass
class Sheet:
    """A lyric sheet read into sections, with what could not be read."""

    sections: list[Section]
    untagged: list[str] = field(default_factory=list)
    unknown_tags: list[str] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)

    @property
    def sung_lines(self) -> list[str]:
        return [line for s in self.sections if not s.voice_free for line in s.lines]

    def text(self) -> str:
        """The sheet written back: tags as normalised, a blank line between sections, every line kept."""
        blocks = [(f"[{s.tag}]\n" + "\n".join(s.lines)).strip() for s in self.sections]
        head = "\n".join(self.untagged)
        return "\n\n".join(filter(None, [head, *blocks])) + "\n"


@dataclass(frozen=True)
class Tag:
    """A section tag as read: its section, how a plan writes it, and whether it was another name for it."""

    name: str
    written: str
    renamed: bool


def normalise_tag(tag: str) -> Tag | None:
    """The section a tag's text names, or None for a tag that is no section ([Female vocal]).

    'verse 2' -> Verse, written 'Verse 2'; 'Chorus - anthemic' -> Chorus, written as is;
    'Guitar Solo' -> Instrumental, written 'Instrumental - guitar solo' (renamed).
    """
    parts = _HINT_SPLIT.split(tag.strip(), maxsplit=1)
    head, hint = parts[0].strip(), (parts[1].strip() if len(parts) > 1 else "")
    match = _NAME.match(head)
    if not match:
        return None
    words = " ".join(match.group(1).lower().replace("-", " ").split())
    name = SYNONYMS.get(words)
    if name is None and words.split()[-1] in INSTRUMENTAL_TAIL:
        name = "Instrumental"
    if name is None:
        return None
    renamed = words != name.lower().replace("-", " ")
    if renamed and name == "Instrumental" and words != "inst":
        hint = ", ".join(filter(None, [words, hint]))  # keep what kind of break it is: "guitar solo"
    number = f" {match.group(2)}" if match.group(2) else ""
    return Tag(name, name + number + (f" - {hint}" if hint else ""), renamed)


def read_sheet(lyrics: str) -> Sheet:
    """The sections of a lyric sheet, in order; lines before the first tag and unknown tags are recorded."""
    sheet = Sheet(sections=[])
    for raw in lyrics.splitlines():
        line = raw.strip()
        if not line:
            continue
        match = _TAG_LINE.match(line)
        if match is None:
            (sheet.sections[-1].lines if sheet.sections else sheet.untagged).append(line)
            continue
        tag = normalise_tag(match.group(1))
        if tag is None:
            sheet.unknown_tags.append(f"[{match.group(1)}]")
            continue
        if tag.renamed:
            sheet.renamed[f"[{match.group(1).strip()}]"] = f"[{tag.written}]"
        sheet.sections.append(Section(tag.name, tag.written))
        if match.group(2).strip():
            sheet.sections[-1].lines.append(match.group(2).strip())
    return sheet


def syllables(line: str) -> int:
    """Syllables a line is sung in: one per CJK/kana/Hangul character, vowel groups in other words.

    An estimate (English silent e is discounted); exact counts do not matter for checking
    whether lyrics fit a song, which is all it is used for.
    """
    total = len(_SYLLABIC.findall(line))
    for word in _WORD.findall(_SYLLABIC.sub(" ", line)):
        plain = "".join(c for c in unicodedata.normalize("NFKD", word.lower()) if not unicodedata.combining(c))
        groups = len(_VOWEL_GROUP.findall(plain))
        if groups > 1 and plain.endswith("e") and not plain.endswith(("le", "ee", "ye")):
            groups -= 1  # a silent e: "love", "time"
        total += max(1, groups) if groups else max(1, round(len(plain) / 3))
    return total


def bar_seconds(bpm: int, time_signature: str) -> float:
    """How long one bar lasts at `bpm` in `time_signature` (the built-in engine's beat grid)."""
    from mvflow.song.theory import Grid, parse_time_signature

    return Grid(bpm, parse_time_signature(time_signature)).bar_s


def line_bars(line: str, bar_s: float) -> int:
    """Whole bars a sung line needs: its syllables at a comfortable rate plus a breath."""
    seconds = syllables(line) / SYLLABLES_PER_SECOND + BREATH_S
    return max(1, math.ceil(seconds / bar_s - 1e-9))


def sheet_seconds(sheet: Sheet, bar_s: float) -> float:
    """The least time the sheet takes to perform: its sung lines, a bar each for the intro and the outro,
    and a bar for every instrumental break between them."""
    bars = sum(line_bars(line, bar_s) for line in sheet.sung_lines) + FRAME_BARS
    bars += BREAK_BARS * sum(1 for s in sheet.sections if s.voice_free and s.name not in ("Intro", "Outro"))
    return bars * bar_s
