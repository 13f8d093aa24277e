"""A fixed transcript in place of faster-whisper, for tests about what follows a transcript.

With known lyrics the local transcriber times lines by forced alignment (mvflow.lyrics.forced);
`use_transcript` makes it take the words path instead (the one the cloud transcribers take:
timed words placed on the known lines), fed with the given words — fast and deterministic.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mvflow.lyrics import whisper_local
from mvflow.lyrics.providers import LocalTranscriber, Transcriber
from mvflow.models import LyricWord


def use_transcript(monkeypatch: pytest.MonkeyPatch, words: list[LyricWord],
                   calls: list[dict] | None = None) -> None:
    """Whisper 'hears' `words`; each call's keyword arguments are appended to `calls`."""

    def fake(audio_path, **kwargs) -> list[LyricWord]:  # noqa: ANN001 - whisper_local's signature
        if calls is not None:
            calls.append(kwargs)
        return words

    fake_words: Callable[..., list[LyricWord]] = fake
    monkeypatch.setattr(whisper_local, "transcribe_words", fake_words)
    monkeypatch.setattr(LocalTranscriber, "time", Transcriber.time)
