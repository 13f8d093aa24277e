"""The songwriting prompt: a text template users can copy and edit, and the messages made from it.

The bundled template is templates/songwriting_prompt.txt; a user's own comes from the
`songwriter_prompt` setting (--songwriter-prompt FILE; `mvflow write --show-prompt` prints the
bundled one to start from). It has three parts, each after a marker line: `=== system ===`
(the craft: sections, singable lines, the chorus, rhyme, an ACE-Step caption, plausible
parameters, a line count that fits the song), `=== user ===` (the idea and its constraints)
and `=== repair ===` (what was wrong with the first answer). `$name` placeholders are filled
with string.Template: $idea, $constraints, $budget, $tags, $max_syllables, $fields, $problems.

The template's text is hashed into the plan's cache key (`template_digest`): edit it and the
next run writes a new plan instead of reusing the old one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from mvflow.errors import InputError
from mvflow.models import SongIdea

TEMPLATE_NAME = "songwriting_prompt.txt"
PARTS = ("system", "user", "repair")
_MARKER = re.compile(r"^=== (\w+) ===\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """The three parts of a template, as Templates."""

    system: Template
    user: Template
    repair: Template


def template_text(path: str | Path | None = None) -> str:
    """The template's text: the user's file, or the bundled one ('' or None)."""
    if path:
        file = Path(path).expanduser()
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read the songwriting prompt {file}: {exc.strerror or exc} "
                             "(songwriter_prompt / --songwriter-prompt)") from None
    return resources.files("mvflow.templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")


def template_digest(path: str | Path | None = None) -> str:
    """sha256 of the template's text: part of the plan's cache key."""
    return hashlib.sha256(template_text(path).encode("utf-8")).hexdigest()


def load_template(path: str | Path | None = None) -> PromptTemplate:
    """The template's three parts; a file missing one, or with a placeholder misspelt, is one clear error."""
    text = template_text(path)
    where = path or f"templates/{TEMPLATE_NAME}"
    pieces = _MARKER.split(text)
    parts = {pieces[i].lower(): pieces[i + 1].strip() for i in range(1, len(pieces) - 1, 2)}
    missing = [name for name in PARTS if not parts.get(name)]
    if missing:
        raise InputError(f"songwriting prompt {where} lacks its {', '.join(missing)} part(s): each part starts "
                         f"with a line like '=== {missing[0]} ==='")
    return PromptTemplate(*(Template(parts[name]) for name in PARTS))


def fill(template: Template, values: dict[str, str], where: str) -> str:
    """The template with its placeholders filled; an unknown one names itself and the known ones."""
    try:
        return template.substitute(values)
    except (KeyError, ValueError) as exc:
        raise InputError(f"songwriting prompt: unknown or broken placeholder {exc} in its {where} part; "
                         f"the placeholders are {', '.join('$' + k for k in sorted(values))}") from None


def constraints_text(idea: SongIdea) -> str:
    """The user's constraints, one per line, or a line saying the songwriter chooses everything."""
    lines = []
    if idea.title:
        lines.append(f"- Title: {idea.title}")
    if idea.caption:
        lines.append(f"- Style (use it as the caption): {idea.caption}")
    if idea.mood:
        lines.append(f"- Mood: {idea.mood}")
    if idea.vocal:
        lines.append(f"- Voice: {idea.vocal} vocal")
    if idea.instrumental:
        lines.append("- Instrumental: no sung lines, only [Intro], [Instrumental] and [Outro] tags")
    if idea.language:
        lines.append(f"- Sung in the language with code '{idea.language}'")
    if idea.duration is not None:
        lines.append(f"- Length: {idea.duration:g} seconds")
    if idea.bpm is not None:
        lines.append(f"- Tempo: {idea.bpm} bpm")
    if idea.key_scale:
        lines.append(f"- Key: {idea.key_scale}")
    if idea.time_signature:
        lines.append(f"- Time signature: {idea.time_signature} beats per bar")
    if not lines:
        return "No other constraints: choose everything to suit the idea."
    return "These are fixed; keep to them exactly:\n" + "\n".join(lines)


def fields_text() -> str:
    """The answer's fields with their descriptions, for servers that ignore the JSON schema."""
    from mvflow.songwriting.checks import PlanDraft

    return "\n".join(f"- {name}: {info.description}" for name, info in PlanDraft.model_fields.items())
