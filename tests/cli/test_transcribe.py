"""`mvflow transcribe`: time an existing song file without Prefect, one file out, one-line errors.

One test runs the real offline path (espeak speech encoded as MP3, local faster-whisper);
the others replace whisper with a fixed transcript so they are fast and exact.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mvflow.audio import ffmpeg_exe, write_wav
from mvflow.cli import app
from mvflow.models import LyricWord
from tests.support.media import read_lrc
from tests.support.transcript import use_transcript

runner = CliRunner()

LINES = ["The city lights are calling me tonight", "Nothing can stop us now"]
LYRICS = "[Verse]\n" + LINES[0] + "\n\n[Chorus]\n" + LINES[1] + "\n"
#: What the fake transcriber "hears": line 1 from 1.0 s, line 2 from 6.0 s, 0.5 s per word.
HEARD = [(word, 1.0 + 0.5 * k) for k, word in enumerate(LINES[0].split())] + [
    (word, 6.0 + 0.5 * k) for k, word in enumerate(LINES[1].split())
]


@pytest.fixture
def clean(no_config, monkeypatch):
    """No mvflow config and no cloud keys: 'auto' means local."""
    for name in ("OPENAI_API_KEY", "ELEVENLABS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return no_config


@pytest.fixture
def silence(clean) -> Path:
    """A 10 s silent WAV: decodable audio for runs whose transcript is faked."""
    path = clean / "song.wav"
    write_wav(path, np.zeros(10 * 16000, np.float32), 16000)
    return path


@pytest.fixture
def lyrics_file(clean) -> Path:
    path = clean / "lyrics.txt"
    path.write_text(LYRICS, encoding="utf-8")
    return path


@pytest.fixture
def fake_whisper(monkeypatch):
    """Whisper replaced by HEARD (minus any words listed in `drop`)."""

    def install(drop: tuple[str, ...] = ()) -> None:
        words = [LyricWord(text=w, start=t, end=t + 0.4) for w, t in HEARD if w not in drop]
        use_transcript(monkeypatch, words)

    install()
    return install


def transcribe(*args: str, **kwargs):  # noqa: ANN201 - click Result
    return runner.invoke(app, ["transcribe", *args], **kwargs)


def printed_path(result) -> Path:  # noqa: ANN001 - click Result
    """The one line on standard output: the written file."""
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return Path(lines[0])


# --------------------------------------------------------------------------- the real offline path


@pytest.fixture
def speech_mp3(clean) -> tuple[Path, list[float]]:
    """song.mp3: 1 s pause, line 1, 1 s pause, line 2, 1 s pause (espeak-ng); true line starts."""
    from mvflow.song.builtin.espeak import espeak

    voice = espeak()
    sr = voice.sample_rate
    gap = np.zeros(sr, np.float32)
    parts, starts, clock = [gap], [], 1.0
    for line in LINES:
        said = voice.synth(line, rate=150)
        loud = np.nonzero(np.abs(said) > 0.01)[0]
        said = said[loud[0] : loud[-1] + 1]
        starts.append(clock)
        parts += [said, gap]
        clock += len(said) / sr + 1.0
    wav = clean / "speech.wav"
    write_wav(wav, np.concatenate(parts), sr)
    mp3 = clean / "song.mp3"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(wav), "-b:a", "128k", str(mp3)], check=True)
    return mp3, starts


def test_transcribe_mp3_writes_lrc_beside_it_with_local_whisper(speech_mp3, lyrics_file):
    mp3, starts = speech_mp3
    result = transcribe(str(mp3), "--lyrics", str(lyrics_file))
    written = printed_path(result)
    assert written == mp3.with_suffix(".lrc") and written.is_file()
    timed = read_lrc(written)
    assert [text for _, text in timed] == LINES
    for (t, text), start in zip(timed, starts):
        assert abs(t - start) < 0.3, (text, t, start)
    assert "transcriber: local" in result.stderr


# --------------------------------------------------------------------------- formats and options


@pytest.mark.parametrize(
    ("fmt", "name", "looks_like"),
    [
        ("lrc", "song.lrc", r"^\[00:01\.00\]The city lights"),
        ("elrc", "song.words.lrc", r"^\[00:01\.00\]<00:01\.00>The <00:01\.50>city"),
        ("srt", "song.srt", r"^1\n00:00:01,000 --> 00:00:04,400\nThe city lights"),
        ("ass", "song.ass", r"^\[Script Info\].*^Dialogue: 0,0:00:01\.00,0:00:04\.40,Default,,0,0,0,,\{\\kf50\}The"),
        ("json", "song.json", r'^\[\n  \{\n    "start": 1\.0,'),
    ],
)
def test_each_format_is_written_beside_the_audio(fake_whisper, silence, lyrics_file, fmt, name, looks_like):
    written = printed_path(transcribe(str(silence), "-l", str(lyrics_file), "--format", fmt))
    assert written == silence.parent / name
    assert re.search(looks_like, written.read_text(encoding="utf-8"), re.M | re.S)


def test_lyrics_from_stdin_offset_and_output_file(fake_whisper, silence):
    out = silence.parent / "sub" / "timed.json"
    result = transcribe(str(silence), "--lyrics", "-", "-f", "json", "--lyrics-offset", "0.5", "-o", str(out),
                        input=LYRICS)
    assert printed_path(result) == out
    data = json.loads(out.read_text())
    assert [(line["text"], line["start"]) for line in data] == [(LINES[0], 1.5), (LINES[1], 6.5)]


def test_output_folder_gets_the_audio_name(fake_whisper, silence, lyrics_file):
    folder = silence.parent / "out"
    folder.mkdir()
    written = printed_path(transcribe(str(silence), "-l", str(lyrics_file), "-f", "srt", "-o", str(folder)))
    assert written == folder / "song.srt"


def test_without_lyrics_the_transcript_becomes_the_lines(fake_whisper, silence):
    written = printed_path(transcribe(str(silence)))
    assert [text for _, text in read_lrc(written)] == LINES  # split at the 1.6 s pause


def test_unplaced_lines_are_warned_about(fake_whisper, silence, lyrics_file):
    fake_whisper(drop=tuple(LINES[1].split()))
    result = transcribe(str(silence), "-l", str(lyrics_file))
    assert [text for _, text in read_lrc(printed_path(result))] == [LINES[0]]
    assert f"warning: could not place lyric line: {LINES[1]!r}" in result.stderr


# --------------------------------------------------------------------------- one-line errors


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp3"], "audio file not found: missing.mp3"),
        (["{bad}"], "cannot read audio from"),
        (["{wav}", "--format", "vtt"], "unknown format 'vtt': choose one of lrc, elrc, srt, ass, json"),
        (["{wav}", "--lyrics", "nope.txt"], "lyrics file not found: nope.txt"),
        (["{wav}", "--transcriber", "magic"], "unknown transcriber 'magic'"),
        (["{wav}", "--transcriber", "openai"], "needs OPENAI_API_KEY"),
        (["{wav}", "--whisper-model", "./no-such-model"], "whisper model directory not found"),
        (["{wav}", "-o", "{wav}"], "is the audio file itself"),
    ],
)
def test_user_errors_are_one_clear_line(silence, args, message):
    bad = silence.parent / "notes.mp3"
    bad.write_text("not audio at all")
    result = transcribe(*[a.format(bad=bad, wav=silence) for a in args])
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and result.stderr.splitlines()[-1] == errors[0]
    assert "Traceback" not in result.output and result.stdout == ""
