"""A tiny deterministic, rule-based stand-in for ACE-Step's 5Hz LM, used by the built-in server.

The real server needs its LM for format mode (`use_format`, `/format_input`), simple mode
(`sample_query`/`description`) and sample mode. The built-in engine has no LM; the built-in
server answers those requests with these rules (while its LM is "loaded": `mvflow engine serve
--no-lm` makes them fail as upstream does without one), so the client's format/description/
random flows can be exercised end to end without a GPU.
Keyword tables map words to style tags, tempo and mode; a seed picks among equals, so the
same input always gives the same answer. `thinking` needs no stand-in: it only changes
how the real LM writes audio codes, so the built-in server accepts and ignores it.
"""

from __future__ import annotations

import random
import re
from typing import Any

#: keyword -> (style tags, bpm, mode)
MOODS: dict[str, tuple[str, int, str]] = {
    "cheerful": ("upbeat pop, bright, acoustic guitar", 120, "major"),
    "happy": ("upbeat pop, bright, handclaps", 118, "major"),
    "joyful": ("upbeat pop, bright, handclaps", 118, "major"),
    "sad": ("melancholic ballad, piano, soft vocal", 72, "minor"),
    "melancholic": ("melancholic ballad, piano, soft vocal", 72, "minor"),
    "lonely": ("melancholic ballad, piano, soft vocal", 70, "minor"),
    "calm": ("chill, soft pads, warm", 84, "major"),
    "chill": ("chill lofi, soft drums, warm", 85, "major"),
    "lofi": ("chill lofi, soft drums, vinyl", 80, "major"),
    "energetic": ("energetic rock, electric guitar, driving drums", 140, "minor"),
    "rock": ("rock, electric guitar, driving drums", 132, "minor"),
    "dance": ("dance pop, edm, four on the floor", 124, "minor"),
    "party": ("dance pop, edm, four on the floor", 126, "major"),
    "dreamy": ("dreamy synthwave, airy pads", 100, "minor"),
    "night": ("dreamy synthwave, neon, night drive", 100, "minor"),
    "epic": ("cinematic, orchestral, epic drums", 90, "minor"),
    "piano": ("solo piano, gentle", 76, "major"),
    "jazz": ("smooth jazz, saxophone, brushed drums", 96, "major"),
    "folk": ("folk, acoustic guitar, warm vocal", 104, "major"),
}
DEFAULT_MOOD = ("pop, catchy melody, polished", 110, "major")

LANGUAGES = {"english": "en", "chinese": "zh", "mandarin": "zh", "中文": "zh", "japanese": "ja", "日本語": "ja",
             "korean": "ko", "한국어": "ko", "spanish": "es", "español": "es", "french": "fr", "français": "fr",
             "german": "de", "deutsch": "de", "italian": "it", "portuguese": "pt"}
INSTRUMENTAL_WORDS = ("instrumental", "solo", "no vocals", "without vocals")
ROOTS = ("C", "D", "E", "F", "G", "A", "Bb", "Eb")
SECTION = re.compile(r"^\s*\[[^\]]+\]\s*$")
#: The stand-in LM's song length: an intro, then this many seconds per sung line.
INTRO_S = 4.0
SECONDS_PER_LINE = 4.0

VERSE_LINES = ("{Topic} is calling me again", "I can feel the {topic} in the air",
               "Every step is {mood} and new", "Walking slowly through the {topic}")
CHORUS_LINES = ("Oh {topic}, stay with me tonight", "Sing it out, the {topic} is here",
                "We are {mood} under open skies")
STOPWORDS = {"a", "an", "the", "song", "track", "tune", "about", "of", "with", "and", "for", "in", "on", "my",
             "some", "very", "music", "piece"}


def _rng(*parts: Any) -> random.Random:
    return random.Random("\x1f".join(map(str, parts)))


def tidy_caption(caption: str) -> str:
    """Comma-separated tags, trimmed, lower case, without duplicates (what 'format' does to a caption)."""
    seen: list[str] = []
    for tag in re.split(r"[,\n]", caption):
        tag = " ".join(tag.split()).lower().strip(" .;")
        if tag and tag not in seen:
            seen.append(tag)
    return ", ".join(seen)


def mood_of(text: str) -> tuple[str, int, str]:
    words = re.findall(r"\w+", text.lower())
    return next((MOODS[w] for w in words if w in MOODS), DEFAULT_MOOD)


def language_of(text: str, default: str = "en") -> str:
    lowered = text.lower()
    return next((code for word, code in LANGUAGES.items() if word in lowered), default)


def is_instrumental_query(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in INSTRUMENTAL_WORDS)


def guess_metas(text: str, seed: Any = 0) -> dict[str, Any]:
    """bpm, key and time signature a caption or description suggests."""
    _, bpm, mode = mood_of(text)
    root = _rng("key", text, seed).choice(ROOTS)
    return {"bpm": bpm, "key_scale": f"{root} {mode}",
            "time_signature": "3" if "waltz" in text.lower() else "4"}


def tidy_lyrics(lyrics: str) -> str:
    """Lyrics with section tags: untagged text becomes a [Verse]."""
    text = lyrics.strip()
    if not text or text.lower() in ("[inst]", "[instrumental]"):
        return text
    if not any(SECTION.match(line) for line in text.splitlines()):
        text = "[Verse]\n" + text
    return text


def format_song(caption: str, lyrics: str, metas: dict[str, Any], seed: Any = 0) -> dict[str, Any]:
    """Format mode: tidy caption/lyrics, keep the user's metas and fill the missing ones."""
    guessed = guess_metas(caption, seed)
    duration = metas.get("duration")
    return {
        "caption": tidy_caption(caption),
        "lyrics": tidy_lyrics(lyrics),
        "bpm": metas.get("bpm") or guessed["bpm"],
        "key_scale": metas.get("key_scale") or guessed["key_scale"],
        "time_signature": metas.get("time_signature") or guessed["time_signature"],
        "duration": float(duration) if duration and float(duration) > 0 else 30.0,
        "vocal_language": metas.get("language") or language_of(caption),
    }


def topic_of(query: str) -> str:
    """The subject of a description: the words after 'about', else the last meaningful word."""
    about = re.search(r"\babout\s+(.+)$", query, re.IGNORECASE)
    words = [w for w in re.findall(r"[^\W\d_]+", about.group(1) if about else query) if w.lower() not in STOPWORDS]
    return " ".join(words[:2]).lower() if about and words else (words[-1].lower() if words else "the light")


def write_lyrics(topic: str, mood: str, seed: Any = 0) -> str:
    """A short verse and chorus about `topic` (two lines each, picked by seed)."""
    rng = _rng("lyrics", topic, seed)
    fill = {"topic": topic, "Topic": topic[:1].upper() + topic[1:], "mood": mood}
    verse = [line.format(**fill) for line in rng.sample(VERSE_LINES, 2)]
    chorus = [line.format(**fill) for line in rng.sample(CHORUS_LINES, 2)]
    return "\n".join(["[Verse]", *verse, "", "[Chorus]", *chorus])


def sample_song(query: str, seed: Any = 0, language: str = "en") -> dict[str, Any]:
    """Simple/sample mode: caption, lyrics, metas and the song's length written from a description (or
    from nothing). Like upstream's LM, it chooses the length itself: the request's duration is not asked."""
    rng = _rng("sample", query, seed)
    text = query.strip() or rng.choice(sorted(MOODS)) + " song about " + rng.choice(("summer", "the sea", "home"))
    tags, _, _ = mood_of(text)
    mood_word = next((w for w in re.findall(r"\w+", text.lower()) if w in MOODS), "bright")
    instrumental = is_instrumental_query(text)
    lyrics = "[inst]" if instrumental else write_lyrics(topic_of(text), mood_word, seed)
    return {
        "caption": tags,
        "lyrics": lyrics,
        **guess_metas(text, seed),
        "duration": sample_length(lyrics),
        "vocal_language": language_of(text, language),
        "instrumental": instrumental,
    }


def sample_length(lyrics: str) -> float:
    """The length the stand-in LM gives a song it wrote: a bar's worth of seconds per sung line, plus an intro."""
    sung = [line for line in lyrics.splitlines() if line.strip() and not SECTION.match(line)]
    return float(INTRO_S + SECONDS_PER_LINE * max(len(sung), 2))
