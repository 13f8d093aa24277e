"""Lyrics text -> ordered song sections with their lines.

Lyrics arrive in the ACE-Step style: section tags in square brackets ([Intro], [Verse 1],
[Pre-Chorus], [Chorus], [Bridge], [Outro], [Instrumental] or [inst], [Hook] ...) followed
by the lines sung in that section. Tags we do not know ([Female vocal], [Spoken] ...) are
performance hints, not sections: they are skipped and their lines stay in the current section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Section kinds the arranger knows how to play.
KINDS = ("intro", "verse", "prechorus", "chorus", "hook", "bridge", "outro", "instrumental")

_TAG_RE = re.compile(r"^\s*\[([^\]]*)\]\s*(.*)$")
_WORD_RE = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")

# Order matters: "pre-chorus" must be seen before "chorus".
_TAG_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("prechorus", ("prechorus", "pre chorus", "build up", "buildup", "build")),
    ("chorus", ("post chorus", "postchorus", "chorus", "refrain")),
    ("hook", ("hook",)),
    ("verse", ("verse",)),
    ("bridge", ("bridge", "middle 8", "middle eight")),
    ("intro", ("intro",)),
    ("outro", ("outro", "ending", "coda", "end")),
    ("instrumental", ("instrumental", "inst", "solo", "interlude", "break", "drop")),
)


@dataclass(frozen=True)
class Section:
    """One tagged block of the lyrics. `label` is the tag as written (e.g. 'Verse 1')."""

    kind: str
    label: str
    lines: tuple[str, ...] = ()

    @property
    def instrumental(self) -> bool:
        """Voice-free: an [Instrumental]-type tag, or an intro/outro without lines."""
        return self.kind == "instrumental" or not self.lines


def section_kind(tag: str) -> str | None:
    """Map a tag's text to a section kind, or None when the tag is not a section ('Female vocal')."""
    words = " ".join(re.sub(r"[^a-z0-9]+", " ", tag.lower()).split())
    padded = f" {words} "
    for kind, names in _TAG_RULES:
        if any(f" {name} " in padded or words.startswith(name + " ") or words == name for name in names):
            return kind
    return None


def has_section_tags(text: str) -> bool:
    """True when the lyrics name at least one section ([Verse], [Chorus] ...; hints like [Spoken] do not count)."""
    return any((m := _TAG_RE.match(raw)) is not None and section_kind(m.group(1)) is not None
               for raw in (text or "").splitlines())


def parse_lyrics(text: str) -> list[Section]:
    """Split lyrics into sections in order. Lines before the first tag form a verse.

    Empty sung sections ([Chorus] with no lines) are dropped; empty [Intro]/[Outro] and
    instrumental tags are kept, because they ask for voice-free bars.
    """
    sections: list[Section] = []
    kind, label, lines = "verse", "Verse", []

    def close() -> None:
        if lines or kind in ("intro", "outro", "instrumental"):
            sections.append(Section(kind, label, tuple(lines)))

    started = False
    for raw in (text or "").splitlines():
        match = _TAG_RE.match(raw)
        if match:
            new_kind = section_kind(match.group(1))
            if new_kind is not None:
                if started or lines:
                    close()
                kind, label, lines, started = new_kind, match.group(1).strip() or new_kind.title(), [], True
            rest = match.group(2).strip()
            if rest and words_of(rest):
                lines.append(rest)
            continue
        line = raw.strip()
        if line and words_of(line):
            lines.append(line)
    if started or lines:
        close()
    return sections


def words_of(line: str) -> list[str]:
    """The singable words of a line, punctuation stripped ('Hold on, love!' -> ['Hold', 'on', 'love'])."""
    return _WORD_RE.findall(line)


def is_loud(line: str) -> bool:
    """UPPERCASE lines are shouted: every letter upper case and at least two of them."""
    letters = [c for c in line if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)
