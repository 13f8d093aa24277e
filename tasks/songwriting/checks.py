"""What a songwriter must answer, and whether its answer can be made into a song.

`PlanDraft` is the answer's shape (the JSON schema sent as structured output is made from
it, so the two cannot drift). `merged` lays the values the user gave over the songwriter's
(flags always win), and `problems` checks the merged plan, because that is what will be
made: the schema's ranges, the tags (mvflow.songwriting.sheet), no empty verse, no sung
line under an [Instrumental] tag, lines short enough to sing, and lyrics that fit the
duration at the tempo. Problems are sentences a model can act on: the repair round-trip
sends them back as they are, and the final error shows them to the user.

Nothing here shortens lyrics: a plan whose lyrics do not fit is refused, never cut.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mvflow.inputs import MAX_CAPTION_CHARS, MAX_DURATION, check_key_and_meter
from mvflow.models import SongIdea
from mvflow.songwriting.sheet import (
    MAY_BE_EMPTY,
    SECTIONS,
    Sheet,
    bar_seconds,
    line_bars,
    read_sheet,
    sheet_seconds,
    syllables,
)

#: Longer than this, a line cannot be sung in one breath (ACE-Step's guide: 6-10 syllables work best).
MAX_SYLLABLES = 16
#: Shortest song a songwriter may choose (the user may ask for less).
MIN_PLAN_SECONDS = 10.0
#: Lyrics filling less than this share of the song leave long instrumental stretches: said, not refused.
SPARSE_SHARE = 0.35
MAX_TITLE_WORDS = 12
MAX_SHOWN = 3
_LANGUAGE = re.compile(r"^(?:[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?|unknown)$")


class PlanDraft(BaseModel):
    """A songwriter's answer: the song plan before mvflow checks it. Field descriptions go into the schema."""

    model_config = ConfigDict(extra="ignore")

    title: str = Field(description="The song's title: 1 to 5 words, usually the chorus's hook")
    caption: str = Field(description="ACE-Step style caption: comma-separated genre, mood, instruments, timbre "
                                     "and voice; no tempo, key or length")
    lyrics: str = Field(description="The lyric sheet: each section tag in square brackets on its own line, "
                                    "followed by its sung lines; a blank line between sections")
    bpm: int = Field(description="Tempo in beats per minute, 30 to 300, plausible for the genre")
    key_scale: str = Field(description="Key and scale, e.g. 'A minor' or 'F# major'")
    time_signature: Literal["2", "3", "4", "6"] = Field(
        description="Beats per bar: '4' for 4/4, '3' for 3/4, '6' for 6/8, '2' for 2/4")
    duration: float = Field(description="Length of the song in seconds, 10 to 600")
    vocal_language: str = Field(description="ISO 639-1 code of the language the lyrics are sung in, e.g. 'en'")

    @field_validator("time_signature", mode="before")
    @classmethod
    def _meter(cls, value: Any) -> Any:
        """'4/4' and 4 mean '4': what matters is the meter, not how a model spelled it."""
        text = str(value).strip()
        return {"2/4": "2", "3/4": "3", "4/4": "4", "6/8": "6"}.get(text, text)


def draft_schema() -> dict[str, Any]:
    """The JSON schema of a PlanDraft in the strict subset structured output accepts: every property
    required, no others allowed, each described (types, enums and descriptions only)."""
    full = PlanDraft.model_json_schema()
    properties = {}
    for name, spec in full["properties"].items():
        kept = {key: spec[key] for key in ("type", "enum", "description") if key in spec}
        properties[name] = kept
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def read_draft(data: Any) -> tuple[PlanDraft | None, list[str]]:
    """(the draft, []) when `data` has the plan's shape, else (None, every shape problem)."""
    if not isinstance(data, dict):
        return None, [f"the answer must be a JSON object with {', '.join(PlanDraft.model_fields)}"]
    try:
        return PlanDraft.model_validate(data), []
    except ValidationError as exc:
        return None, [_shape_problem(error) for error in exc.errors()]


def _shape_problem(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error["loc"]) or "answer"
    if error["type"] == "missing":
        return f"{where} is missing"
    return f"{where}: {error['msg']} (got {str(error.get('input'))[:40]!r})"


def merged(draft: PlanDraft, idea: SongIdea) -> dict[str, Any]:
    """The plan that will be made: the songwriter's values, with every value the user gave laid over them.

    A vocal or "instrumental" the user asked for is added to the caption when the caption
    does not say it (the caption is what tells ACE-Step who sings).
    """
    plan: dict[str, Any] = {
        "title": draft.title.strip(), "caption": draft.caption.strip(), "lyrics": draft.lyrics.strip(),
        "bpm": draft.bpm, "key_scale": draft.key_scale.strip(), "time_signature": draft.time_signature,
        "duration": float(draft.duration), "language": draft.vocal_language.strip().lower(),
    }
    plan.update(idea.given())
    caption = plan["caption"]
    if idea.vocal and not re.search(rf"\b{re.escape(idea.vocal)}\b", caption, re.IGNORECASE):
        caption = f"{caption}, {idea.vocal} vocal" if caption else f"{idea.vocal} vocal"
    if idea.instrumental and "instrumental" not in caption.lower():
        caption = f"{caption}, instrumental" if caption else "instrumental"
    plan["caption"] = caption
    return plan


def problems(plan: dict[str, Any], idea: SongIdea) -> tuple[list[str], list[str]]:
    """(problems that make the plan unusable, notes worth telling) of a merged plan.

    Values the user gave are not questioned: they were checked as input.
    """
    found = _value_problems(plan, idea)
    sheet = read_sheet(plan["lyrics"])
    found += _sheet_problems(sheet, idea)
    if plan["language"] == "unknown" and sheet.sung_lines and "language" not in idea.given():
        found.append("vocal_language is 'unknown', but the lyrics are sung: give the language's code, e.g. 'en'")
    notes = [f"tag {old} written as {new}" for old, new in sheet.renamed.items()]
    if not found and sheet.sung_lines:
        fit, note = _budget(sheet, plan)
        found += fit
        notes += note
    return found, notes


def _value_problems(plan: dict[str, Any], idea: SongIdea) -> list[str]:
    given = idea.given()
    found = []
    if not plan["title"]:
        found.append("title is empty")
    elif "title" not in given and len(plan["title"].split()) > MAX_TITLE_WORDS:
        found.append(f"title {plan['title'][:60]!r} is too long: use 1 to 5 words")
    if not plan["caption"]:
        found.append("caption is empty: describe genre, mood, instruments and voice")
    elif len(plan["caption"]) > MAX_CAPTION_CHARS:
        found.append(f"caption is {len(plan['caption'])} characters long: keep it under 300")
    if "bpm" not in given and not 30 <= plan["bpm"] <= 300:
        found.append(f"bpm {plan['bpm']} is outside 30-300")
    if "duration" not in given and not MIN_PLAN_SECONDS <= plan["duration"] <= MAX_DURATION:
        found.append(f"duration {plan['duration']:g} s is outside {MIN_PLAN_SECONDS:g}-{MAX_DURATION:g} s")
    if "key_scale" not in given:
        try:
            check_key_and_meter(plan["key_scale"], None)
        except ValueError:
            found.append(f"key_scale {plan['key_scale']!r} is not a key: write it like 'A minor' or 'F# major'")
    if "language" not in given and not _LANGUAGE.match(plan["language"]):
        found.append(f"vocal_language {plan['language']!r} is not a language code like 'en' or 'es'")
    return found


def _sheet_problems(sheet: Sheet, idea: SongIdea) -> list[str]:
    """Tags, empty sections, sung lines where nobody sings, and lines too long to sing."""
    found = []
    allowed = ", ".join(f"[{name}]" for name in SECTIONS)
    if sheet.untagged:
        found.append(f"{len(sheet.untagged)} line(s) come before the first section tag "
                     f"(starting {sheet.untagged[0][:40]!r}): put a tag such as [Verse] first")
    if sheet.unknown_tags:
        found.append(f"tag(s) {', '.join(sheet.unknown_tags[:MAX_SHOWN])} are not sections: use only {allowed}, "
                     "with an optional number or ' - hint' ([Chorus - whispered])")
    if not sheet.sections:
        found.append(f"the lyrics have no section tags: use {allowed}")
    empty = [f"[{s.tag}]" for s in sheet.sections if not s.lines and s.name not in MAY_BE_EMPTY]
    if empty:
        found.append(f"{', '.join(empty[:MAX_SHOWN])} {'has' if len(empty) == 1 else 'have'} no lines: "
                     "every verse, pre-chorus, chorus and bridge needs sung lines")
    sung_in_breaks = [f"[{s.tag}]" for s in sheet.sections if s.name == "Instrumental" and s.lines]
    if sung_in_breaks:
        found.append(f"{', '.join(sung_in_breaks[:MAX_SHOWN])} {'has' if len(sung_in_breaks) == 1 else 'have'} "
                     "lines, but nobody sings in an instrumental part: move them into a sung section")
    if idea.instrumental and sheet.sung_lines:
        found.append(f"the song is instrumental, but the lyrics have {len(sheet.sung_lines)} sung line(s): "
                     "use only [Intro], [Instrumental] and [Outro] tags without lines")
    elif not idea.instrumental and sheet.sections and not sheet.sung_lines:
        found.append("the lyrics have no sung lines: write verses and a chorus")
    long_lines = [line for line in sheet.sung_lines if syllables(line) > MAX_SYLLABLES]
    if long_lines:
        shown = "; ".join(f"{line[:50]!r} ({syllables(line)})" for line in long_lines[:MAX_SHOWN])
        found.append(f"{len(long_lines)} line(s) have more than {MAX_SYLLABLES} syllables, too long to sing in "
                     f"one breath: {shown}; split them or say less")
    return found


def _budget(sheet: Sheet, plan: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Do the lyrics fit the duration at the tempo? Too many: a problem; far too few: a note."""
    bar_s = bar_seconds(plan["bpm"], plan["time_signature"])
    needed = sheet_seconds(sheet, bar_s)
    duration = plan["duration"]
    lines = len(sheet.sung_lines)
    if needed > duration:
        per_line = sum(line_bars(line, bar_s) for line in sheet.sung_lines) * bar_s / lines
        room = duration - (needed - per_line * lines)
        most = max(1, int(room / per_line))
        return [f"the lyrics do not fit: {lines} sung lines need about {needed:.0f} s at {plan['bpm']} bpm, "
                f"but the song is {duration:g} s long; write at most about {most} lines (shorter sections, "
                "fewer repeats), or make the song longer"], []
    if needed < SPARSE_SHARE * duration:
        return [], [f"the lyrics fill about {needed:.0f} s of the {duration:g} s song: expect long instrumental "
                    "stretches"]
    return [], []


def budget_hint(idea: SongIdea) -> str:
    """One or two sentences for the prompt: how many lines fit the song the user asked for."""
    if idea.instrumental:
        return "The song is instrumental: no sung lines at all."
    bpm = idea.bpm
    meter = idea.time_signature or "4"
    if idea.duration is None:
        return ("Choose a duration between 60 and 210 seconds that suits the idea and the genre, and write "
                "lyrics that fill it: about 8 to 12 sung lines per minute at a mid tempo.")
    assumed = bpm or 110
    lines_lo, lines_hi = lines_for(idea.duration, assumed, meter)
    tempo = f"{bpm} bpm" if bpm else f"about {assumed} bpm (fewer lines at slower tempos, more at faster ones)"
    return (f"This song is {idea.duration:g} seconds long: at {tempo} that holds about {lines_lo} to {lines_hi} "
            "sung lines of 6 to 10 syllables. Do not write more.")


def lines_for(duration: float, bpm: int, time_signature: str) -> tuple[int, int]:
    """A sensible range of sung lines for a song: typical 8-syllable lines, a few bars kept for the
    intro and outro (upper end), about half that for a relaxed song (lower end)."""
    bar_s = bar_seconds(bpm, time_signature)
    per_line = line_bars("a line of about eight syllables", bar_s) * bar_s
    room = max(0.0, duration - 4 * bar_s)
    most = max(1, int(room / per_line))
    return max(1, most // 2), most


def title_from_lyrics(lyrics: str, fallback: str) -> str:
    """A title for a plan whose songwriter gives none (ACE-Step's LM): the first phrase of the chorus's first
    line, which is usually the hook ("Drive on, drive on" -> "Drive On"), in at most five words; else the
    first sung line's; else `fallback`."""
    sheet = read_sheet(lyrics)
    chorus = next((s.lines[0] for s in sheet.sections if s.name == "Chorus" and s.lines), None)
    line = chorus or next(iter(sheet.sung_lines), None)
    if not line:
        return fallback
    phrase = re.split(r"[,;:!?.()—–]|\s-\s", line)[0]
    words = re.findall(r"[^\W_]+(?:['’][^\W_]+)*", phrase)[:5]
    return " ".join(word[:1].upper() + word[1:] for word in words) or fallback
