"""Renderer tests: real MP4s at small sizes, decoded and inspected pixel by pixel."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mvflow.audio import ffmpeg_exe, write_wav
from mvflow.models import LyricLine, LyricWord, RenderOptions
from mvflow.render.encoder import probe_streams
from mvflow.render.features import bar_levels
from mvflow.render.layout import Layout
from mvflow.render.style_loader import load_style
from mvflow.render.text import fit_text, load_font
from mvflow.render.timeline import KaraokeClock, Timeline
from mvflow.render.video import build_scene, render_music_video, render_still
from mvflow.render.yuv import Box, Planes

W, H, FPS = 320, 180, 30
RATE = 44100
DURATION = 6.0
CLICK_AT = 4.0
LOUD = (1.0, 2.5)  # noise + chirp; silence 0-1 s and 2.5-4.5 s (except the click)


def _song() -> np.ndarray:
    t = np.arange(int(DURATION * RATE)) / RATE
    audio = np.zeros_like(t)
    loud = (t >= LOUD[0]) & (t < LOUD[1])
    rng = np.random.default_rng(3)
    audio[loud] = 0.3 * rng.standard_normal(loud.sum()) + 0.4 * np.sin(2 * np.pi * (200 + 800 * t[loud]) * t[loud])
    click = int(CLICK_AT * RATE)
    audio[click : click + 32] = 0.9
    tail = t >= 4.5
    audio[tail] = 0.25 * (np.sin(2 * np.pi * 220 * t[tail]) + np.sin(2 * np.pi * 330 * t[tail]))
    return audio


def _words(text: str, start: float, end: float) -> list[LyricWord]:
    tokens = text.split()
    step = (end - start) / len(tokens)
    return [LyricWord(text=w, start=start + i * step, end=start + (i + 1) * step) for i, w in enumerate(tokens)]


LINES = [
    LyricLine(text="Hello bright world", start=1.2, end=2.4),
    LyricLine(text="Second line sung here", start=4.6, end=5.8, words=_words("Second line sung here", 4.6, 5.8)),
]


def _cover(path: Path) -> Path:
    """4:3 black cover with a white circle: stretching it to 16:9 would make an ellipse."""
    img = Image.new("RGB", (400, 300), (0, 0, 0))
    ImageDraw.Draw(img).ellipse((140, 90, 260, 210), fill=(255, 255, 255))
    img.save(path)
    return path


def decode_frames(path: Path, width: int = W, height: int = H) -> np.ndarray:
    """All frames of a video as (n, H, W, 3) uint8 RGB, decoded by ffmpeg."""
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )
    return np.frombuffer(proc.stdout, np.uint8).reshape(-1, height, width, 3)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("render")
    audio = tmp / "song.wav"
    write_wav(audio, _song(), RATE)
    cover = _cover(tmp / "cover.png")
    out = tmp / "video.mp4"
    calls: list[tuple[int, int]] = []
    render_music_video(audio, LINES, cover, "Test Song", out, RenderOptions(width=W, height=H, fps=FPS),
                       subtitle="unit test", progress=lambda done, total: calls.append((done, total)))
    return {"out": out, "audio": audio, "cover": cover, "frames": decode_frames(out), "calls": calls, "dir": tmp}


def frame_at(frames: np.ndarray, t: float) -> np.ndarray:
    return frames[int(round(t * FPS))].astype(np.int16)


def region(frame: np.ndarray, box: Box) -> np.ndarray:
    return frame[box.y0 : box.y1, box.x0 : box.x1]


def changed_pixels(a: np.ndarray, b: np.ndarray, threshold: int = 40) -> int:
    """Pixels where some channel moved by more than `threshold` (glyphs, not codec noise)."""
    return int((np.abs(a - b).max(axis=-1) > threshold).sum())


LAYOUT = Layout.for_size(W, H)


# ---------------------------------------------------------------- the video file


def test_streams_match_audio_duration(rendered):
    info = probe_streams(rendered["out"])
    assert info["video_codec"] == "h264" and info["audio_codec"] == "aac"
    assert (info["width"], info["height"], info["pix_fmt"]) == (W, H, "yuv420p")
    assert abs(info["video_duration"] - DURATION) < 0.1
    assert abs(info["audio_duration"] - DURATION) < 0.1
    assert info["video_frames"] == round(DURATION * FPS) == len(rendered["frames"])


def test_written_atomically_with_progress(rendered):
    leftovers = [p.name for p in rendered["dir"].iterdir() if ".part" in p.name]
    assert leftovers == []
    calls = rendered["calls"]
    total = round(DURATION * FPS)
    assert calls[-1] == (total, total)
    assert len(calls) >= 5 and [d for d, _ in calls] == sorted(d for d, _ in calls)


# ---------------------------------------------------------------- what is on screen


def test_lyric_appears_and_changes(rendered):
    frames, box = rendered["frames"], LAYOUT.lyric_box
    before, first, second, gap = (region(frame_at(frames, t), box) for t in (0.3, 1.8, 5.2, 3.6))
    assert changed_pixels(first, before) > 300, "no lyric drawn while the first line is sung"
    assert changed_pixels(second, first) > 300, "the second line looks like the first"
    assert changed_pixels(gap, before) == 0, "the lyric box is not cleared between the lines"


def test_karaoke_highlight_moves(rendered):
    """The word-timed line gets coloured progressively: start vs end of the line differ."""
    frames, box = rendered["frames"], LAYOUT.lyric_box
    early, middle, late = (region(frame_at(frames, t), box) for t in (4.65, 5.2, 5.75))
    assert 50 < changed_pixels(middle, early) < changed_pixels(late, early)


def test_bars_follow_loudness(rendered):
    frames, box = rendered["frames"], LAYOUT.bars_box
    silent, loud = region(frame_at(frames, 0.5), box), region(frame_at(frames, 2.0), box)
    assert loud.mean() > silent.mean() + 15


def test_click_peaks_within_one_frame(rendered):
    frames, box = rendered["frames"], LAYOUT.bars_box
    base = region(frame_at(frames, 3.6), box)
    window = range(int(3.6 * FPS), int(4.4 * FPS))
    energy = [np.abs(region(frames[k].astype(np.int16), box) - base).sum() for k in window]
    peak = window[int(np.argmax(energy))]
    assert abs(peak - CLICK_AT * FPS) <= 1
    assert max(energy) > 20 * (energy[0] + 1)


def test_cover_fills_without_stretching(rendered):
    frame = frame_at(rendered["frames"], 0.3).mean(axis=-1)
    inner = frame[LAYOUT.title_box.y1 + 6 : LAYOUT.bars_box.y0, :]
    mask = inner > (inner.max() + inner.min()) / 2
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    height, width = rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
    # 400x300 cover filling 320x180: scale 0.8, circle diameter 120 -> 96 px, round.
    assert abs(width - 96) <= 6 and abs(height - 96) <= 6
    assert abs(width / height - 1) < 0.08
    assert abs((cols[0] + cols[-1]) / 2 - W / 2) <= 3


def test_gradient_backdrop_moves_without_cover(tmp_path):
    audio = tmp_path / "a.wav"
    write_wav(audio, np.zeros(RATE * 3), RATE)
    out = tmp_path / "v.mp4"
    render_music_video(audio, [], None, "No Cover", out, RenderOptions(width=W, height=H, fps=FPS))
    frames = decode_frames(out)
    assert len(frames) == 3 * FPS
    middle = frames[:, 40:120, 40:280].astype(np.int16)  # clear of title, lyrics are absent
    assert changed_pixels(middle[-1], middle[0], threshold=2) > 500, "the gradient did not move"
    assert middle.std() > 2, "the gradient is flat"


def test_full_hd_still_renders_legibly(tmp_path):
    """A 1920x1080 frame at a lyric moment: bright text pixels inside the lyric box."""
    audio = tmp_path / "a.wav"
    write_wav(audio, _song(), RATE)
    options = RenderOptions(width=1920, height=1080, fps=FPS)
    still = render_still(audio, LINES, _cover(tmp_path / "c.png"), "Full HD", 5.2, options, "check")
    still.save(tmp_path / "still.png")
    layout = Layout.for_size(1920, 1080)
    lyric = np.asarray(still)[layout.lyric_box.y0 : layout.lyric_box.y1, layout.lyric_box.x0 : layout.lyric_box.x1]
    assert (lyric.min(axis=-1) > 200).sum() > 2000  # white glyph pixels
    assert still.size == (1920, 1080)


def test_incremental_frames_equal_fresh_frames(tmp_path):
    """Redrawing only what changed gives exactly the frame a from-scratch render gives."""
    audio = tmp_path / "a.wav"
    write_wav(audio, _song(), RATE)
    cover, options = _cover(tmp_path / "c.png"), RenderOptions(width=W, height=H, fps=FPS)
    checks = {int(t * FPS) for t in (0.9, 1.1, 2.0, 2.45, 3.0, 4.0, 4.3, 5.0, 5.5)}
    with build_scene(audio, LINES, cover, "T", options).compositor as sequential:
        incremental = {k: sequential.render(k).buffer.copy() for k in range(max(checks) + 1)}
    for k in sorted(checks):
        with build_scene(audio, LINES, cover, "T", options).compositor as fresh:
            assert np.array_equal(fresh.render(k).buffer, incremental[k]), f"frame {k} differs"


# ---------------------------------------------------------------- units


@pytest.mark.parametrize("size", [(1920, 1080), (1080, 1920), (1080, 1080), (320, 180), (256, 144)])
def test_layout_boxes_inside_and_apart(size):
    layout = Layout.for_size(*size)
    frame = Box(0, 0, *size)
    boxes = [layout.title_box, layout.lyric_box, layout.bars_box]
    for box in boxes:
        assert frame.x0 <= box.x0 < box.x1 <= frame.x1 and frame.y0 <= box.y0 < box.y1 <= frame.y1
    assert not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert layout.lyric_box.y0 <= layout.focus_y <= layout.lyric_box.y1


def test_fit_text_wraps_then_shrinks():
    font, rows = fit_text("a fairly long lyric line that cannot fit on one row", "Bold", 60, 30, 700, 2)
    assert len(rows) == 2 and font.size == 60
    assert all(font.getlength(r) <= 700 for r in rows)
    assert abs(font.getlength(rows[0]) - font.getlength(rows[1])) < 150  # balanced, no orphan
    font, rows = fit_text(" ".join(["word"] * 60), "Bold", 60, 20, 600, 2)
    assert len(rows) <= 2 and font.size < 60
    assert all(font.getlength(r) <= 600 for r in rows)
    assert load_font("Black", 20).size == 20


def test_one_block_at_a_time_with_a_dip_between_close_lines():
    style = load_style("classic")
    lines = [LyricLine(text="one", start=1.0, end=2.0), LyricLine(text="two", start=2.0, end=3.0),
             LyricLine(text="three", start=8.0, end=9.0)]
    timeline = Timeline(lines, style)
    first, second, third = timeline.blocks
    assert first.end == second.start  # close lines hand over at one instant...
    assert first.opacity(first.end) == 0 == second.opacity(second.start)  # ...through the backdrop
    assert second.end < third.start  # a long gap: each fades on its own
    for t in np.arange(0.0, 10.0, 0.01):
        on_screen = [b for b in timeline.blocks if b.opacity(float(t)) > 0]
        assert len(on_screen) <= 1
        visible = timeline.visible(float(t))
        assert (visible[0] if visible else None) == (on_screen[0] if on_screen else None)
    assert timeline.visible(0.2) is None and timeline.visible(5.0) is None
    assert timeline.visible(1.5) == (first, 1.0) and timeline.visible(8.5) == (third, 1.0)
    assert timeline.next_block(4.0) is third


def test_karaoke_clock_tracks_words():
    line = LyricLine(text="Hello,  big world", start=0, end=3, words=[
        LyricWord(text="hello", start=0.0, end=1.0), LyricWord(text="big", start=1.0, end=2.0),
        LyricWord(text="world", start=2.0, end=3.0)])
    clock = KaraokeClock(line)
    assert clock.sung_chars(-1) == 0
    assert clock.sung_chars(0.5) == pytest.approx(3.0)  # half of "Hello,"
    assert clock.sung_chars(1.0) == pytest.approx(6.0)
    assert clock.sung_chars(10) == pytest.approx(len("Hello, big world"))


def test_bar_levels_attack_instantly_and_release():
    fps, rate = 30, 22050
    audio = np.zeros(rate * 2, np.float32)
    audio[rate : rate + 20] = 1.0  # click at 1.0 s
    levels, peaks = bar_levels(audio, 60, fps, 16, 0.15, 0.5, rate)
    energy = levels.sum(axis=1)
    assert int(np.argmax(energy)) == 30
    assert energy[33] < energy[30] and energy[10] == 0
    assert np.all(peaks >= levels)


def test_yuv_round_trip_keeps_colours():
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[:] = (200, 40, 90)
    back = Planes.from_rgb(rgb).to_rgb()
    assert np.abs(back.astype(int) - rgb).max() <= 2
