"""The text prompt an image model gets for a cover, built from the song's caption and title.

The caption is written for a music model ("dreamy synthwave, female vocal, 100 bpm"), so it
is split into descriptors: mood adjectives become the mood, the rest is the music, and
performance details (vocals, tempo, key) are dropped because they are not visual and
"female vocal" would put a singer in the picture. The title only contributes theme words,
never the title itself: image models tend to paint a quoted title as lettering, and the
cover must carry no text (the video draws the lyrics and title itself).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from string import Template

from mvflow.errors import PermanentError

TEMPLATE_NAME = "cover_prompt.txt"

#: Adjectives that describe how the music feels; everything else in the caption is "the music".
MOOD_WORDS = frozenset({
    "dreamy", "melancholic", "melancholy", "sad", "happy", "joyful", "upbeat", "energetic", "calm",
    "chill", "chilled", "mellow", "dark", "bright", "warm", "cold", "nostalgic", "romantic", "tender",
    "soft", "gentle", "aggressive", "angry", "intense", "epic", "peaceful", "relaxing", "relaxed",
    "hopeful", "uplifting", "euphoric", "moody", "haunting", "eerie", "ethereal", "lonely", "bittersweet",
    "playful", "groovy", "hypnotic", "mysterious", "cinematic", "atmospheric", "emotional", "powerful",
    "wistful", "serene", "triumphant", "somber", "sombre", "brooding", "cheerful", "cozy", "cosy",
    "sleepy", "anthemic", "fierce", "heartfelt", "lush", "dramatic", "tense", "gloomy", "joyous",
    "sentimental",
})  # fmt: skip

#: Tempo, key and metre ("120 bpm", "in A minor", "4/4"): cut out before the caption is split.
TECHNICAL = re.compile(
    r"\b\d+\s*/\s*\d+\b|\b\d+\s*bpm\b|\bbpm\s*\d+\b|\b(in\s+)?[a-g][#b♯♭]?[ -](major|minor)\b",
    re.IGNORECASE,
)

#: Fragments about the performance rather than the picture ("female vocal" would paint a singer).
NOT_VISUAL = re.compile(
    r"\b(vocals?|voices?|singers?|singing|sung|rap|rapping|duet|choir|bpm|tempo)\b", re.IGNORECASE
)

#: Words that carry no imagery once a descriptor is cut out of a sentence.
FILLER = frozenset({
    "a", "an", "the", "in", "key", "time", "signature", "track", "song", "tune", "music", "piece", "style",
    "genre", "of",
})  # fmt: skip

#: Title words that are not themes.
STOPWORDS = frozenset({
    "a", "an", "the", "of", "in", "on", "to", "and", "or", "but", "my", "your", "our", "their", "his",
    "her", "its", "me", "you", "i", "we", "us", "it", "is", "are", "was", "be", "for", "with", "at", "by",
    "from", "this", "that", "these", "those", "oh", "so", "all", "no", "not", "just",
})  # fmt: skip

# Not " and ": "drum and bass" is one genre.
FRAGMENT_SPLIT = re.compile(r"[,;/|\n.]+|\s+with\s+", re.IGNORECASE)
WORD = re.compile(r"[^\W_]+(?:['&-][^\W_]+)*")  # keeps "don't", "r&b", "lo-fi", "80s"

MAX_MUSIC_CHARS = 160
MAX_THEMES = 8


@cache
def load_template() -> Template:
    """The packaged prompt template (templates/cover_prompt.txt), read once."""
    try:
        text = resources.files("mvflow.templates").joinpath(TEMPLATE_NAME).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as exc:
        raise PermanentError(
            f"cover prompt template templates/{TEMPLATE_NAME} is missing: reinstall mvflow"
        ) from exc
    return Template(text)


def caption_terms(caption: str) -> tuple[list[str], list[str]]:
    """(music descriptors, mood words) from a free-text caption, in order, without duplicates."""
    music: list[str] = []
    moods: list[str] = []
    for fragment in FRAGMENT_SPLIT.split(TECHNICAL.sub(" ", caption.lower())):
        if NOT_VISUAL.search(fragment):
            continue
        words = WORD.findall(fragment)
        moods.extend(w for w in words if w in MOOD_WORDS)
        rest = [w for w in words if w not in MOOD_WORDS and w not in FILLER]
        if any(not w.isdigit() for w in rest):
            music.append(" ".join(rest))
    return _unique(music), _unique(moods)


def title_themes(title: str) -> list[str]:
    """The title's meaningful words ("Night Drive" -> ["night", "drive"])."""
    words = [w for w in WORD.findall(title.lower()) if w not in STOPWORDS and not w.isdigit()]
    return _unique(words)[:MAX_THEMES]


def describe_aspect(aspect: str) -> str:
    """'16:9' -> '16:9 landscape', so the model composes for the frame it is asked to fill."""
    try:
        w, h = (float(x) for x in aspect.split(":"))
    except ValueError:
        return aspect
    shape = "square" if w == h else ("landscape" if w > h else "portrait")
    return f"{aspect} {shape}"


def cover_prompt(
    caption: str,
    title: str,
    aspect: str,
    override: str | None = None,
    lyrics_area: str = "lower third",
) -> str:
    """The prompt for one cover image. A non-blank `override` (--cover-prompt) is used verbatim:
    the user asked for exactly that. `lyrics_area` is where the video style draws lyrics and bars."""
    if override and override.strip():
        return override.strip()
    music, moods = caption_terms(caption)
    themes = title_themes(title)
    values = {
        "genre": _clip(", ".join(music), MAX_MUSIC_CHARS) or "instrumental",
        "mood": ", ".join(moods) or "matching the music",
        "themes": ", ".join(themes) or "the feeling of the music",
        "aspect": describe_aspect(aspect),
        "lyrics_area": lyrics_area,
    }
    return load_template().substitute(values).strip()


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _clip(text: str, limit: int) -> str:
    """Cut at a comma before `limit` so a paragraph-long caption does not swamp the prompt."""
    if len(text) <= limit:
        return text
    cut = text.rfind(", ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip(", ")
