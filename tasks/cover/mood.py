"""Reading a song request as a visual mood: which family of artwork, which palette, how energetic.

The caption is free text written for a music model ("dreamy synthwave, female vocal"), so the
reading is a weighted keyword vote: genre words are strong evidence for a visual family, mood
and scene words are weaker but decide the palette. The title counts at half weight. A caption
with no known word still gets a stable, caption-dependent choice rather than one fixed look.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

FAMILY_KEYWORDS: dict[str, dict[str, float]] = {
    "synthwave": {
        "synthwave": 3, "retrowave": 3, "outrun": 3, "vaporwave": 3, "80s": 3, "eighties": 3,
        "night drive": 3, "darksynth": 3, "synthpop": 2, "synth pop": 2, "retro": 2, "neon": 2,
        "cyberpunk": 2, "arcade": 2, "drive": 1, "highway": 1, "miami": 1,
    },
    "bokeh": {
        "lofi": 3, "lo fi": 3, "ballad": 3, "dream pop": 3, "shoegaze": 3, "bedroom pop": 3,
        "trip hop": 2, "dreamy": 2, "piano": 2, "r&b": 2, "rnb": 2, "soul": 2, "jazz": 2,
        "neo soul": 2, "lullaby": 2, "hip hop": 1, "ambient": 1, "love": 1, "romantic": 1,
        "rain": 1, "rainy": 1, "soft": 1, "city lights": 1,
    },
    "geometric": {
        "electronic": 3, "techno": 3, "house": 3, "edm": 3, "trance": 3, "dubstep": 3,
        "drum and bass": 3, "dnb": 3, "electro": 3, "idm": 3, "breakbeat": 3, "hyperpop": 2,
        "industrial": 2, "minimal": 2, "rave": 2, "club": 2, "glitch": 2, "dance": 1, "warehouse": 1,
    },
    "waves": {
        "acoustic": 3, "folk": 3, "ocean": 3, "surf": 3, "bossa nova": 3, "chillout": 2, "chill": 2,
        "sea": 2, "beach": 2, "country": 2, "reggae": 2, "tropical": 2, "river": 2, "indie": 1,
        "calm": 1, "waves": 1, "road trip": 1, "summer": 1, "breeze": 1,
    },
    "embers": {
        "rock": 3, "punk": 3, "metal": 3, "grunge": 3, "hardcore": 3, "metalcore": 3, "doom": 2,
        "emo": 2, "fire": 2, "angry": 2, "rage": 2, "blues rock": 3, "heavy": 1, "burn": 1,
        "burning": 1, "distorted": 1,
    },
    "nebula": {
        "space": 3, "cosmic": 3, "galaxy": 3, "nebula": 3, "interstellar": 3, "cosmos": 3,
        "stars": 2, "starlight": 2, "astral": 2, "universe": 2, "orbit": 2, "planet": 2,
        "celestial": 2, "ambient": 1, "drift": 1, "moon": 1,
    },
}  # fmt: skip

PALETTE_KEYWORDS: dict[str, dict[str, float]] = {
    "neon_night": {"synthwave": 2, "retrowave": 2, "outrun": 2, "neon": 2, "night drive": 2, "night": 1,
                   "midnight": 1, "city": 1, "cyberpunk": 2, "drive": 1},
    "sunset": {"sunset": 3, "sunrise": 2, "vaporwave": 2, "retro": 1, "warm": 1, "evening": 1, "dusk": 2,
               "miami": 2},
    "golden": {"sunny": 2, "summer": 2, "sunshine": 2, "happy": 2, "joy": 2, "joyful": 2, "road trip": 2,
               "bright": 1, "upbeat": 1, "pop": 1, "country": 1},
    "pastel": {"dreamy": 2, "dream pop": 2, "love": 2, "romantic": 2, "sweet": 2, "tender": 1, "soft": 1,
               "cute": 2, "pink": 2, "lullaby": 1},
    "dusk_rain": {"sad": 2, "rain": 2, "rainy": 2, "melancholy": 2, "melancholic": 2, "lonely": 2,
                  "heartbreak": 2, "tears": 2, "grief": 2, "grey": 1, "gray": 1, "ballad": 1, "piano": 1},
    "lofi": {"lofi": 3, "lo fi": 3, "chill": 1, "study": 2, "cozy": 2, "coffee": 2, "jazz": 1, "hip hop": 1,
             "mellow": 1, "relax": 1, "relaxing": 1},
    "acid": {"dark": 2, "warehouse": 2, "underground": 2, "industrial": 2, "acid": 3, "rave": 1, "techno": 1},
    "electric": {"electronic": 1, "edm": 2, "house": 1, "trance": 2, "dance": 1, "club": 1, "electric": 2,
                 "future": 1, "energetic": 1},
    "ember": {"fire": 3, "angry": 2, "rage": 2, "metal": 2, "rock": 1, "punk": 1, "hell": 2, "burn": 2,
              "burning": 2, "war": 1, "heavy": 1, "blood": 2},
    "cosmic": {"space": 2, "cosmic": 2, "galaxy": 2, "nebula": 2, "stars": 1, "universe": 2, "astral": 2,
               "interstellar": 2, "cosmos": 2, "ambient": 1},
    "ocean": {"ocean": 3, "sea": 2, "beach": 2, "surf": 2, "waves": 2, "water": 1, "island": 2,
              "tropical": 2, "river": 1},
    "forest": {"folk": 1, "forest": 3, "acoustic": 1, "nature": 2, "autumn": 2, "fall": 1, "mountain": 2,
               "earth": 1, "woods": 2, "campfire": 2},
    "ice": {"winter": 3, "snow": 3, "ice": 3, "icy": 2, "cold": 2, "frozen": 3, "arctic": 3, "crystal": 1},
}  # fmt: skip

#: The palette a family uses when no mood word says otherwise.
FAMILY_PALETTE = {
    "synthwave": "neon_night",
    "bokeh": "pastel",
    "geometric": "electric",
    "waves": "ocean",
    "embers": "ember",
    "nebula": "cosmic",
}

ENERGY_WORDS: dict[str, float] = {
    "energetic": 0.3, "upbeat": 0.25, "fast": 0.2, "dance": 0.2, "party": 0.25, "aggressive": 0.3,
    "angry": 0.3, "heavy": 0.2, "hard": 0.2, "intense": 0.25, "loud": 0.2, "rave": 0.25, "driving": 0.15,
    "calm": -0.3, "soft": -0.2, "slow": -0.2, "gentle": -0.2, "chill": -0.25, "sleepy": -0.3,
    "ambient": -0.25, "peaceful": -0.3, "mellow": -0.2, "dreamy": -0.15, "sad": -0.15, "lullaby": -0.3,
    "study": -0.2, "ballad": -0.2, "relaxing": -0.3, "drift": -0.15,
}  # fmt: skip

OVERLAY_WORDS: dict[str, str] = {
    "rain": "rain", "rainy": "rain", "storm": "rain", "stormy": "rain",
    "snow": "snow", "snowy": "snow", "winter": "snow", "snowfall": "snow",
}  # fmt: skip

TITLE_WEIGHT = 0.5


@dataclass(frozen=True)
class Mood:
    """How a request reads visually. `matched` lists the words that decided it (for the CLI)."""

    family: str
    palette: str
    energy: float  # 0 calm .. 1 intense
    overlay: str | None = None  # "rain" / "snow" weather on top of the family
    matched: tuple[str, ...] = ()

    def describe(self) -> str:
        words = ", ".join(self.matched) if self.matched else "no keywords; chosen from the text's hash"
        extra = f", {self.overlay}" if self.overlay else ""
        return f"{self.family} / {self.palette} (energy {self.energy:.2f}{extra}; {words})"


def normalise(text: str) -> str:
    """Lower case, hyphens and punctuation to spaces, "'80s" -> "80s", so phrases match simply."""
    text = text.lower().replace("&", " & ").replace("lo-fi", "lofi")
    text = re.sub(r"[^a-z0-9&]+", " ", text)
    return f" {' '.join(text.split())} "


def find_terms(text: str, table: dict[str, float]) -> dict[str, float]:
    """Weights of the table's terms present in normalised `text`; longest phrases claim words first,
    so "night drive" is not also counted as "drive"."""
    found: dict[str, float] = {}
    for term in sorted(table, key=len, reverse=True):
        needle = f" {term} "
        if needle in text:
            found[term] = table[term]
            text = text.replace(needle, " | ")
    return found


def _vote(
    tables: dict[str, dict[str, float]], caption: str, title: str
) -> tuple[dict[str, float], list[str]]:
    scores: dict[str, float] = {}
    matched: list[str] = []
    for name, table in tables.items():
        cap = find_terms(caption, table)
        tit = find_terms(title, table)
        scores[name] = sum(cap.values()) + TITLE_WEIGHT * sum(tit.values())
        matched.extend(list(cap) + list(tit))
    return scores, matched


def _stable_pick(options: list[str], text: str) -> str:
    digest = hashlib.sha256(text.encode()).digest()
    return options[digest[0] % len(options)]


def _best(scores: dict[str, float], bonus: dict[str, float] | None = None) -> str | None:
    bonus = bonus or {}
    total = {k: v + bonus.get(k, 0.0) for k, v in scores.items()}
    name = max(total, key=lambda k: total[k])  # dict order breaks ties deterministically
    return name if scores.get(name, 0.0) > 0 else None


def _energy(text: str) -> float:
    found = find_terms(text, ENERGY_WORDS)
    return float(min(1.0, max(0.0, 0.5 + sum(found.values()))))


def _overlay(text: str) -> str | None:
    for word in text.split():
        if word in OVERLAY_WORDS:
            return OVERLAY_WORDS[word]
    return None


def cover_mood(caption: str, title: str = "") -> Mood:
    """Interpret a song's caption (and title) as a cover family, palette, energy and weather."""
    cap, tit = normalise(caption), normalise(title)
    fam_scores, fam_words = _vote(FAMILY_KEYWORDS, cap, tit)
    family = _best(fam_scores) or _stable_pick(list(FAMILY_KEYWORDS), cap + "|" + tit)
    pal_scores, pal_words = _vote(PALETTE_KEYWORDS, cap, tit)
    # The family's own palette wins ties: "metal" alone should look like fire, not ice.
    palette = _best(pal_scores, {FAMILY_PALETTE[family]: 0.5}) or FAMILY_PALETTE[family]
    matched = tuple(dict.fromkeys(fam_words + pal_words))
    return Mood(family, palette, _energy(cap + tit), _overlay(cap + tit), matched)
