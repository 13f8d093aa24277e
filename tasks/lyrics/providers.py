"""Which transcriber times the words, and one call that runs it.

Transcribers: "elevenlabs" (forced alignment of the known lyrics, Scribe when they are
unknown), "openai" (whisper-1) and "local" (faster-whisper, offline). "auto", the default,
takes the best one the configured keys allow: ElevenLabs, else OpenAI, else local. The
pick is returned so the step can say which one ran; nothing falls back silently: a chosen
provider that fails, fails the step (DESIGN.md, "Defaults and the offline path").

Every transcriber returns words with times; the alignment onto the known lyrics happens
afterwards, the same way for all of them (tasks/lyrics/align.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mvflow.errors import PermanentError
from mvflow.lyrics.align import known_lyric_lines
from mvflow.lyrics.cloud import key_env_name
from mvflow.models import LyricWord
from mvflow.settings import api_key

AUTO = "auto"
#: Cloud transcribers in order of preference for "auto"; "local" is used when none has a key.
CLOUD_PREFERENCE = ("elevenlabs", "openai")
#: How much of the known lyrics OpenAI gets as its prompt (whisper reads at most ~224 tokens).
PROMPT_CHARS = 200

#: (audio, known lyric lines, language, whisper model) -> timed words.
Transcribe = Callable[[Path, list[str], str | None, str | None], list[LyricWord]]


def choose_transcriber(name: str, has_lyrics: bool) -> str:
    """The transcriber to run for `name` ("auto" or a transcriber's name).

    "auto" -> "elevenlabs" if ELEVENLABS_API_KEY is set, else "openai" if OPENAI_API_KEY is
    set, else "local". ElevenLabs wins with or without known lyrics (forced alignment when
    `has_lyrics`, Scribe otherwise), so `has_lyrics` does not change today's pick; it is part
    of the rule's inputs so a provider that can only align (or only transcribe) fits in.
    A named cloud transcriber whose key is missing is a PermanentError now, before any work.
    """
    wanted = (name or AUTO).strip().lower()
    if wanted == AUTO:
        return next((p for p in CLOUD_PREFERENCE if api_key(p)), "local")
    if wanted not in TRANSCRIBERS:
        choices = ", ".join([AUTO, *sorted(TRANSCRIBERS)])
        raise PermanentError(f"unknown transcriber {name!r}; choose one of: {choices}")
    if wanted in CLOUD_PREFERENCE and not api_key(wanted):
        raise PermanentError(
            f"transcriber {wanted!r} needs {key_env_name(wanted)}: set it, or use --transcriber auto/local"
        )
    return wanted


def transcribe(
    name: str,
    audio_path: Path | str,
    known_text: str | None,
    language: str | None,
    whisper_model: str | None,
) -> tuple[list[LyricWord], str]:
    """Timed words of `audio_path` from the chosen transcriber, and that transcriber's name.

    `known_text` is the lyric sheet as sung ([Verse] tags allowed); empty when unknown.
    `whisper_model` only matters to "local".
    """
    known_lines = known_lyric_lines(known_text or "")
    provider = choose_transcriber(name, has_lyrics=bool(known_lines))
    words = TRANSCRIBERS[provider](Path(audio_path), known_lines, language, whisper_model)
    return words, provider


def lyrics_prompt(known_lines: list[str], max_chars: int = PROMPT_CHARS) -> str | None:
    """The start of the known lyrics, cut at a word boundary: whisper's spelling/vocabulary hint."""
    text = " ".join(known_lines)
    if len(text) <= max_chars:
        return text or None
    head = text[: max_chars + 1]  # one char more: a space there means the cut falls between words
    cut = head.rsplit(" ", 1)[0].rstrip() if " " in head else ""
    return cut or text[:max_chars]


# Each adapter imports its provider on first use: the SDK or model a provider needs is only
# loaded when that provider runs.


def _via_elevenlabs(
    audio: Path, known_lines: list[str], language: str | None, _model: str | None
) -> list[LyricWord]:
    from mvflow.lyrics.elevenlabs_provider import forced_alignment_words, scribe_words

    if known_lines:
        return forced_alignment_words(audio, "\n".join(known_lines))
    return scribe_words(audio, language=language)


def _via_openai(
    audio: Path, known_lines: list[str], language: str | None, _model: str | None
) -> list[LyricWord]:
    from mvflow.lyrics.openai_provider import openai_words

    return openai_words(audio, language=language, prompt=lyrics_prompt(known_lines))


def _via_local(audio: Path, _known: list[str], language: str | None, model: str | None) -> list[LyricWord]:
    """faster-whisper, unprompted (like sync.py's PROMPT_WORDS = 0: the alignment does the matching)."""
    from mvflow.lyrics.whisper_local import transcribe_words

    return transcribe_words(audio, model=model, language=language)


TRANSCRIBERS: dict[str, Transcribe] = {
    "elevenlabs": _via_elevenlabs,
    "openai": _via_openai,
    "local": _via_local,
}
