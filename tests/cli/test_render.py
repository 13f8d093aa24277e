"""`mvflow render`: a video from existing files (audio + timed lyrics + cover), one-line errors,
and the .lrc/.srt/.json lyric readers it uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner

from mvflow.audio import write_wav
from mvflow.cli import app
from mvflow.errors import LyricsFileError
from mvflow.files import FILE_MODE
from mvflow.lyrics.formats import to_json, to_srt
from mvflow.lyrics.readers import parse_srt, read_timed_lyrics
from mvflow.models import LyricLine, LyricWord
from mvflow.render.layout import Layout
from tests.support.media import frame_at, stream_durations

runner = CliRunner()
SIZE = (320, 180)
WORD_LRC = (
    "[ti:ignored]\n"
    "[00:01.00]<00:01.00>Neon <00:01.40>rivers <00:01.80>running <00:02.20>through<00:02.60>\n"
    "[00:03.00]東京の夜は眠らない\n"
    "[00:04.20]\n"
)


@pytest.fixture
def song(tmp_path) -> Path:
    rate = 22050
    t = np.arange(5 * rate) / rate
    path = tmp_path / "night_drive.wav"
    write_wav(path, 0.3 * np.sin(2 * np.pi * 220 * t) * (t > 0.5), rate)
    return path


@pytest.fixture
def lrc(tmp_path) -> Path:
    path = tmp_path / "song.lrc"
    path.write_text(WORD_LRC, encoding="utf-8")
    return path


@pytest.fixture
def cover(tmp_path) -> Path:
    path = tmp_path / "cover.png"
    img = Image.new("RGB", (400, 300), (20, 20, 60))
    ImageDraw.Draw(img).ellipse((150, 100, 250, 200), fill=(255, 255, 255))
    img.save(path)
    return path


def render(*args: str):
    return runner.invoke(app, ["render", "--resolution", f"{SIZE[0]}x{SIZE[1]}", "--fps", "15", *args])


def lyric_ink(frame: np.ndarray) -> int:
    """Bright pixels inside the lyric box."""
    box = Layout.for_size(*SIZE).lyric_box
    return int((frame[box.y0 : box.y1, box.x0 : box.x1].min(axis=-1) > 200).sum())


def test_renders_audio_lrc_and_cover_with_karaoke(song, lrc, cover, tmp_path):
    out = tmp_path / "video.mp4"
    result = render("--audio", str(song), "--lyrics", str(lrc), "--cover", str(cover), "--title", "Night Drive [Live]",
                    "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert out.stat().st_mode & 0o777 == FILE_MODE  # readable like any file the user makes, not 0600
    assert "Night Drive [Live]: 2 lyric line(s) (1 word-timed: karaoke)" in result.stderr
    assert "rendering video.mp4" in result.stderr and "100.0%" in result.stderr  # the progress bar
    video, audio = stream_durations(out, 15)
    assert abs(video - 5.0) < 0.1 and abs(audio - 5.0) < 0.1
    before, sung_half, gap = frame_at(out, 0.2), frame_at(out, 1.8), frame_at(out, 4.9)
    assert lyric_ink(sung_half) > 40 and lyric_ink(before) < lyric_ink(sung_half) and lyric_ink(gap) < 10
    box = Layout.for_size(*SIZE).lyric_box
    lyric = sung_half[box.y0 : box.y1, box.x0 : box.x1].astype(int)
    assert ((lyric.max(axis=-1) - lyric.min(axis=-1)) > 100).sum() > 20  # the accent-coloured sung words


def test_instrumental_without_cover_uses_the_gradient_beside_the_audio(song):
    result = render("--audio", str(song))
    assert result.exit_code == 0, result.output
    out = song.with_suffix(".mp4")
    assert result.stdout.strip() == str(out) and out.is_file()
    assert "0 lyric line(s)" in result.stderr and "gradient background" in result.stderr
    first, last = frame_at(out, 0.1).astype(int), frame_at(out, 4.8).astype(int)
    assert np.abs(first - last).mean() > 0.5  # the gradient drifts


def test_one_render_makes_a_short_and_a_square_beside_the_full_video(song, lrc, tmp_path):
    out = tmp_path / "video.mp4"
    result = render("--audio", str(song), "--lyrics", str(lrc), "--outputs", "full,short,square",
                    "--short-from", "1", "--short-to", "4", "-o", str(out))
    assert result.exit_code == 0, result.output
    written = [Path(p) for p in result.stdout.split()]
    assert written == [out, tmp_path / "video.short.mp4", tmp_path / "video.square.mp4"]
    assert "short: 1.0-4.0 s of the song (chosen by hand)" in result.stderr
    from mvflow.render.encoder import probe_streams

    shapes = [(probe_streams(p)["width"], probe_streams(p)["height"], round(probe_streams(p)["video_duration"]))
              for p in written]
    assert shapes == [(320, 180, 5), (180, 320, 3), (180, 180, 5)]
    short_frames = [frame_at(written[1], t) for t in (0.1, 0.9)]
    assert short_frames[0].mean() < short_frames[1].mean()  # and it fades in from black


def test_srt_and_json_lyrics_render_too(song, tmp_path):
    lines = [LyricLine(text="Hello bright world", start=1.0, end=2.0,
                       words=[LyricWord(text="Hello", start=1.0, end=1.3), LyricWord(text="bright", start=1.3, end=1.6),
                              LyricWord(text="world", start=1.6, end=2.0)]),
             LyricLine(text="Второй куплет", start=2.5, end=3.5)]
    (tmp_path / "l.json").write_text(to_json(lines), encoding="utf-8")
    (tmp_path / "l.srt").write_text(to_srt(lines), encoding="utf-8")
    assert read_timed_lyrics(tmp_path / "l.json") == lines
    assert [(ln.text, ln.start, ln.end) for ln in read_timed_lyrics(tmp_path / "l.srt")] == [
        (ln.text, ln.start, ln.end) for ln in lines]
    # the shared video options (flows/cli/video_options.py) work here as in `mvflow make`
    result = render("--audio", str(song), "--lyrics", str(tmp_path / "l.srt"), "-o", str(tmp_path),
                    "--style", "minimal", "--accent", "#ff2020")
    assert result.exit_code == 0, result.output
    assert "style minimal" in result.stderr
    frame = frame_at(tmp_path / "night_drive.mp4", 3.0).astype(int)
    assert lyric_ink(frame) > 40
    red = (frame[..., 0] > 150) & (frame[..., 1] < 90) & (frame[..., 2] < 90)
    assert red.sum() > 30  # the visualiser in the --accent colour


def test_lines_after_the_end_of_the_song_are_warned_about(song, tmp_path):
    lrc = tmp_path / "long.lrc"
    lrc.write_text("[ti:Neon Nights (Remix)]\n[ar:The Band]\n[00:01.00]first line\n[00:03.00]second\n"
                   "[00:12.50]far too late\n[01:02.00]and this\n")
    result = render("--audio", str(song), "--lyrics", str(lrc), "-o", str(tmp_path / "v.mp4"))
    assert result.exit_code == 0, result.output
    assert "mvflow render Neon Nights (Remix) — The Band: 4 lyric line(s)" in result.stderr  # the LRC's tags
    assert ("warning: 2 lyric lines start after the song ends (00:05.00) and never show: [00:12.50] 'far too "
            "late', [01:02.00] 'and this'; is it this song's lyrics file?") in " ".join(result.stderr.split())


def test_srt_reader_tolerates_tags_and_crlf():
    text = ("1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>first</i> row\r\nsecond row\r\n\r\n"
            "2\r\n00:01:02.5 --> 00:01:03,000\r\nnext\r\n")
    lines = parse_srt(text)
    assert [(ln.text, ln.start, ln.end) for ln in lines] == [("first row second row", 1.0, 2.5), ("next", 62.5, 63.0)]
    with pytest.raises(LyricsFileError, match="SRT cue 2"):
        parse_srt("1\n00:00:01,000 --> 00:00:02,000\nok\n\n2\nno time here\n")


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: ["--audio", str(d / "missing.mp3")], "audio file not found"),
        (lambda d: ["--audio", str(_text_file(d / "fake.mp3", "not audio"))], "cannot read audio"),
        (lambda d: ["--lyrics", str(_text_file(d / "bad.lrc", "[00:01.00]ok\nthis line has no stamp\n"))],
         "LRC line 2"),
        (lambda d: ["--lyrics", str(_text_file(d / "plain.txt", "just words\n"))], "mvflow transcribe"),
        (lambda d: ["--lyrics", str(d / "gone.lrc")], "lyrics file not found"),
        (lambda d: ["--lyrics", str(_text_file(d / "bad.json", "{not json"))], "not valid JSON"),
        (lambda d: ["--cover", str(_text_file(d / "cover.png", "not a picture"))], "cannot read cover image"),
        (lambda d: ["--cover", str(d / "nope.jpg")], "cover image not found"),
        (lambda d: ["--style", "sparkly"], "unknown style 'sparkly'"),
        (lambda d: ["--resolution", "wide"], "resolution must look like"),
        (lambda d: ["-o", str(d / "no" / "such" / "dir" / "v.mp4")], "output folder does not exist"),
        (lambda d: ["--outputs", "full,wide"], "unknown output 'wide'"),
        (lambda d: ["--short-from", "1", "--short-to", "3"], "add short (e.g. --outputs full,short)"),
        (lambda d: ["--outputs", "short", "--short-from", "7", "--short-to", "9"], "past the song's end (5 s)"),
    ],
)
def test_user_errors_are_one_clear_line(song, tmp_path, make_args, message):
    args = make_args(tmp_path)
    if "--audio" not in args:
        args = ["--audio", str(song), *args]
    result = render(*args)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert not list(tmp_path.rglob("*.mp4"))  # nothing half-written


def _text_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
