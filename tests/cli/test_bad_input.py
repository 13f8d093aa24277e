"""The bad input catalogue: every input a user (or a server) can get wrong, refused in one line.

Each case asserts what the user sees (one `error:` line through the CLI, no traceback) and
what is left on disk (nothing written, no half file, an earlier video intact). The README's
reliability table lists these tests by name.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mvflow.audio import audio_duration, ffmpeg_exe, write_wav
from mvflow.cli import app
from mvflow.errors import AceStepDownloadError, AceStepError, DiskFullError, LrcError, PermanentError, is_disk_full
from mvflow.files import write_bytes_atomic
from mvflow.lyrics.formats import parse_lrc
from mvflow.models import SongRequest
from mvflow.song.acestep.client import MAX_JSON_BYTES, AceStepClient

runner = CliRunner()


# --------------------------------------------------------------------------- helpers


def refused(result, message: str) -> None:  # noqa: ANN001 - click Result
    """Exit 1, exactly one `error:` line containing `message`, and no traceback."""
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert message in errors[0], result.output
    assert "Traceback" not in result.output


def make(*args: str, input: str | None = None):  # noqa: A002, ANN201 - click's name; click Result
    return runner.invoke(app, ["make", "-c", "synth pop", "-o", "out", *args], input=input)


def assert_nothing_written(folder: Path) -> None:
    """No output folder at all (the refusal came before any work)."""
    assert not (folder / "out").exists(), sorted((folder / "out").rglob("*"))


def leftovers(folder: Path) -> list[Path]:
    """Half-written files (atomic writes use hidden .part names) anywhere under `folder`."""
    return [p for p in folder.rglob("*") if ".part" in p.name]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def files(no_config) -> Path:
    """A folder of bad (and a few good) input files."""
    d = no_config
    (d / "empty.txt").write_bytes(b"")
    (d / "blank.txt").write_text("  \n\n \n")
    (d / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (d / "long.txt").write_text("[Verse]\n" + "\n".join(f"line {i} of a song that never ends" for i in range(10_000)))
    (d / "fake.mp3").write_text("this is a text file, not audio\n")
    (d / "empty.mp3").write_bytes(b"")
    write_wav(d / "silent.wav", np.zeros(8000, np.float32), 8000)
    write_wav(d / "zero.wav", np.zeros(0, np.float32), 8000)
    Image.new("RGB", (1, 1), "red").save(d / "tiny.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (512, 512, 3), dtype=np.uint8)).save(d / "full.png")
    (d / "truncated.png").write_bytes((d / "full.png").read_bytes()[:20_000])
    (d / "empty.png").write_bytes(b"")
    (d / "text.png").write_text("<html>not an image</html>")
    (d / "folder.png").mkdir()
    return d


# --------------------------------------------------------------------------- lyrics files


@pytest.mark.parametrize(("args", "message"), [
    (["--lyrics", "missing.txt"], "lyrics file not found: missing.txt"),
    (["--lyrics", "empty.txt"], "lyrics file empty.txt is empty (0 bytes)"),
    (["--lyrics", "blank.txt"], "has no text: leave out --lyrics for an instrumental"),
    (["--lyrics", "binary.txt"], "is not UTF-8 text"),
    (["--lyrics", "folder.png"], "is not a file"),
    (["--lyrics", "long.txt"], "too long (10001 lines"),
])
def test_bad_lyrics_files_are_refused_before_any_work(files, args, message):
    refused(make(*args), message)
    assert_nothing_written(files)


def test_empty_and_huge_lyrics_on_stdin_are_refused(files):
    refused(make("--lyrics", "-", input=""), "no lyrics on standard input")
    refused(make("--lyrics", "-", input="la\n" * 20_000), "lyrics on standard input are too long")
    assert_nothing_written(files)


def test_transcribe_refuses_ten_thousand_lyric_lines_before_loading_a_model(files):
    refused(runner.invoke(app, ["transcribe", "silent.wav", "--lyrics", "long.txt"]), "too long (10001 lines")
    assert not (files / "silent.lrc").exists()


def test_ten_thousand_lyric_lines_in_a_batch_name_the_song(files):
    batch = files / "songs.yaml"
    batch.write_text("songs:\n  - {title: Endless, caption: pop, lyrics_file: long.txt}\n")
    result = runner.invoke(app, ["batch", str(batch), "--dry-run"])
    assert result.exit_code == 1 and "song 1 (title 'Endless')" in result.output and "too long" in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- song parameters


@pytest.mark.parametrize(("args", "message"), [
    (["--duration", "0"], "duration must be between 1 and 600 seconds, got 0"),
    (["--duration", "100000"], "duration must be between 1 and 600 seconds, got 100000"),
    (["--duration", "-3"], "got -3"),
    (["--duration", "nan"], "got nan"),
    (["--duration", "inf"], "got inf"),
    (["--duration", "0.2"], "got 0.2"),
    (["--bpm", "0"], "bad value for bpm: Input should be greater than or equal to 30"),
    (["--bpm", "100000"], "bad value for bpm: Input should be less than or equal to 300"),
    (["--key", "H minor"], "unknown key 'H minor'"),
    (["--key", "C superlocrian"], "unknown key"),
    (["--time-signature", "7/8"], "unsupported time signature '7/8'"),
    (["--time-signature", "0"], "unsupported time signature '0'"),
    (["--resolution", "1x1"], "must be at least 64x64"),
    (["--title", "x" * 300], "title is 300 characters long; at most 200"),
    (["--fps", "0"], "fps must be positive, got 0"),
    (["--fps", "1000"], "fps must be between 1 and 120, got 1000"),
    (["--resolution", "100000x100000"], "resolution 100000x100000 is larger than h264 can play"),
])
def test_absurd_song_parameters_are_refused(files, args, message):
    refused(make(*args), message)
    assert_nothing_written(files)


def test_a_pasted_caption_and_a_broken_config_file_are_one_line(files):
    refused(runner.invoke(app, ["make", "-c", "pop " * 1000, "-o", "out"]), "caption is 4000 characters long")
    (files / "mvflow.toml").write_text("width = [1, 2\n")
    refused(make(), "config file")
    (files / "mvflow.toml").write_text("width = 100000\nheight = 9\n")
    refused(make(), "resolution 100000x9 must be at least 64x64")
    assert_nothing_written(files)


def test_a_title_cannot_move_the_output_folder(files):
    """The folder name is a slug of the title: '../../x' and absolute paths stay inside --output-dir."""
    from mvflow.files import slugify  # mvflow.flows.music_video.make_video: output_root / slugify(title)

    for title in ("../../escape", "/etc/passwd", "..", "~root/.ssh"):
        slug = slugify(title)
        assert "/" not in slug and slug not in ("", ".", "..")
        assert ((files / "out") / slug).resolve().is_relative_to((files / "out").resolve())


# --------------------------------------------------------------------------- cover images


@pytest.mark.parametrize(("name", "message"), [
    ("missing.png", "cover image not found: missing.png"),
    ("empty.png", "cover image empty.png is empty (0 bytes)"),
    ("tiny.png", "is 1x1 pixels, too small"),
    ("truncated.png", "cannot read cover image"),
    ("text.png", "not an image format Pillow can read"),
    ("folder.png", "is not a file"),
])
def test_unreadable_or_tiny_cover_images_are_refused(files, name, message):
    refused(make("--cover", name), message)
    assert_nothing_written(files)


# --------------------------------------------------------------------------- LRC files


@pytest.mark.parametrize(("text", "message"), [
    ("[00:01.00]fine\nthis line has no stamp\n", "LRC line 2: expected a [mm:ss.xx] time stamp"),
    ("[-00:01.00]negative\n", "LRC line 1: expected a [mm:ss.xx] time stamp"),
    ("[00:75.00]seventy-five seconds\n", "LRC line 1: seconds must be below 60"),
    ("[" + "9" * 5000 + ":00.00]huge\n", "LRC line 1: expected a [mm:ss.xx] time stamp"),
    ("[offset:lots]\n[00:01.00]x\n", "[offset:] must be whole milliseconds"),
    ("[offset:99999999999]\n[00:01.00]x\n", "[offset:] must be whole milliseconds"),
    ("[offset:7200000]\n[00:01.00]x\n", "[offset:] is more than an hour"),
    ("[ti:Only tags]\n[ar:Nobody]\n", "has no timed lyric lines"),
])
def test_malformed_lrc_is_refused_naming_the_line(files, text, message):
    (files / "bad.lrc").write_text(text)
    refused(make("--lrc", "bad.lrc"), message)
    assert_nothing_written(files)


def test_binary_and_empty_lrc_files_are_refused(files):
    refused(make("--lrc", "binary.txt"), "LRC file binary.txt is not UTF-8 text")
    refused(make("--lrc", "empty.txt"), "LRC file empty.txt is empty")
    assert_nothing_written(files)


def test_out_of_order_and_far_lrc_times_are_read_in_time_order():
    """Handled, not refused: players sort stamps, so do we; an [offset:] never makes a time negative;
    a line stamped after the song's end is kept (the render never shows it: see the README)."""
    lines = parse_lrc("[00:09.00]third\n[00:01.00]first\n[00:05.00]second\n[9999:00.00]much later\n")
    assert [line.text for line in lines] == ["first", "second", "third", "much later"]
    assert lines[-1].start == 9999 * 60
    shifted = parse_lrc("[offset:3000]\n[00:01.00]early\n[00:10.00]later\n")
    assert [round(line.start, 2) for line in shifted] == [0.0, 7.0]
    with pytest.raises(LrcError, match="line 3"):
        parse_lrc("[00:01.00]a\n\n<html><body>502 Bad Gateway</body></html>\n")


# --------------------------------------------------------------------------- audio files


@pytest.mark.parametrize(("flag", "extra"), [
    ("--reference-audio", []),
    ("--src-audio", ["--task-type", "cover"]),
])
@pytest.mark.parametrize(("name", "message"), [
    ("missing.mp3", "upload audio not found: missing.mp3"),
    ("empty.mp3", "upload audio empty.mp3 is empty (0 bytes)"),
    ("fake.mp3", "cannot read audio from fake.mp3: it is not audio ffmpeg decodes"),
    ("zero.wav", "upload audio zero.wav holds no sound (0 samples)"),
])
def test_acestep_uploads_must_be_audio(files, flag, extra, name, message):
    refused(make("--engine", "acestep", flag, name, *extra), message)
    assert_nothing_written(files)


@pytest.mark.parametrize(("name", "message"), [
    ("missing.mp3", "audio file not found: missing.mp3"),
    ("empty.mp3", "audio file empty.mp3 is empty (0 bytes)"),
    ("fake.mp3", "cannot read audio from fake.mp3"),
    ("binary.txt", "cannot read audio from binary.txt"),
    ("zero.wav", "audio file zero.wav holds no sound (0 samples)"),
    ("folder.png", "audio file folder.png is not a file"),
])
def test_transcribe_refuses_what_is_not_audio(files, name, message):
    result = runner.invoke(app, ["transcribe", name])
    refused(result, message)
    assert sorted(p.name for p in files.iterdir()) == sorted(p.name for p in files.iterdir() if p.suffix != ".lrc")


def test_a_float_wav_is_audio(files):
    """32-bit float WAV (what DAWs export) is read by ffmpeg; the wave module alone would refuse it."""
    path = files / "float.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=1.5", "-c:a", "pcm_f32le",
                    str(path)], check=True)
    assert abs(audio_duration(path) - 1.5) < 0.05
    from mvflow.inputs import check_audio_file

    assert abs(check_audio_file(path) - 1.5) < 0.05


# --------------------------------------------------------------------------- output folder and disk


def test_an_output_folder_inside_a_file_is_refused(files):
    refused(runner.invoke(app, ["make", "-c", "pop", "-o", "fake.mp3/videos"]),
            "cannot use output folder fake.mp3/videos")
    assert (files / "fake.mp3").read_text().startswith("this is a text file")


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux /proc")
def test_an_unwritable_output_folder_is_refused(files):
    """/proc refuses new files even for root (chmod does not stop root, which CI often is)."""
    refused(runner.invoke(app, ["make", "-c", "pop", "-o", "/proc/mvflow-videos"]),
            "cannot write to output folder /proc/mvflow-videos")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_refused(files):
    locked = files / "locked"
    locked.mkdir(mode=0o555)
    refused(runner.invoke(app, ["make", "-c", "pop", "-o", "locked/out"]), "cannot write to output folder")


def test_disk_full_while_writing_keeps_the_old_file_and_leaves_no_half_file(tmp_path, monkeypatch):
    target = tmp_path / "song.wav"
    target.write_bytes(b"the earlier, finished file")

    def full(self, data):  # noqa: ANN001
        with open(self, "wb") as fh:
            fh.write(data[: len(data) // 2])  # half of it made it to disk ...
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))  # ... then the disk was full

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(DiskFullError, match=r"disk full: could not write .*song\.wav \(No space left on device; "
                                            r"\d+ MB free in .*\); free some space and run again"):
        write_bytes_atomic(target, b"x" * 10_000)
    monkeypatch.undo()
    assert target.read_bytes() == b"the earlier, finished file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_file_size_limit_in_a_subprocess_is_a_disk_full_line(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG), as a full disk would (ENOSPC)."""
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    code = ("import sys; from pathlib import Path; from mvflow.files import write_bytes_atomic\n"
            "from mvflow.errors import PermanentError\n"
            "try:\n    write_bytes_atomic(Path(sys.argv[1]), b'x' * 4_000_000)\n"
            "except PermanentError as exc:\n    print('error:', exc); sys.exit(1)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000)),
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.startswith("error: disk full: could not write") and "File too large" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["big.bin"]


def test_an_encoder_that_runs_out_of_disk_is_reported_as_disk_full():
    assert is_disk_full(RuntimeError("ffmpeg failed (exit 1): av_interleaved_write_frame(): No space left on device"))
    assert is_disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    assert not is_disk_full(RuntimeError("ffmpeg failed (exit 1): Invalid argument"))


@pytest.mark.e2e
def test_a_full_disk_mid_run_leaves_the_earlier_video_intact(prefect_harness, no_config):
    """`mvflow make` twice in its own process: a finished video, then the same title with a new seed under
    a 200 kB file size limit (the new song.wav cannot be written). One error line; the first video, its
    manifest and its alias are byte-for-byte the same; no half file anywhere."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    (no_config / "words.lrc").write_text("[00:00.50]keep me\n")  # own LRC: no whisper model to load
    base = [str(Path(sys.executable).parent / "mvflow"), "make", "-c", "calm piano", "--title", "Keep Me",
            "--duration", "4", "--resolution", "128x72", "--fps", "5", "--lrc", "words.lrc", "-o", "out"]
    first = subprocess.run([*base, "--seed", "1"], capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr
    folder = no_config / "out" / "keep-me"
    kept = {p: sha(p) for p in [folder / "keep-me.mp4", folder / "manifest.json", Path(first.stdout.split()[-1])]}

    second = subprocess.run([*base, "--seed", "2"], capture_output=True, text=True, env=env, timeout=600,
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000)))
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "disk full: could not write" in errors[0] and "song.wav" in errors[0], second.stderr
    assert "Traceback" not in second.stderr
    assert {p: sha(p) for p in kept} == kept
    assert leftovers(no_config / "out") == []
    assert len(list(folder.glob("song-*/song.wav"))) == 1  # only the first run's song


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tiny tmpfs needs root")
def test_a_real_full_disk_during_a_render(tmp_path):
    """A real ENOSPC: `mvflow render` into a 64 kB tmpfs. Skipped where mounting is not allowed."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        song = tmp_path / "song.wav"
        t = np.arange(22050 * 6) / 22050
        write_wav(song, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
        (disk / "earlier.mp4").write_bytes(b"an earlier video")
        result = runner.invoke(app, ["render", "--audio", str(song), "--resolution", "640x360",
                                     "-o", str(disk / "video.mp4")])
        refused(result, "render failed: disk full: could not write")
        assert "video.mp4 (No space left on device" in result.output
        assert sorted(p.name for p in disk.iterdir()) == ["earlier.mp4"]
        assert (disk / "earlier.mp4").read_bytes() == b"an earlier video"
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# --------------------------------------------------------------------------- mvflow render's inputs


def render(*args: str):  # noqa: ANN201 - click Result
    return runner.invoke(app, ["render", "--resolution", "128x72", "--fps", "5", *args])


@pytest.mark.parametrize(("args", "message"), [
    (["--audio", "empty.mp3"], "audio file empty.mp3 is empty (0 bytes)"),
    (["--audio", "zero.wav"], "audio file zero.wav holds no sound (0 samples)"),
    (["--audio", "binary.txt"], "cannot read audio from binary.txt"),
    (["--audio", "silent.wav", "--cover", "tiny.png"], "is 1x1 pixels, too small"),
    (["--audio", "silent.wav", "--cover", "truncated.png"], "image file is truncated"),
    (["--audio", "silent.wav", "--cover", "empty.png"], "cover image empty.png is empty (0 bytes)"),
    (["--audio", "silent.wav", "--lyrics", "nested.json"], "JSON nested thousands of levels deep"),
    (["--audio", "silent.wav", "--lyrics", "nan.json"], "times must be finite numbers"),
    (["--audio", "silent.wav", "--lyrics", "binary.lrc"], "cannot read lyrics file binary.lrc"),
    (["--audio", "silent.wav", "-o", "/proc/video.mp4"], "cannot write to output folder /proc"),
])
def test_render_refuses_bad_audio_lyrics_covers_and_folders(files, args, message):
    (files / "nested.json").write_text("[" * 100_000 + "]" * 100_000)
    (files / "nan.json").write_text('[{"start": NaN, "end": 2, "text": "never shown", "words": []}]')
    (files / "binary.lrc").write_bytes(bytes(range(256)))
    refused(render(*args), message)
    assert not list(files.rglob("*.mp4"))


def test_render_takes_a_float_wav_and_ten_thousand_lrc_lines(files):
    """Handled within bounds: a 10 000-line LRC renders (only lines inside the song are ever shown, the rest
    are warned about) and the video is exactly as long as the audio."""
    from tests.support.media import stream_durations

    song = files / "float.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "pcm_f32le",
                    str(song)], check=True)
    (files / "long.lrc").write_text("\n".join(f"[{i // 60:02d}:{i % 60:02d}.00]line {i}" for i in range(10_000)))
    result = render("--audio", str(song), "--lyrics", "long.lrc", "-o", "video.mp4")
    assert result.exit_code == 0, result.output
    assert "9998 lyric lines start after the song ends (00:02.00) and never show: [00:02.00] 'line 2', " \
           "[00:03.00] 'line 3', [00:04.00] 'line 4' and 9995 more" in " ".join(result.output.split())
    video, audio = stream_durations(files / "video.mp4", fps=5)
    assert abs(video - 2.0) <= 0.2 and abs(audio - 2.0) <= 0.1


# --------------------------------------------------------------------------- frame size and frame rate

HUGE = "20000x20000"
TOO_BIG_FOR_H264 = ("resolution 20000x20000 is larger than h264 can play (H.264 level 6.2: at most 16384 px a "
                    "side and 35.7 megapixels a frame, so 8K (7680x4320) fits): the largest frame of this shape "
                    "is 5968x5968")


def timed(args: list[str]):  # noqa: ANN201 - (click Result, seconds)
    started = time.perf_counter()
    result = runner.invoke(app, args)
    return result, time.perf_counter() - started


@pytest.fixture
def no_render(monkeypatch) -> list:
    """Fails loudly if anything reaches the renderer (which would allocate the first frame)."""
    calls: list = []
    monkeypatch.setattr("mvflow.render.video.render_music_video", lambda *a, **k: calls.append(a))
    return calls


@pytest.fixture
def big_style(files) -> Path:
    """A style file whose canvas is 20000x20000."""
    path = files / "big.toml"
    path.write_text('name = "big"\ndescription = "a typo in the canvas"\n[canvas]\naspect = "1:1"\n'
                    f'resolution = "{HUGE}"\n')
    return path


@pytest.mark.parametrize("args", [["--resolution", HUGE], ["--style", "big.toml"]])
def test_render_refuses_a_frame_no_codec_plays_within_a_second_and_renders_nothing(files, big_style, no_render,
                                                                                     args):
    result, seconds = timed(["render", "-a", "silent.wav", *args, "-o", "video.mp4"])
    refused(result, TOO_BIG_FOR_H264)
    assert seconds < 1.0, seconds
    assert no_render == [] and not (files / "video.mp4").exists() and leftovers(files) == []


@pytest.mark.parametrize("args", [["--resolution", HUGE], ["--style", "big.toml"]])
def test_make_refuses_a_frame_no_codec_plays_within_a_second(files, big_style, args):
    result, seconds = timed(["make", "-c", "synth pop", "-o", "out", *args])
    refused(result, TOO_BIG_FOR_H264)
    assert seconds < 1.0, seconds
    assert_nothing_written(files)


def test_a_huge_frame_from_the_environment_or_the_config_file_is_refused(files, monkeypatch):
    monkeypatch.setenv("MVFLOW_RESOLUTION", HUGE)
    refused(make(), TOO_BIG_FOR_H264)
    monkeypatch.delenv("MVFLOW_RESOLUTION")
    (files / "mvflow.toml").write_text("width = 16400\nheight = 64\n")
    refused(make(), "resolution 16400x64 is larger than h264 can play (H.264 level 6.2: at most 16384 px a side")
    assert_nothing_written(files)


@pytest.mark.parametrize(("codec", "size", "limit"), [
    ("h265", "16890x64", "H.265 level 6.2: at most 16888 px a side"),
    ("vp9", "16834x64", "VP9 level 6.2: at most 16832 px a side"),
    ("vp9", "8192x4354", "the largest frame of this shape is 8190x4352"),
])
def test_each_codec_has_its_own_bound(files, codec, size, limit):
    refused(make("--codec", codec, "--resolution", size), limit)


def test_a_batch_entry_or_its_style_with_a_huge_frame_is_named(files, big_style):
    batch = files / "songs.yaml"
    batch.write_text(f"songs:\n  - {{title: Huge, caption: pop, resolution: {HUGE}}}\n"
                     "  - {title: Styled, caption: rock, style: big.toml}\n  - {title: Fine, caption: jazz}\n")
    started = time.perf_counter()
    result = runner.invoke(app, ["batch", str(batch), "--dry-run"])
    assert time.perf_counter() - started < 2.0  # three entries validated
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [f"error: songs.yaml: song 1 (title 'Huge'): {TOO_BIG_FOR_H264}",
                      f"error: songs.yaml: song 2 (title 'Styled'): {TOO_BIG_FOR_H264}"]
    assert not (files / "mvflow_output").exists()


@pytest.mark.parametrize("command", ["make", "render"])
def test_fps_above_the_codecs_levels_is_refused(files, no_render, command):
    args = ["make", "-c", "pop", "-o", "out"] if command == "make" else ["render", "-a", "silent.wav"]
    refused(runner.invoke(app, [*args, "--fps", "121"]), "fps must be between 1 and 120, got 121")
    assert_nothing_written(files)


@pytest.mark.parametrize("command", ["make", "render"])
def test_a_frame_the_memory_cannot_hold_is_refused_naming_what_fits(files, no_render, monkeypatch, command):
    """A 4K render with 1 GB free (MemAvailable, or a container's limit): refused, naming the estimate,
    what is free and the largest frame that fits."""
    monkeypatch.setattr("mvflow.render.limits.available_bytes", lambda: 2**30)
    monkeypatch.setattr("mvflow.render.limits.usable_cpus", lambda: 2)
    args = ["make", "-c", "pop", "-o", "out", "--duration", "10"] if command == "make" else \
        ["render", "-a", "silent.wav", "-o", "video.mp4"]
    result, seconds = timed([*args, "--resolution", "3840x2160"])
    refused(result, "a 3840x2160 h264 render at 30 fps of ")
    error = next(line for line in result.output.splitlines() if line.startswith("error:"))
    assert re.search(r"needs about 1\.\d GB of memory and 1\.0 GB is available: at most (\d+)x(\d+) fits now "
                     r"\(or free some memory\)$", error), error
    width, height = map(int, re.search(r"at most (\d+)x(\d+)", error).groups())
    assert 1920 <= width < 3840 and abs(width / height - 16 / 9) < 0.01
    assert seconds < 1.0 and no_render == [] and not list(files.rglob("*.mp4"))


def test_a_real_render_process_refuses_without_taking_the_memory(files):
    """`mvflow render --resolution 20000x20000` in its own process: one line, exit 1, no file, and the
    process never held a frame (one 20000x20000 frame alone is 600 MB; the issue saw 5.3 GB). A small
    wrapper starts it and reads its peak: Linux carries a parent's resident size at fork into the
    child's ru_maxrss, so started from pytest itself it would report pytest's size."""
    peak = ("import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
            "print(done.returncode); print(done.stderr.strip());"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)")
    proc = subprocess.run([sys.executable, "-c", peak, str(Path(sys.executable).parent / "mvflow"), "render",
                           "-a", "silent.wav", "--resolution", HUGE, "-o", "video.mp4"],
                          capture_output=True, text=True, timeout=300)
    code, stderr, megabytes = proc.stdout.strip().split("\n")
    assert code == "1" and stderr == f"error: {TOO_BIG_FOR_H264}"
    assert int(megabytes) < 400, megabytes
    assert not (files / "video.mp4").exists() and leftovers(files) == []


# --------------------------------------------------------------------------- lyric lines outside the song

OUTSIDE_LRC = "[00:01.00]Hello there\n[00:02.50]Second line\n[00:03.50]Third line\n[09:59.00]Way too late\n"
LATE_WARNING = ("warning: 1 lyric line starts after the song ends (00:05.00) and never shows: "
                "[09:59.00] 'Way too late'; is it this song's lyrics file?")
EARLY_WARNING = ("warning: 2 lyric lines start before the song after the lyrics offset (-3 s) and are moved to "
                 "00:00.00: [00:01.00] 'Hello there', [00:02.50] 'Second line'")


@pytest.fixture
def five_seconds(files) -> Path:
    """A 5-second song and an LRC with a line stamped 09:59."""
    t = np.arange(22050 * 5) / 22050
    write_wav(files / "song.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
    (files / "outside.lrc").write_text(OUTSIDE_LRC)
    return files / "song.wav"


def test_render_warns_about_lyric_lines_outside_the_song_at_once_and_still_renders(files, five_seconds, monkeypatch):
    from mvflow.render import video
    from tests.support.media import stream_durations

    started, reached = time.perf_counter(), []
    real = video.render_music_video
    monkeypatch.setattr(video, "render_music_video",
                        lambda *a, **k: (reached.append(time.perf_counter() - started), real(*a, **k)))
    result = runner.invoke(app, ["render", "-a", "song.wav", "-l", "outside.lrc", "--lyrics-offset", "-3",
                                 "--resolution", "128x72", "--fps", "5", "-o", "video.mp4"])
    assert result.exit_code == 0, result.output
    shown = result.output.splitlines()
    assert LATE_WARNING in shown and EARLY_WARNING in shown
    assert reached and reached[0] < 1.0, reached  # both said before the first frame, within a second
    assert shown.index(LATE_WARNING) < next(k for k, line in enumerate(shown) if line.startswith("rendering"))
    video_s, audio_s = stream_durations(files / "video.mp4", fps=5)
    assert abs(video_s - 5.0) < 0.3 and abs(audio_s - 5.0) < 0.3


def test_a_batch_entry_with_lines_outside_its_song_is_warned_about_and_still_valid(files, five_seconds):
    batch = files / "songs.yaml"
    batch.write_text("songs:\n  - {title: Late, caption: pop, duration: 5, lrc: outside.lrc, lyrics_offset: -3}\n"
                     "  - {title: Fine, caption: jazz, duration: 5, lrc: outside.lrc, lyrics_offset: 0.5}\n")
    result, seconds = timed(["batch", str(batch), "--dry-run"])
    assert result.exit_code == 0, result.output
    shown = result.output.splitlines()
    assert f"warning: songs.yaml: song 1 (title 'Late'): {LATE_WARNING.removeprefix('warning: ')}" in shown
    assert f"warning: songs.yaml: song 1 (title 'Late'): {EARLY_WARNING.removeprefix('warning: ')}" in shown
    assert ("warning: songs.yaml: song 2 (title 'Fine'): 1 lyric line starts after the song ends (00:05.00) and "
            "never shows: [09:59.00] 'Way too late'; check the lyrics offset (+0.5 s)") in shown
    assert sum(line.startswith("warning:") for line in shown) == 3 and seconds < 2.0


@pytest.mark.e2e
def test_make_warns_up_front_and_records_the_lines_in_the_manifest_and_the_dashboard(prefect_harness, files,
                                                                                    five_seconds, monkeypatch):
    """`mvflow make --lrc` with a line stamped 09:59 on a 5-s song and an offset of -3 s: both warnings before
    the flow starts (within a second), the video made, the lines in manifest.json, the run's summary
    artifact and the end-of-run report."""
    from prefect.artifacts import Artifact

    from mvflow.flows import music_video as flow_module

    started, reached = time.perf_counter(), []
    real = flow_module.music_video
    monkeypatch.setattr(flow_module, "music_video",
                        lambda **k: (reached.append(time.perf_counter() - started), real(**k))[1])
    result = runner.invoke(app, ["make", "-c", "calm piano", "--title", "Too Late", "--duration", "5",
                                 "--lrc", "outside.lrc", "--lyrics-offset", "-3", "--resolution", "128x72",
                                 "--fps", "5", "-o", "out"])
    assert result.exit_code == 0, result.output
    shown = result.output.splitlines()
    assert reached and reached[0] < 1.0, reached
    assert shown.count(LATE_WARNING) == 2 and shown.count(EARLY_WARNING) == 2  # up front, and in the report
    assert shown.index(LATE_WARNING) < next(k for k, line in enumerate(shown) if line.startswith("mvflow making"))
    manifest = json.loads((files / "out" / "too-late" / "manifest.json").read_text())
    assert [(line["text"], line["where"], line["start"]) for line in manifest["lyrics"]["outside"]] == [
        ("Hello there", "before_start", -2.0), ("Second line", "before_start", -0.5),
        ("Way too late", "after_end", 596.0)]
    assert [f"warning: {w}" for w in manifest["lyrics"]["warnings"]] == [LATE_WARNING, EARLY_WARNING]
    summary = Artifact.get("music-video-too-late")
    assert summary is not None and f"**warning:** {LATE_WARNING.removeprefix('warning: ')}" in summary.data


# --------------------------------------------------------------------------- hostile ACE-Step servers


def wav_bytes(tmp_path: Path, seconds: float = 0.5) -> bytes:
    path = tmp_path / "real.wav"
    write_wav(path, np.zeros(int(8000 * seconds), np.float32), 8000)
    return path.read_bytes()


def mock_client(handler, **kwargs) -> AceStepClient:  # noqa: ANN001
    return AceStepClient("http://acestep.test", api_key="k", transport=httpx.MockTransport(handler), **kwargs)


@pytest.mark.parametrize("file_url", [
    "http://evil.test/v1/audio?path=x.mp3",
    "//evil.test/v1/audio?path=x.mp3",
    "file:///etc/passwd",
    "https://acestep.test/v1/audio?path=x.mp3",  # same host, other scheme: the key would travel elsewhere
])
def test_audio_urls_off_the_server_are_refused_and_get_no_key(tmp_path, file_url):
    seen = []
    client = mock_client(lambda r: seen.append(r) or httpx.Response(200, content=b"x"))
    with pytest.raises(AceStepError, match="another host"):
        client.download(file_url, tmp_path / "song_1.mp3")
    assert seen == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("server_path", ["../../../../tmp/escape.wav", "/etc/passwd", "..%2F..%2Fescape.wav",
                                         "/v1/audio?path=../../../etc/shadow.wav"])
def test_server_paths_never_choose_the_local_file_name(tmp_path, server_path):
    """The local name is always song_<n>.<known suffix> inside the song's folder, whatever path the server
    gives; the request goes to the same server, whose job it is to refuse paths outside its folder."""
    from mvflow.song.acestep.engine import _download_all

    audio = wav_bytes(tmp_path)
    requested = []

    def handler(request):
        requested.append(request.url)
        return httpx.Response(200, content=audio, headers={"content-type": "audio/wav"})

    out = tmp_path / "out" / "song-abc"
    out.mkdir(parents=True)
    files = _download_all(mock_client(handler), [{"file": server_path}], out, "wav")
    assert [Path(f.path).parent for f in files] == [out.resolve()]
    assert Path(files[0].path).name.startswith("song_1.")
    assert requested[0].host == "acestep.test"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "out/song-abc/" + Path(files[0].path).name, "real.wav"]


@pytest.mark.parametrize(("headers", "body", "message"), [
    ({"content-type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>", "sent text/html instead of audio"),
    ({"content-type": "application/json"}, b'{"detail": "nope"}', "sent application/json instead of audio"),
    ({"content-type": "audio/mpeg"}, b"<html>an error page that claims to be audio</html>", "is not playable audio"),
    ({"content-type": "application/octet-stream"}, b"", "is not playable audio"),
])
def test_downloads_that_are_not_audio_are_refused_and_not_kept(tmp_path, headers, body, message):
    client = mock_client(lambda r: httpx.Response(200, content=body, headers=headers))
    with pytest.raises(AceStepDownloadError, match=message) as info:
        client.download("/v1/audio?path=%2Fa.mp3", tmp_path / "song_1.mp3")
    assert isinstance(info.value, PermanentError)
    assert list(tmp_path.iterdir()) == []


def test_a_download_over_the_cap_is_refused_by_its_announced_size(tmp_path):
    client = mock_client(lambda r: httpx.Response(200, headers={"content-type": "audio/wav",
                                                                "content-length": str(10 * 1024 ** 3)},
                                                  content=b""), max_download_bytes=1024 * 1024)
    with pytest.raises(AceStepError, match="larger than 1 MB; refused .*acestep_max_download_mb"):
        client.download("/v1/audio?path=%2Fa.wav", tmp_path / "song_1.wav")
    assert list(tmp_path.iterdir()) == []


def test_an_endless_download_stops_at_the_cap_and_leaves_no_part_file(tmp_path):
    sent = []

    def endless():
        for _ in range(10_000):  # 640 MB if nobody stops reading
            sent.append(1)
            yield b"\0" * 65536

    client = mock_client(lambda r: httpx.Response(200, headers={"content-type": "audio/wav"}, content=endless()),
                         max_download_bytes=1024 * 1024)
    with pytest.raises(AceStepError, match="larger than 1 MB"):
        client.download("/v1/audio?path=%2Fa.wav", tmp_path / "song_1.wav")
    assert len(sent) < 40 and list(tmp_path.iterdir()) == []


def test_a_gzip_bomb_counts_its_inflated_size(tmp_path):
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))  # 8 MB of zeros in ~8 kB
    client = mock_client(lambda r: httpx.Response(200, content=bomb, headers={
        "content-type": "audio/wav", "content-encoding": "gzip"}), max_download_bytes=1024 * 1024)
    with pytest.raises(AceStepError, match="larger than 1 MB"):
        client.download("/v1/audio?path=%2Fa.wav", tmp_path / "song_1.wav")
    assert list(tmp_path.iterdir()) == []


def test_the_download_cap_is_a_setting(no_config, monkeypatch):
    from mvflow.flows.spec import flow_params, spec_from

    monkeypatch.setenv("MVFLOW_ACESTEP_MAX_DOWNLOAD_MB", "3")
    params = flow_params(spec_from({"caption": "pop", "engine": "acestep"}))
    assert params["request"].engine_options["max_download_mb"] == 3.0
    from mvflow.song.acestep.engine import client_for
    from mvflow.song.acestep.options import AceStepOptions, submission_request

    options = AceStepOptions.from_request(params["request"])
    assert client_for(options).max_download_bytes == 3 * 1024 * 1024
    # how much to accept never changes what is generated: not part of the song's cache key
    assert "max_download_mb" not in submission_request(params["request"]).engine_options


@pytest.mark.parametrize(("body", "message"), [
    (b"[" * 100_000 + b"]" * 100_000, "did not answer JSON"),
    (b"<html>Welcome to nginx</html>", "did not answer JSON"),
    (json.dumps({"data": [{"task_id": "t", "status": "done", "result": "[]"}], "code": 200}).encode(),
     "status that is not a number"),
    (json.dumps({"data": [{"task_id": "t", "status": 1, "result": "{not json"}], "code": 200}).encode(),
     "result that is not JSON"),
    (json.dumps({"data": "surprise", "code": 200}).encode(), "not a list of tasks"),
])
def test_hostile_query_answers_are_one_line(body, message):
    client = mock_client(lambda r: httpx.Response(200, content=body, headers={"content-type": "application/json"}))
    with pytest.raises(AceStepError, match=message):
        client.query_result(["t"])


def test_a_huge_json_answer_is_cut_off_at_the_json_cap():
    read = []

    def huge():
        yield b'{"data": "'
        for _ in range(1000):  # 64 MB
            read.append(1)
            yield b"a" * 65536
        yield b'", "code": 200}'

    client = mock_client(lambda r: httpx.Response(200, content=huge(), headers={"content-type": "application/json"}))
    with pytest.raises(AceStepError, match=f"larger than {MAX_JSON_BYTES // 1024 // 1024} MB"):
        client.health()
    assert len(read) <= MAX_JSON_BYTES // 65536 + 2


def test_completion_audio_that_does_not_decode_is_not_kept(tmp_path):
    import base64

    from mvflow.song.acestep.engine import complete_song

    def handler(request):
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"object": "list", "data": [{"id": "acestep/turbo"}]})
        url = "data:audio/mpeg;base64," + base64.b64encode(b"<html>not audio</html>").decode()
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok", "audio": [
            {"type": "audio_url", "audio_url": {"url": url}}]}}]})

    request = SongRequest(caption="pop", duration=5, engine="acestep",
                          engine_options={"api_url": "http://acestep.test", "api_mode": "completion"})
    import mvflow.song.acestep.engine as engine

    real = engine.client_for
    engine.client_for = lambda options, api_url=None: mock_client(handler)
    try:
        with pytest.raises(AceStepDownloadError, match="completions audio is not playable audio"):
            complete_song(request, tmp_path)
    finally:
        engine.client_for = real
    assert list(tmp_path.iterdir()) == []


class _HostileServer(BaseHTTPRequestHandler):
    """Speaks just enough ACE-Step to submit and finish a task, then serves an HTML page as the audio
    from a path that tries to leave the server's folder."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _envelope(self, data) -> None:  # noqa: ANN001
        self._send(200, json.dumps({"data": data, "code": 200, "error": None}).encode(), "application/json")

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/release_task":
            self._envelope({"task_id": "t-1", "status": "queued"})
        else:
            entry = {"file": "/v1/audio?path=../../../../etc/passwd.mp3", "status": 1, "metas": {}}
            self._envelope([{"task_id": "t-1", "status": 1, "result": json.dumps([entry])}])

    def do_GET(self) -> None:  # noqa: N802
        self._send(200, b"<!doctype html><title>Login</title><form>password</form>", "text/html; charset=utf-8")

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


def test_a_hostile_server_over_http_gets_one_line_and_no_file(tmp_path):
    """Real HTTP on 127.0.0.1: the song step fails with one line; the song folder holds only the
    submission record, no audio and no half file."""
    from mvflow.song.acestep.engine import generate_acestep_song

    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        request = SongRequest(caption="pop", duration=5, engine="acestep",
                              engine_options={"api_url": url, "poll_interval": 0.05, "thinking": False})
        with pytest.raises(AceStepDownloadError) as info:
            generate_acestep_song(request, tmp_path)
    finally:
        server.shutdown()
    message = str(info.value)
    assert "\n" not in message and "sent text/html instead of audio" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["submission.json"]
