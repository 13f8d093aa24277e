"""How well the offline lyrics step times lines and words, on a clean set and on a hard set of songs.

Both sets are made by the built-in engine, so the truth is known to the sample (placement.json):

* clean: 14 songs as they always were (spoken espeak-ng words on a fine grid over a light
  band ducked 12 dB under a dry voice; 70-160 bpm; 2/4, 3/4, 4/4, 6/8; 20-60 s; six voices;
  repeated choruses; [Instrumental] breaks; a line under an instrumental tag nobody sings).
* hard: 12 songs that sound like produced songs (engine options vocal_style "sung" and mix
  "dense"): words held over one to three eighth notes at their own pitch, scooped, glided,
  with vibrato and melismas; a band as loud as the voice with a sawtooth lead and a pad in the
  voice's range, drums, a vocal echo and a room reverb, stereo; 68-170 bpm; 2/4, 3/4, 4/4, 6/8; male and female
  voices; every song has an instrumental break, repeated choruses and one or two lines the
  singer skips (skip_lines: their bars are played, nobody sings), most also a line under an
  [Instrumental]/[Guitar Solo] tag.
* holdout: 10 more songs made like the hard set's, in combinations of theme, plan, tempo, voice,
  seed and skipped line the timing method was never tuned on (the hard set's targets).

Each song is timed by `mvflow.lyrics.sync.sync_lyrics` (transcriber "local"): whatever the
lyrics step does, the benchmark measures, with only the audio and the lyric sheet as input.
placement.json and result.json are read by the benchmark only, after the step has answered.
The lines the step returns are read back onto the sheet by text and order (see match_lines).

Per set it prints: sung lines, placed, unplaced (count, %), unsung lines placed (count, per
10 songs), |line-start error| median / p90 / max over placed sung lines, word onsets (mean
|error| over the words timed in placed lines, and the share of *all* sung words whose onset is
within 0.3 s, so words of unplaced lines count as misses: the JamendoLyrics metrics), and the
lyrics step's time as a fraction of the audio's duration (after one warm-up call per process
that loads the model). Then a targets line (see TARGETS); exit status 1 when one is missed.

    python benchmarks/sync_accuracy.py [--set clean|hard|holdout|all] [--jobs 2] [--out DIR]
                                       [--whisper-model M] [--only NAME...] [--dry-stems]
                                       [--hard-voice-db DB]

--dry-stems also times each song's dry vocal stem (no band, no echo, no room): it tells a
voice the method cannot hear from a mix it cannot hear through. --hard-voice-db moves the hard
and held-out sets' voice against the band (default 0 dB; the targets are for 0 dB).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------- the songs

#: Lyric building blocks per theme: two verses, a chorus (sung repeatedly), a bridge.
THEMES: dict[str, dict[str, list[str]]] = {
    "city": {
        "verse1": ["The city lights are calling me", "I walk along the river side",
                   "Every window tells a story", "And every story finds me home"],
        "verse2": ["Paper boats are sailing down the drain", "Children laughing in the summer rain",
                   "Neon signs are humming soft and low", "Nobody here is in a hurry now"],
        "chorus": ["Hold on, the morning is near", "Sing it loud so the world can hear"],
        "bridge": ["Take my hand and don't let go", "We will find the road we know"],
    },
    "ocean": {
        "verse1": ["Waves are rolling on the shore", "Salt is drying on my skin",
                   "Seagulls crying over the bay", "The tide is pulling me away"],
        "verse2": ["Lighthouse turning in the dark", "Every ship is sailing home",
                   "Stars are falling in the sea", "The water whispers back to me"],
        "chorus": ["Blue water carry me", "Over the edge of the open sea", "Blue water set me free"],
        "bridge": ["Deeper than the coral reef", "Softer than a summer breeze"],
    },
    "road": {
        "verse1": ["Engine running through the night", "Headlights cutting through the rain",
                   "Radio is playing our song", "Miles of highway rolling on"],
        "verse2": ["Coffee in a paper cup", "Sunrise on the mountain pass",
                   "Maps are folded on the seat", "Dust is dancing at my feet"],
        "chorus": ["Keep on driving, never stop", "All the way to the mountain top"],
        "bridge": ["Every road will lead us home", "Never walk this world alone"],
    },
    "winter": {
        "verse1": ["Snow is falling on the town", "Candles burning in the hall",
                   "Footsteps fading in the white", "Silver moon is shining bright"],
        "verse2": ["Fire crackles in the stove", "Grandma sings an old refrain",
                   "Frozen windows, painted glass", "Waiting for the cold to pass"],
        "chorus": ["Warm me through the winter night", "Hold me till the morning light"],
        "bridge": ["Spring will come and melt the snow", "Flowers bloom and rivers flow"],
    },
    "dance": {
        "verse1": ["Lights are flashing on the floor", "Everybody wants some more",
                   "Bass is pounding in my chest", "Nobody is taking rest"],
        "verse2": ["Hands are reaching for the sky", "We are young and we can fly",
                   "Music makes the walls all shake", "Dancing till the sun's awake"],
        "chorus": ["Move your body, feel the beat", "Jump and stomp your dancing feet"],
        "bridge": ["Turn it up and let it play", "We will dance the night away"],
    },
    "garden": {
        "verse1": ["Roses climbing up the wall", "Bees are buzzing in the sun",
                   "Apple trees are bending low", "Tomatoes ripen in a row"],
        "verse2": ["Morning dew on every leaf", "Robins singing in the hedge",
                   "Mother kneeling in the soil", "Planting seeds with patient toil"],
        "chorus": ["Grow, little garden, grow", "Reach for the sun and let it show"],
        "bridge": ["Water every root and stem", "Summer comes again and again"],
    },
}

#: Section plans: tags as the user writes them; "inst+" is an [Instrumental] tag with a
#: line under it, which the engine does not sing (the aligner must not place it either).
PLANS = {
    "classic": ["verse1", "chorus", "inst", "verse2", "chorus", "bridge", "chorus"],
    "short": ["verse1", "chorus", "chorus"],
    "break": ["verse1", "chorus", "inst+", "verse2", "chorus", "chorus"],
    "bridge": ["verse1", "verse2", "chorus", "bridge", "inst", "chorus", "chorus"],
}
#: The hard set's lyrics: new themes (a set the timing method was never tuned on), each with
#: two verses, a pre-chorus, a three-line chorus (sung repeatedly) and a bridge.
HARD_THEMES: dict[str, dict[str, list[str]]] = {
    "lantern": {
        "verse1": ["I left a lantern in the window", "So you could find your way back home",
                   "The hills are quiet after midnight", "And every shadow knows my name"],
        "verse2": ["Your coat is hanging by the doorway", "Your cup is waiting on the shelf",
                   "I tell the neighbours you are travelling", "I never tell them how I feel"],
        "pre": ["And if the wind should blow it out", "I'll light it once again"],
        "chorus": ["Come back across the water", "Follow the light I keep for you", "Come back before the winter"],
        "bridge": ["Years are only pages turning", "Love is something you can't burn"],
    },
    "harbor": {
        "verse1": ["Fishing boats are leaving early", "Ropes are creaking on the pier",
                   "Mother waves a yellow ribbon", "Father's singing something old"],
        "verse2": ["Clouds are gathering on the skyline", "Gulls are flying far inland",
                   "Every sailor knows the warning", "Still they never turn around"],
        "pre": ["Hear the engines in the distance", "Hear the thunder rolling in"],
        "chorus": ["Bring them home, bring them home", "Through the storm and the rolling foam",
                   "Bring them safely home"],
        "bridge": ["Morning comes with silver water", "Counting sails along the bay"],
    },
    "orchard": {
        "verse1": ["Barefoot in my grandfather's orchard", "Picking cherries off the highest branch",
                   "Sticky fingers, purple lips and laughter", "Summer seemed to never end"],
        "verse2": ["Now the trees are bent and older", "And the fences need repair",
                   "But I still can hear him calling", "Telling stories in the evening air"],
        "pre": ["Time will take the fruit and flowers", "Never take the roots away"],
        "chorus": ["Sweet and golden afternoon", "Stay a little longer", "Don't you leave too soon"],
        "bridge": ["Plant a seed for someone after", "Shade for people you won't meet"],
    },
    "satellite": {
        "verse1": ["Static on the radio tonight", "Someone's talking from a satellite",
                   "Numbers falling through the speaker", "Like a message from the stars"],
        "verse2": ["I wrote it down on a paper napkin", "Coordinates and a melody",
                   "Nobody believed my story", "So I sing it to the sky"],
        "pre": ["Is anybody listening", "Is anybody out there"],
        "chorus": ["Satellite, satellite", "Carry my voice across the night", "Satellite, shining bright"],
        "bridge": ["Frequencies of silver", "Every signal finds a home"],
    },
    "highway": {
        "verse1": ["Twenty dollars and a broken guitar", "Hitchhiking south on the interstate",
                   "Trucker gave me coffee and a sandwich", "Told me stories of his wife"],
        "verse2": ["Crossed the river on a rusty ferry", "Slept beneath a motel sign",
                   "Every town is smaller than the last one", "Every song is longer too"],
        "pre": ["I don't know where I'm going", "But I know it isn't here"],
        "chorus": ["Ride on, ride on", "Till the morning sun is gone", "Ride on through the dawn"],
        "bridge": ["Mile markers counting backwards", "Home is anywhere I sing"],
    },
    "festival": {
        "verse1": ["Paper lanterns over the market", "Drummers marching down the avenue",
                   "Children dancing with their shadows", "Grandmothers clapping to the beat"],
        "verse2": ["Fireworks are painting the harbour", "Strangers sharing bread and wine",
                   "Every language sounds like music", "Every face is lit with gold"],
        "pre": ["Raise your glasses to the evening", "Raise your voices to the moon"],
        "chorus": ["Celebrate, celebrate", "Open every door and gate", "Nobody is ever late"],
        "bridge": ["When the morning finds us sleeping", "We will dream of this again"],
    },
}

#: Hard-set plans: every one has an instrumental break, most a line under an instrumental tag
#: (never sung), and repeated choruses.
HARD_PLANS = {
    "anthem": ["verse1", "chorus", "inst", "verse2", "chorus", "bridge", "chorus"],
    "twobreaks": ["verse1", "chorus", "inst+", "verse2", "chorus", "inst", "chorus"],
    "prebuild": ["verse1", "pre", "chorus", "solo+", "verse2", "pre", "chorus", "chorus"],
    "brief": ["verse1", "chorus", "inst+", "chorus"],
}

THEMES.update(HARD_THEMES)
PLANS.update(HARD_PLANS)
_TAGS = {"verse1": "Verse 1", "verse2": "Verse 2", "chorus": "Chorus", "bridge": "Bridge", "inst": "Instrumental",
         "pre": "Pre-Chorus"}
UNSUNG_NOTE = "(guitar solo over the last chords)"
#: Plan parts that are an instrumental tag with a line under it nobody sings: (tag, line).
UNSUNG_PARTS = {"inst+": ("Instrumental", UNSUNG_NOTE),
                "solo+": ("Guitar Solo", "(let the lead guitar sing this part)")}


def lyric_sheet(theme: str, plan: str) -> str:
    """An ACE-Step style lyric sheet for `theme` laid out by `plan`."""
    parts = []
    for part in PLANS[plan]:
        if part in UNSUNG_PARTS:
            tag, line = UNSUNG_PARTS[part]
            parts.append(f"[{tag}]\n{line}")
        else:
            parts.append("\n".join([f"[{_TAGS[part]}]", *THEMES[theme].get(part, [])]))
    return "\n\n".join(parts) + "\n"


def line_number(theme: str, plan: str, where: str) -> int:
    """The sheet line number (1-based, lines with words) of `where`, written "part#occurrence:line",
    e.g. "chorus#2:1" for the first line of the second chorus ("verse1:3" means occurrence 1)."""
    part, line = where.split(":")
    name, _, occurrence = part.partition("#")
    number, seen = 0, 0
    for item in PLANS[plan]:
        lines = [UNSUNG_PARTS[item][1]] if item in UNSUNG_PARTS else THEMES[theme].get(item, [])
        if item == name:
            seen += 1
            if seen == int(occurrence or 1):
                return number + int(line)
        number += len(lines)
    raise ValueError(f"{where} is not in plan {plan}")


@dataclass(frozen=True)
class Case:
    name: str
    caption: str
    bpm: int
    key: str
    meter: str
    duration: float
    voice: str
    theme: str
    plan: str
    seed: int
    #: Lines the singer skips, as line_number() reads them ("chorus#2:1"); hard set only.
    skip: tuple[str, ...] = ()
    #: The built-in engine's vocal style and mix (the hard set: "sung" and "dense").
    style: str = "spoken"
    mix: str = "light"
    #: The dense mix's voice_to_backing_db (0: the voice as loud as the band; see --hard-voice-db).
    voice_db: float = 0.0

    def engine_options(self) -> dict:
        """The engine options: the clean set's are exactly {"voice": ...}, as they always were."""
        options: dict = {"voice": self.voice}
        if self.style != "spoken":
            options["vocal_style"] = self.style
        if self.mix != "light":
            options["mix"] = self.mix
            if self.voice_db:
                options["voice_to_backing_db"] = self.voice_db
        if self.skip:
            options["skip_lines"] = [line_number(self.theme, self.plan, where) for where in self.skip]
        return options

    def request(self):  # noqa: ANN201 - mvflow.models.SongRequest (imported in the worker)
        from mvflow.models import SongRequest

        return SongRequest(caption=self.caption, lyrics=lyric_sheet(self.theme, self.plan), duration=self.duration,
                           bpm=self.bpm, key_scale=self.key, time_signature=self.meter, seed=self.seed,
                           engine_options=self.engine_options())


CLEAN = [
    Case("ballad-70", "slow piano ballad", 70, "C major", "4", 60, "en-us", "winter", "classic", 11),
    Case("waltz-82", "gentle waltz, female vocal", 82, "A minor", "3", 45, "en-us+f3", "garden", "break", 12),
    Case("folk-95", "acoustic folk", 95, "E minor", "4", 30, "en", "road", "short", 13),
    Case("six-eight-76", "lilting ballad", 76, "F# minor", "6", 50, "en-us+m3", "ocean", "classic", 14),
    Case("pop-108", "bright pop", 108, "F major", "4", 55, "en-us+f2", "city", "bridge", 15),
    Case("waltz-120", "upbeat waltz", 120, "G minor", "3", 40, "en-us", "ocean", "break", 16),
    Case("march-128", "marching band pop", 128, "D major", "2", 35, "en", "road", "classic", 17),
    Case("rock-140", "driving rock", 140, "Bb major", "4", 50, "en-us+m3", "dance", "break", 18),
    Case("edm-150", "energetic edm, female vocal", 150, "C# minor", "4", 60, "en-us+f3", "dance", "bridge", 19),
    Case("punk-160", "fast punk", 160, "E major", "4", 45, "en-us", "city", "classic", 20),
    Case("jingle-100", "happy jingle", 100, "Ab major", "3", 20, "en-us+f2", "garden", "short", 21),
    Case("synth-115", "dark synthwave", 115, "B minor", "4", 60, "en-us", "winter", "bridge", 22),
    Case("lofi-88", "lofi chill, female vocal", 88, "Eb major", "6", 40, "en-us+f4", "city", "break", 23),
    Case("soul-92", "soul groove", 92, "D minor", "4", 55, "en", "garden", "classic", 24),
]


#: The hard set: sung words (held eighth notes, glides, vibrato, melisma) in a dense mix (band as
#: loud as the voice, a lead and a pad in the voice's range, room reverb), 68-170 bpm, skipped lines.
HARD = [
    Case("ballad-68", "slow soul ballad, female vocal", 68, "Db major", "4", 104, "en-us+Annie", "lantern", "brief",
         101, skip=("verse1:3",)),
    Case("soul-74", "six-eight soul", 74, "G minor", "6", 76, "en-us", "harbor", "brief", 102,
         skip=("chorus#2:2",)),
    Case("waltz-86", "folk waltz, female vocal", 86, "E major", "3", 122, "en-us+f4", "orchard", "twobreaks", 103,
         skip=("verse2:1",)),
    Case("pop-96", "mid-tempo pop", 96, "A minor", "4", 104, "en-us+m3", "satellite", "anthem", 104,
         skip=("chorus#1:3", "bridge:2")),
    Case("gospel-104", "gospel pop, female vocal", 104, "F major", "4", 106, "en-us+linda", "festival", "twobreaks",
         105, skip=("verse1:4",)),
    Case("rock-118", "two-step rock", 118, "C minor", "2", 86, "en", "highway", "anthem", 106,
         skip=("chorus#3:1",)),
    Case("funk-126", "funk, female vocal", 126, "Eb minor", "4", 106, "en-us+belinda", "lantern", "twobreaks", 107,
         skip=("chorus#2:1", "verse1:2")),
    Case("shuffle-132", "shuffle rock", 132, "B major", "6", 92, "en-us+m1", "orchard", "anthem", 108,
         skip=("verse2:3",)),
    Case("dance-144", "dance pop, female vocal", 144, "D minor", "4", 92, "en-us+f1", "festival", "prebuild", 109,
         skip=("pre#2:2",)),
    Case("jig-150", "fast folk jig", 150, "Bb major", "3", 84, "en-us+m3", "harbor", "anthem", 110,
         skip=("chorus#2:3",)),
    Case("punk-160", "british punk", 160, "A major", "4", 80, "en-gb-x-rp", "highway", "twobreaks", 111,
         skip=("verse1:1",)),
    Case("edm-170", "edm, female vocal", 170, "F# minor", "4", 88, "en-us+f4", "satellite", "prebuild", 112,
         skip=("chorus#3:2", "verse2:4")),
]
HARD = [replace(case, style="sung", mix="dense") for case in HARD]
# The voices are ones espeak-ng renders the same way in every process: en-us+f2, +f3 and +f5 (used by
# the clean set) carry random flutter, so their songs differ slightly from run to run.

#: Held out: songs made like the hard set's, with themes, plans, tempi, voices, seeds and skipped lines
#: in combinations the timing method was never tuned on (written after its tuning ended), to tell a
#: method that works from one fitted to the hard set's twelve songs.
HOLDOUT = [replace(case, style="sung", mix="dense") for case in [
    Case("gospel-62", "slow gospel ballad, female vocal", 62, "Ab major", "4", 110, "en-us+linda", "highway", "brief",
         201, skip=("chorus#2:2",)),
    Case("waltz-92", "country waltz", 92, "D major", "3", 110, "en-us+m1", "festival", "anthem", 202,
         skip=("verse1:2",)),
    Case("synth-100", "synth pop, female vocal", 100, "C minor", "4", 100, "en-us+f1", "highway", "prebuild", 203,
         skip=("verse2:2",)),
    Case("soul-80", "six-eight soul, female vocal", 80, "A major", "6", 96, "en-us+Annie", "orchard", "twobreaks", 204,
         skip=("chorus#1:2",)),
    Case("rock-112", "heartland rock", 112, "G major", "4", 100, "en", "lantern", "anthem", 205,
         skip=("bridge:1",)),
    Case("funk-122", "funk, female vocal", 122, "E minor", "4", 100, "en-us+belinda", "harbor", "twobreaks", 206,
         skip=("verse1:3", "chorus#3:3")),
    Case("latin-138", "latin pop", 138, "F minor", "4", 90, "en-us+m3", "satellite", "anthem", 207,
         skip=("verse2:1",)),
    Case("reel-146", "celtic reel", 146, "D minor", "3", 86, "en-gb-x-rp", "festival", "twobreaks", 208,
         skip=("chorus#2:1",)),
    Case("dnb-174", "drum and bass, female vocal", 174, "G minor", "4", 84, "en-us+f4", "festival", "prebuild", 209,
         skip=("pre#1:1",)),
    Case("march-120", "marching pop", 120, "Bb major", "2", 84, "en-us", "orchard", "anthem", 210,
         skip=("verse1:4",)),
]]
SETS = {"clean": CLEAN, "hard": HARD, "holdout": HOLDOUT}

# --------------------------------------------------------------------------- ground truth and matching

#: Tie-break cost of reading a placed line as a line nobody sang, when its text also fits a sung
#: copy (repeated choruses): the sung copy wins unless order rules it out.
UNSUNG_MATCH_COST = 60.0
#: A word onset within this many seconds counts as correct (JamendoLyrics' tolerance).
ONSET_TOLERANCE_S = 0.3


def norm_words(text: str) -> list[str]:
    """Comparison form of a line: lower-case words of letters and digits ("Don't," -> "dont")."""
    return [w for w in (re.sub(r"[^a-z0-9]+", "", token) for token in text.lower().split()) if w]


@dataclass
class SheetLine:
    """One line of the lyric sheet (lines with words, tags left out) and its ground truth, if sung."""

    number: int
    text: str
    truth: dict | None


def sheet_with_truth(lyrics: str, placement: list[dict], unsung: list[str]) -> list[SheetLine]:
    """The sheet's lines, numbered as the engine numbers them, each with its placement.json entry or None.

    Checks that the engine sang exactly the lines it says it sang: placement.json's texts sit at
    their numbers, and the lines without an entry are result.json's `unsung_lines`.
    """
    from mvflow.song.structure import parse_lyrics

    texts = [text for section in parse_lyrics(lyrics) for text in section.lines]
    by_number = {entry["line"]: entry for entry in placement}
    sheet = [SheetLine(k, text, by_number.get(k)) for k, text in enumerate(texts, start=1)]
    wrong = [n for n, entry in by_number.items() if not (0 < n <= len(texts)) or entry["text"] != texts[n - 1]]
    missing = sorted(" ".join(line.text.split()) for line in sheet if line.truth is None)
    if wrong or missing != sorted(" ".join(u.split()) for u in unsung):
        raise RuntimeError(f"placement.json does not fit the sheet (lines {wrong}; unsung {missing} vs {unsung})")
    return sheet


def match_lines(sheet: list[SheetLine], placed: list) -> list[int | None]:
    """For each placed line (LyricLine, in order), the index of the sheet line it is, or None.

    The lyrics step returns only the lines it placed, without their sheet numbers, so they
    are read back in order: the monotone pairing of equal texts with the most pairs, and
    among those (repeated choruses) the one closest in time to the truth.
    """
    n, m = len(sheet), len(placed)
    keys = [norm_words(line.text) for line in sheet]
    heard = [norm_words(line.text) for line in placed]
    best = [[(0, 0.0)] * (m + 1) for _ in range(n + 1)]
    step = [[""] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            options = []
            if i:
                options.append((best[i - 1][j], "sheet"))
            if j:
                options.append((best[i][j - 1], "placed"))
            if i and j and keys[i - 1] == heard[j - 1]:
                truth = sheet[i - 1].truth
                cost = abs(placed[j - 1].start - truth["start"]) if truth else UNSUNG_MATCH_COST
                count, total = best[i - 1][j - 1]
                options.append(((count + 1, total - cost), "pair"))
            if options:
                best[i][j], step[i][j] = max(options, key=lambda option: option[0])
    pairs: list[int | None] = [None] * m
    i, j = n, m
    while i and j:
        if step[i][j] == "pair":
            pairs[j - 1] = i - 1
            i, j = i - 1, j - 1
        elif step[i][j] == "sheet":
            i -= 1
        else:
            j -= 1
    return pairs


def word_onset_errors(truth_words: list[dict], placed_words: list) -> list[float | None]:
    """|placed onset - true onset| for each true word of a line, None for a word the line did not time.

    Words are paired by their comparison form in order (difflib), so a method that splits or
    merges a token still gets its other words scored.
    """
    a = [re.sub(r"[^a-z0-9]+", "", w["text"].lower()) for w in truth_words]
    b = [re.sub(r"[^a-z0-9]+", "", w.text.lower()) for w in placed_words]
    errors: list[float | None] = [None] * len(a)
    for block in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks():
        for k in range(block.size):
            errors[block.a + k] = abs(placed_words[block.b + k].start - truth_words[block.a + k]["start"])
    return errors


# --------------------------------------------------------------------------- measuring one song


@dataclass
class SongScore:
    name: str
    set: str
    setup: str
    sung: int
    duration: float
    errors: list[float] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)
    unsung_placed: list[str] = field(default_factory=list)
    #: Placed lines whose text is not on the sheet (in that order): a method that rewrites lines.
    stray: list[str] = field(default_factory=list)
    word_errors: list[float] = field(default_factory=list)
    words: int = 0
    seconds: float = 0.0
    warmup: float = 0.0


def score_lines(score: SongScore, sheet: list[SheetLine], placed: list) -> SongScore:
    """Fill `score` from the placed lines: line starts, word onsets, unplaced and wrongly placed lines."""
    pairs = match_lines(sheet, placed)
    taken = {index: line for line, index in zip(placed, pairs) if index is not None}
    score.stray = [line.text for line, index in zip(placed, pairs) if index is None]
    for index, entry in enumerate(sheet):
        line = taken.get(index)
        if entry.truth is None:
            if line is not None:
                score.unsung_placed.append(entry.text)
            continue
        score.words += len(entry.truth["words"])
        if line is None:
            score.unplaced.append(entry.text)
            continue
        score.errors.append(abs(line.start - entry.truth["start"]))
        score.word_errors.extend(e for e in word_onset_errors(entry.truth["words"], line.words) if e is not None)
    return score


def warm_up(folder: Path, whisper_model: str | None) -> float:
    """Time the lyrics step once on 3 s of faint noise, so model loading is not billed to the first song."""
    from mvflow.audio import write_wav
    from mvflow.lyrics.sync import sync_lyrics

    noise = np.random.default_rng(0).normal(0.0, 0.001, (3 * 44100, 2))
    write_wav(folder / "warmup.wav", noise, 44100)
    started = time.perf_counter()
    sync_lyrics(folder / "warmup.wav", "[Verse]\nwarming up\n", folder / "warmup", transcriber="local",
                model=whisper_model)
    return time.perf_counter() - started


def measure(case: Case, set_name: str, root: str, whisper_model: str | None, dry: bool) -> list[SongScore]:
    """Generate, time and score one song (runs in a worker process); with `dry` also its dry vocal stem.

    The lyrics code under test is exactly `mvflow.lyrics.sync.sync_lyrics` with the local
    transcriber: it gets the audio and the lyric sheet, nothing else. placement.json (the
    ground truth) is read only here, after it has answered.
    """
    from mvflow.audio import audio_duration
    from mvflow.lyrics.sync import sync_lyrics
    from mvflow.song.builtin.engine import generate_local_song

    folder = Path(root) / set_name / case.name
    request = case.request()
    if dry:
        request = request.model_copy(update={"engine_options": {**request.engine_options, "stems": True}})
    song = generate_local_song(request, folder)
    warmup = warm_up(folder, whisper_model)
    result = json.loads(Path(song.result.path).read_text())
    placement = json.loads((folder / "placement.json").read_text())
    sheet = sheet_with_truth(song.lyrics, placement, result["unsung_lines"])
    setup = f"{result['bpm']} bpm {result['meter']} {result['key_scale']} {case.duration:.0f} s {result['voice']}"
    audios = [(set_name, Path(song.audio.path))]
    if dry:
        stem = folder / ("voice_dry.wav" if (folder / "voice_dry.wav").exists() else "voice.wav")
        audios.append((f"{set_name} (dry vocal stem)", stem))
    scores = []
    for label, audio in audios:
        started = time.perf_counter()
        synced = sync_lyrics(audio, song.lyrics, folder / f"lyrics-{audio.stem}", transcriber="local",
                             model=whisper_model, language=request.language)
        seconds = time.perf_counter() - started
        score = SongScore(case.name, label, setup, sung=sum(line.truth is not None for line in sheet),
                          duration=audio_duration(audio), seconds=seconds, warmup=warmup)
        scores.append(score_lines(score, sheet, synced.lines))
    return scores

# --------------------------------------------------------------------------- report


@dataclass(frozen=True)
class Targets:
    """What a set must reach; None means the number is printed but not a target."""

    songs: int
    sung_lines: int
    median_s: float
    p90_s: float
    unplaced_share: float
    unsung_per_10_songs: float
    word_share: float | None
    time_ratio: float


#: clean: no worse than before the hard set existed (median 0.08 s, p90 0.22 s, nothing unplaced,
#: nothing unsung placed), with 0.02-0.03 s of slack for whisper's run-to-run noise.
#: hard: what issue 12 asks of a method that holds on real songs.
TARGETS = {
    "clean": Targets(songs=10, sung_lines=150, median_s=0.10, p90_s=0.25, unplaced_share=0.0,
                     unsung_per_10_songs=0.0, word_share=None, time_ratio=0.25),
    "hard": Targets(songs=10, sung_lines=120, median_s=0.30, p90_s=0.8, unplaced_share=0.05,
                    unsung_per_10_songs=1.0, word_share=0.80, time_ratio=0.25),
}
TARGETS["holdout"] = TARGETS["hard"]


def stats(errors: list[float]) -> tuple[float, float, float]:
    """(median, 90th percentile, max) of the absolute errors; nan when there are none."""
    if not errors:
        return float("nan"), float("nan"), float("nan")
    return float(np.median(errors)), float(np.percentile(errors, 90)), float(np.max(errors))


def within(errors: list[float], words: int) -> float:
    """Share of all sung words whose onset is within ONSET_TOLERANCE_S (untimed words are misses)."""
    return sum(e <= ONSET_TOLERANCE_S for e in errors) / words if words else float("nan")


def print_table(scores: list[SongScore]) -> None:
    print(f"{'song':<13} {'setup':<42} {'sung':>4} {'placed':>6} {'median':>7} {'p90':>6} {'max':>6} "
          f"{'word MAE':>8} {'<=0.3s':>6} {'step':>6} {'x dur':>5}")
    for s in scores:
        med, p90, worst = stats(s.errors)
        mae = float(np.mean(s.word_errors)) if s.word_errors else float("nan")
        print(f"{s.name:<13} {s.setup:<42} {s.sung:>4} {len(s.errors):>6} {med:>6.3f}s {p90:>5.3f}s {worst:>5.2f}s "
              f"{mae:>7.3f}s {within(s.word_errors, s.words):>6.0%} {s.seconds:>5.1f}s {s.seconds / s.duration:>5.2f}")
        for text in s.unplaced:
            print(f"    unplaced: {text!r}")
        for text in s.unsung_placed:
            print(f"    NOT SUNG BUT PLACED: {text!r}")
        for text in s.stray:
            print(f"    placed line not on the sheet (or out of order): {text!r}")


def summarise(name: str, scores: list[SongScore], targets: Targets | None) -> bool:
    """Print one set's table, overall numbers and targets line; True when every target is met."""
    print(f"\n=== {name}: {len(scores)} songs")
    print_table(scores)
    errors = [e for s in scores for e in s.errors]
    word_errors = [e for s in scores for e in s.word_errors]
    sung, words = sum(s.sung for s in scores), sum(s.words for s in scores)
    unplaced = sum(len(s.unplaced) for s in scores)
    unsung_placed = sum(len(s.unsung_placed) for s in scores)
    per_10 = 10 * unsung_placed / len(scores) if scores else float("nan")
    share = unplaced / sung if sung else 1.0
    med, p90, worst = stats(errors)
    mae = float(np.mean(word_errors)) if word_errors else float("nan")
    onset_share = within(word_errors, words)
    ratio = sum(s.seconds for s in scores) / sum(s.duration for s in scores) if scores else float("nan")
    worst_ratio = max((s.seconds / s.duration for s in scores), default=float("nan"))
    print(f"\n{name}: songs {len(scores)}, sung lines {sung}, placed {len(errors)}, unplaced {unplaced} ({share:.1%}), "
          f"unsung lines placed {unsung_placed} ({per_10:.1f} per 10 songs)")
    print(f"{name}: |line-start error| median {med:.3f} s, p90 {p90:.3f} s, max {worst:.3f} s")
    print(f"{name}: word onsets: mean |error| {mae:.3f} s over the {len(word_errors)} words timed in placed lines; "
          f"{onset_share:.1%} of all {words} sung words within {ONSET_TOLERANCE_S} s (words of unplaced lines "
          f"count as misses)")
    print(f"{name}: lyrics step time {ratio:.3f} x the audio's duration (worst song {worst_ratio:.3f} x; "
          f"model warm-up {np.mean([s.warmup for s in scores]):.1f} s per process, not counted)")
    if targets is None:
        return True
    checks = {
        f"songs >= {targets.songs}": len(scores) >= targets.songs,
        f"sung lines >= {targets.sung_lines}": sung >= targets.sung_lines,
        f"unplaced <= {targets.unplaced_share:.0%}": share <= targets.unplaced_share,
        f"median <= {targets.median_s} s": med <= targets.median_s,
        f"p90 <= {targets.p90_s} s": p90 <= targets.p90_s,
        f"unsung placed <= {targets.unsung_per_10_songs:g} per 10 songs": per_10 <= targets.unsung_per_10_songs,
        f"time <= {targets.time_ratio} x duration": ratio <= targets.time_ratio,
    }
    if targets.word_share is not None:
        checks[f"word onsets within {ONSET_TOLERANCE_S} s >= {targets.word_share:.0%}"] = \
            onset_share >= targets.word_share
    print(f"{name} targets: " + ", ".join(f"{label} {'ok' if ok else 'MISSED'}" for label, ok in checks.items()))
    return all(checks.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=["clean", "hard", "holdout", "all"], default="all",
                        help="which set to run (all: the three)")
    parser.add_argument("--jobs", type=int, default=1, help="songs measured at once (processes)")
    parser.add_argument("--out", type=Path, default=None, help="keep songs, lyric files and scores.json here")
    parser.add_argument("--whisper-model", default=None, help="faster-whisper model (default: bundled tiny.en)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these song names")
    parser.add_argument("--dry-stems", action="store_true",
                        help="also time each song's dry vocal stem (diagnosis: the voice alone, no band, no room)")
    parser.add_argument("--hard-voice-db", type=float, default=0.0,
                        help="the hard and held-out sets' voice level over the band, dB (default 0, the issue's spec; "
                             "-3 sinks the voice a little, as some mixes do)")
    args = parser.parse_args(argv)
    if args.hard_voice_db:
        for name in ("hard", "holdout"):
            SETS[name] = [replace(case, voice_db=args.hard_voice_db) for case in SETS[name]]
    print("reproduce: " + shlex.join([Path(sys.executable).name, "benchmarks/sync_accuracy.py", *sys.argv[1:]]))
    chosen = [name for name in SETS if args.set in (name, "all")]
    jobs = [(case, name) for name in chosen for case in SETS[name] if args.only is None or case.name in args.only]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mvflow-sync-") as tmp:
        root = str((args.out or Path(tmp)).resolve())
        # One song per process: the built-in engine's espeak pitch calibration can be thrown off
        # by the song made before it in the same process (engine issue, reported), and a fresh
        # process per song also keeps the songs independent of the order they run in.
        # Longest songs first, so the last process to finish is a short one.
        order = sorted(jobs, key=lambda job: -job[0].duration)
        with ProcessPoolExecutor(max_workers=max(1, args.jobs), max_tasks_per_child=1) as pool:
            futures = {job[0].name + "/" + job[1]: pool.submit(measure, job[0], job[1], root, args.whisper_model,
                                                               args.dry_stems) for job in order}
            results = {key: future.result() for key, future in futures.items()}
    scores = [score for case, name in jobs for score in results[case.name + "/" + name]]
    ok = True
    for label in dict.fromkeys(s.set for s in scores):
        ok &= summarise(label, [s for s in scores if s.set == label], TARGETS.get(label))
    if args.out:
        (args.out / "scores.json").write_text(json.dumps([asdict(s) for s in scores], indent=1))
    print(f"\nwall time {time.perf_counter() - started:.0f} s with --jobs {args.jobs}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
