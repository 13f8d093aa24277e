"""Codecs, --quality, --max-size and A/V sync, checked on the files the renderer writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mvflow.audio import decode_audio, ffmpeg_exe, write_wav
from mvflow.cli import app
from mvflow.errors import EncodingError, SpecError
from mvflow.flows.spec import flow_params, spec_from
from mvflow.models import RenderOptions
from mvflow.render.codecs import CODECS, require_codec
from mvflow.render.encoder import EncoderSettings, encode_command, probe_streams
from mvflow.render.max_size import plan_max_size
from mvflow.render.video import render_music_video

W, H, FPS, RATE = 320, 180, 30, 44100
DURATION, CLICK_AT = 5.0, 2.4  # loud 0-1 s and 3-5 s; silence 1-3 s but for a click at 2.4 s
MAX_MB = 0.2  # tight for 5 s: ~200 kb/s of video after 96 kb/s of audio and the safety margin
CASES = [("h264", None), ("h265", None), ("vp9", None), ("h264", MAX_MB), ("h265", MAX_MB), ("vp9", MAX_MB)]
DECODED_NAME = {"h264": "h264", "h265": "hevc", "vp9": "vp9"}


def _song() -> np.ndarray:
    t = np.arange(int(DURATION * RATE)) / RATE
    rng = np.random.default_rng(5)
    audio = 0.25 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * (300 + 400 * t) * t)
    audio[(t >= 1.0) & (t < 3.0)] = 0.0
    click = int(CLICK_AT * RATE)
    audio[click : click + 32] = 0.9
    return audio


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("encoding")
    write_wav(tmp / "song.wav", _song(), RATE)
    # A static cover and no lyrics: between frames only the visualiser moves.
    Image.new("RGB", (320, 180), (40, 60, 90)).save(tmp / "cover.png")
    return tmp


def _render(inputs: Path, codec: str, max_mb: float | None, out: Path, calls: list | None = None) -> Path:
    options = RenderOptions(width=W, height=H, fps=FPS, codec=codec, max_size_mb=max_mb)
    progress = (lambda done, total: calls.append((done, total))) if calls is not None else None
    render_music_video(inputs / "song.wav", [], inputs / "cover.png", "Sync", out, options, progress=progress)
    return out


def _frames(path: Path) -> np.ndarray:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, H, W).astype(np.int16)


def _visual_peak(frames: np.ndarray) -> int:
    """The frame where the picture departs most from the silent frame before the click."""
    start, stop = int(2.0 * FPS), int(2.8 * FPS)
    energy = [np.abs(frames[k] - frames[start]).sum() for k in range(start, stop)]
    assert max(energy) > 20 * (min(energy[1:]) + 1), "no visual peak for the click"
    return start + int(np.argmax(energy))


def _audio_click(path: Path) -> float:
    """Seconds from the start of the file's decoded audio to the click (encoder delay included)."""
    samples = decode_audio(path, RATE)
    window = slice(int(2.0 * RATE), int(2.8 * RATE))
    return (window.start + int(np.argmax(np.abs(samples[window])))) / RATE


def _top_level_boxes(path: Path) -> list[str]:
    data, boxes, pos = path.read_bytes(), [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        boxes.append(data[pos + 4 : pos + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        if size < 8:
            break
        pos += size
    return boxes


@pytest.mark.parametrize(("codec", "max_mb"), CASES, ids=[f"{c}-{m or 'crf'}" for c, m in CASES])
def test_codec_streams_container_and_av_sync(inputs, tmp_path, codec, max_mb):
    calls: list[tuple[int, int]] = []
    out = _render(inputs, codec, max_mb, tmp_path / f"v{CODECS[codec].extension}", calls)
    info = probe_streams(out)
    n = int(DURATION * FPS)
    assert info["video_codec"] == DECODED_NAME[codec]
    assert info["audio_codec"] == ("opus" if codec == "vp9" else "aac")
    assert (info["width"], info["height"], info["pix_fmt"], info["video_frames"]) == (W, H, "yuv420p", n)
    assert abs(info["audio_duration"] - DURATION) < 1 / FPS
    assert abs(info["video_duration"] - DURATION) < 1e-6

    if codec == "vp9":
        assert out.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM file
    else:
        boxes = _top_level_boxes(out)
        assert boxes[0] == "ftyp" and boxes.index("moov") < boxes.index("mdat")  # +faststart
    if codec == "h265":
        assert b"hvc1" in out.read_bytes()[:200_000] and b"hev1" not in out.read_bytes()[:200_000]

    # The click is where it was in the song (AAC priming / Opus pre-skip removed), and the
    # visualiser peaks on the frame showing that moment.
    assert abs(_audio_click(out) - CLICK_AT) < 0.002
    assert abs(_visual_peak(_frames(out)) - CLICK_AT * FPS) <= 1

    total = 2 * n if max_mb else n
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls) and {t for _, t in calls} == {total}
    if max_mb:
        assert out.stat().st_size <= max_mb * 1e6
        assert calls[len(calls) // 2 - 1][0] <= n <= calls[len(calls) // 2][0]  # pass 1 then pass 2


@pytest.mark.parametrize("codec", list(CODECS))
def test_max_size_lands_under_and_near_the_target(tmp_path, codec):
    """Music throughout over the drifting gradient backdrop (every frame changes, as in most
    videos): the file is at most the target and uses most of it. A static picture over
    silence can come out far smaller: encoders do not pad."""
    t = np.arange(int(DURATION * RATE)) / RATE
    music = 0.2 * np.random.default_rng(1).standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * (200 + 300 * t) * t)
    write_wav(tmp_path / "music.wav", music, RATE)
    out = tmp_path / f"v{CODECS[codec].extension}"
    options = RenderOptions(width=W, height=H, fps=FPS, codec=codec, max_size_mb=MAX_MB)
    render_music_video(tmp_path / "music.wav", [], None, "Size", out, options)
    size = out.stat().st_size
    assert 0.7 * MAX_MB * 1e6 < size <= MAX_MB * 1e6, f"{size} bytes for a {MAX_MB} MB target"


def test_impossible_size_is_refused_before_anything_is_written(inputs, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(EncodingError, match=r"--max-size 0.05 MB is too small: a 0:05 song at 320x180 30 fps"):
        _render(inputs, "h264", 0.05, out_dir / "v.mp4")
    assert list(out_dir.iterdir()) == []


def test_refusal_names_what_would_fit():
    with pytest.raises(EncodingError) as err:
        plan_max_size(8, 240, 1920, 1080, 30, "h264")
    needed = float(str(err.value).split("needs at least ")[1].split(" MB")[0])
    assert needed > 8
    assert "try --resolution 1280x720 or --max-size" in str(err.value)
    assert plan_max_size(8, 240, 1280, 720, 30, "h264").video_kbps > 0
    assert plan_max_size(needed, 240, 1920, 1080, 30, "h264").video_kbps > 0


def test_bitrate_budget_accounts_for_audio_and_margin():
    plan = plan_max_size(25, 180, 1920, 1080, 30, "h264")
    total_bytes = (plan.video_kbps + plan.audio_kbps) * 1000 * 180 / 8
    assert 0.9 * 25e6 < total_bytes < 0.96 * 25e6
    # a generous budget for a short clip is capped, not spent on invisible detail
    assert plan_max_size(50, 10, 320, 180, 30).video_kbps < 1000


def test_default_command_is_the_tuned_h264():
    cmd = encode_command(Path("o.mp4"), 1920, 1080, 30, Path("a.wav"), EncoderSettings.for_quality())
    assert cmd == encode_command(Path("o.mp4"), 1920, 1080, 30, Path("a.wav"), EncoderSettings())
    joined = " ".join(cmd)
    assert "-c:v libx264 -pix_fmt yuv420p" in joined and "-preset veryfast -crf 20" in joined
    assert "-x264-params me=dia:subme=1" in joined and "-movflags +faststart -f mp4" in joined


def test_output_name_must_match_the_container(inputs, tmp_path):
    with pytest.raises(EncodingError, match=r"vp9 writes WEBM: name the output \*\.webm"):
        _render(inputs, "vp9", None, tmp_path / "v.mp4")


def test_missing_encoder_is_a_clear_error(monkeypatch):
    from mvflow.render import codecs

    monkeypatch.setattr(codecs, "ffmpeg_encoders", lambda: frozenset({"libx264", "aac"}))
    with pytest.raises(EncodingError, match=r"codec vp9 needs the ffmpeg encoder\(s\) libvpx-vp9, libopus.*"
                                            r"usable here: h264"):
        require_codec("vp9")


def test_spec_carries_encoding_options(no_config):
    params = flow_params(spec_from({"caption": "pop", "codec": "vp9", "quality": "draft", "max_size": 8,
                                    "duration": 20}))
    options = params["render_options"]
    assert (options.codec, options.quality, options.max_size_mb) == ("vp9", "draft", 8)
    with pytest.raises(SpecError, match="needs at least"):
        flow_params(spec_from({"caption": "pop", "duration": 240, "max_size": 2}))


def test_codec_and_quality_settings_from_environment_and_config(no_config, monkeypatch):
    (no_config / "mvflow.toml").write_text('codec = "h265"\nquality = "high"\n', encoding="utf-8")
    options = flow_params(spec_from({"caption": "pop"}))["render_options"]
    assert (options.codec, options.quality) == ("h265", "high")
    monkeypatch.setenv("MVFLOW_CODEC", "vp9")
    assert flow_params(spec_from({"caption": "pop"}))["render_options"].codec == "vp9"
    assert flow_params(spec_from({"caption": "pop", "codec": "h264"}))["render_options"].codec == "h264"
    monkeypatch.setenv("MVFLOW_CODEC", "av1")
    with pytest.raises(SpecError, match="unknown codec 'av1': choose one of h264, h265, vp9"):
        flow_params(spec_from({"caption": "pop"}))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--codec", "av1"], "codec: Input should be 'h264', 'h265' or 'vp9'"),
        (["--quality", "ultra"], "quality: Input should be 'draft', 'standard' or 'high'"),
        (["--duration", "240", "--max-size", "5"], "try --resolution"),
        (["--max-size", "0"], "max_size: Input should be greater than 0"),
    ],
)
def test_cli_encoding_errors_are_one_line(no_config, args, message):
    result = CliRunner().invoke(app, ["make", "-c", "pop", *args])
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_mvflow_render_takes_the_encoding_options(inputs, tmp_path):
    audio = tmp_path / "night_drive.wav"
    audio.write_bytes((inputs / "song.wav").read_bytes())
    base = ["render", "--audio", str(audio), "--resolution", f"{W}x{H}", "--fps", "15"]
    result = CliRunner().invoke(app, [*base, "--codec", "vp9", "--quality", "draft"])
    assert result.exit_code == 0, result.output
    webm = audio.with_suffix(".webm")
    assert result.stdout.strip() == str(webm) and probe_streams(webm)["video_codec"] == "vp9"

    for args, message in [(["--codec", "vp9", "-o", str(tmp_path / "v.mp4")], "must end in .webm"),
                          (["--max-size", "0.01", "-o", str(tmp_path / "small.mp4")], "try --max-size 0.1")]:
        result = CliRunner().invoke(app, [*base, *args])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["night_drive.wav", "night_drive.webm"]  # nothing else
