"""Request -> the concrete parameters the local engine plays: bpm, key, meter, voice, random streams.

Whatever the request leaves open is chosen here, from caption words first ("ballad" is slow,
"dance" is fast, "sad" is minor) and from the seed otherwise,
so the result file can say exactly what was used and the same request always sounds the same.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field

import numpy as np

from mvflow.errors import PermanentError
from mvflow.models import SongRequest
from mvflow.song.builtin.options import BuiltinOptions
from mvflow.song.theory import Grid, Key, key_from_pitch_class, parse_key, parse_time_signature

_SLOW_WORDS = ("ballad", "slow", "ambient", "lullaby", "chill", "lofi", "lo-fi", "downtempo", "calm", "gentle")
_FAST_WORDS = ("dance", "energetic", "upbeat", "fast", "edm", "house", "techno", "party", "punk", "drum and bass")
_MINOR_WORDS = ("sad", "dark", "melancholic", "melancholy", "moody", "minor", "gloomy", "somber", "haunting")
_MAJOR_WORDS = ("happy", "bright", "sunny", "joyful", "uplifting", "cheerful", "major", "hopeful")
#: Request languages whose espeak-ng voice name differs from the code ("unknown" is ACE-Step's).
_LANGUAGE_VOICES = {"en": "en-us", "english": "en-us", "": "en-us", "unknown": "en-us", "zh": "cmn"}

#: bpm ranges for slow captions, fast captions and everything else.
SLOW_BPM = (72, 88)
FAST_BPM = (118, 132)
DEFAULT_BPM = (80, 128)


def rng_for(seed: int, *labels: str) -> np.random.Generator:
    """An independent random stream per concern, so new draws in one part never shift another."""
    keys = [seed % (1 << 63)] + [zlib.crc32(label.encode()) for label in labels]
    return np.random.default_rng(keys)


def _has_word(caption: str, words: tuple[str, ...]) -> bool:
    text = f" {re.sub(r'[^a-z0-9-]+', ' ', caption.lower())} "
    return any(f" {w} " in text for w in words)


def choose_bpm(caption: str, seed: int) -> int:
    """Caption tempo words win; otherwise the seed picks a tempo in DEFAULT_BPM."""
    if _has_word(caption, _SLOW_WORDS):
        low, high = SLOW_BPM
    elif _has_word(caption, _FAST_WORDS):
        low, high = FAST_BPM
    else:
        low, high = DEFAULT_BPM
    return int(rng_for(seed, "bpm").integers(low, high + 1))


def choose_key(caption: str, seed: int) -> Key:
    """Caption mood words pick the mode; the seed picks the tonic (and the mode when the caption is silent)."""
    rng = rng_for(seed, "key")
    tonic = int(rng.integers(0, 12))
    if _has_word(caption, _MINOR_WORDS):
        mode = "minor"
    elif _has_word(caption, _MAJOR_WORDS):
        mode = "major"
    else:
        mode = "minor" if rng.random() < 0.5 else "major"
    return key_from_pitch_class(tonic, mode)


#: The espeak-ng voice variant the engine sings with. It has no pitch flutter and no echo:
#: espeak keeps the flutter position and the echo tail in library state between utterances
#: (never reset), so with the default variant the same word comes out slightly different
#: depending on what the process synthesised before, and songs would not be byte-identical.
#: Measured with whisper tiny.en it is as intelligible as the default voice.
VOICE_VARIANT = "Hugo"


def choose_voice(request: SongRequest) -> str:
    """espeak-ng voice: engine_options['voice'] as given, else the request language's voice + VOICE_VARIANT.

    A voice given explicitly is used as is; if it has pitch flutter or echo (most variants,
    e.g. '+f3'), its songs are byte-identical only when rendered in a fresh process.
    """
    explicit = request.engine_options.get("voice")
    if explicit:
        return str(explicit)
    lang = (request.language or "en").strip().lower()
    return f"{_LANGUAGE_VOICES.get(lang, lang)}+{VOICE_VARIANT}"


@dataclass(frozen=True)
class SongParams:
    """Everything the engine decided, in one place (it is what result.json reports)."""

    grid: Grid
    key: Key
    voice: str
    seed: int
    options: BuiltinOptions = field(default_factory=BuiltinOptions)

    @property
    def bpm(self) -> int:
        return self.grid.bpm


def resolve_params(request: SongRequest) -> SongParams:
    """Fill in what the request leaves open; a bad key, meter or engine option is the user's to fix
    (PermanentError)."""
    options = BuiltinOptions.from_request(request)
    try:
        key = parse_key(request.key_scale) if request.key_scale else choose_key(request.caption, request.seed)
        meter = parse_time_signature(request.time_signature)
    except ValueError as exc:
        raise PermanentError(str(exc)) from exc
    bpm = request.bpm or choose_bpm(request.caption, request.seed)
    return SongParams(grid=Grid(bpm=int(bpm), meter=meter), key=key, voice=choose_voice(request), seed=request.seed,
                      options=options)
