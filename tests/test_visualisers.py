"""Every visualiser kind: drawn into a real MP4 (with the audio), decoded, and inspected.

The song is 3.5 s: silence, one loud second (noise, a chirp and a tone), silence again with
a click at CLICK_AT. Each kind is rendered alone over a fixed backdrop, so any pixel that
differs from the backdrop is the visualiser's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tasks.audio import decode_audio, ffmpeg_exe, write_wav
from tasks.render.bars import Bars
from tasks.render.compositor import Compositor
from tasks.render.encoder import FrameSink, encode_command
from tasks.render.features import FEATURE_RATE
from tasks.render.layers import StaticBackground, gradient_texture
from tasks.render.layout import Layout
from tasks.render.visualiser import VISUALISER_KINDS, VisualiserSpec, build_visualiser
from tasks.render.yuv import Box, Planes

W, H, FPS = 320, 180, 30
RATE = 44100
DURATION = 3.5
LOUD = (1.0, 2.0)
CLICK_AT = 3.0
KINDS = [k for k in VISUALISER_KINDS if k != "none"]
LAYOUT = Layout.for_size(W, H)
COLOURS = ((92, 204, 255), (255, 120, 200))


def _song() -> np.ndarray:
    t = np.arange(int(DURATION * RATE)) / RATE
    audio = np.zeros_like(t)
    loud = (t >= LOUD[0]) & (t < LOUD[1])
    rng = np.random.default_rng(3)
    audio[loud] = (0.25 * rng.standard_normal(loud.sum()) + 0.3 * np.sin(2 * np.pi * (200 + 800 * t[loud]) * t[loud])
                   + 0.3 * np.sin(2 * np.pi * 110 * t[loud]))
    click = int(CLICK_AT * RATE)
    audio[click : click + 32] = 0.9
    return audio


def box_for(kind: str) -> Box:
    """Strip kinds along the bottom; circular gets the big middle area (it centres a square in it)."""
    return LAYOUT.lyric_box if kind == "circular" else LAYOUT.bars_box


def _backdrop() -> StaticBackground:
    return StaticBackground(gradient_texture(W, H, [(40, 60, 90), (90, 40, 80), (20, 20, 30)]), [])


def _part(kind: str, samples: np.ndarray, **spec):
    n_frames = round(len(samples) / FEATURE_RATE * FPS)
    return build_visualiser(VisualiserSpec(kind=kind, **spec), box_for(kind), LAYOUT.unit, samples, n_frames,
                            FPS, COLOURS), n_frames


def raw_frames(kind: str, samples: np.ndarray, **spec) -> tuple[np.ndarray, Box]:
    """(n, H*W*3/2) yuv420p frames straight from the compositor, and the part's box."""
    part, n_frames = _part(kind, samples, **spec)
    with Compositor(W, H, FPS, _backdrop(), [part]) as compositor:
        return np.stack([compositor.render(k).buffer.copy() for k in range(n_frames)]), part.box


def decode_frames(path: Path) -> np.ndarray:
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    )
    return np.frombuffer(proc.stdout, np.uint8).reshape(-1, H, W, 3)


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    path = tmp_path_factory.mktemp("visualisers") / "song.wav"
    write_wav(path, _song(), RATE)
    return path, decode_audio(path, FEATURE_RATE)


@pytest.fixture(scope="module")
def videos(song, tmp_path_factory):
    """kind -> (decoded RGB frames, the part's box): one MP4 per kind, with the song as its audio."""
    audio, samples = song
    out = {}
    for kind in KINDS:
        path = tmp_path_factory.mktemp(kind) / "v.mp4"
        part, n_frames = _part(kind, samples)
        with FrameSink(encode_command(path, W, H, FPS, audio), W * H * 3 // 2) as sink, \
                Compositor(W, H, FPS, _backdrop(), [part]) as compositor:
            for k in range(n_frames):
                sink.write(compositor.render(k).buffer)
        out[kind] = (decode_frames(path), part.box)
    return out


def region(frame: np.ndarray, box: Box) -> np.ndarray:
    return frame[box.y0 : box.y1, box.x0 : box.x1].astype(np.int16)


def at(frames: np.ndarray, t: float) -> np.ndarray:
    return frames[int(round(t * FPS))]


def drawn_fraction(frame: np.ndarray, backdrop: np.ndarray, box: Box) -> float:
    """Share of the box's pixels visibly different from the bare backdrop."""
    return float((np.abs(region(frame, box) - region(backdrop, box)).max(axis=-1) > 30).mean())


# ---------------------------------------------------------------- every kind, through the encoder


@pytest.mark.parametrize("kind", KINDS)
def test_draws_inside_its_box_only(kind, song):
    frames, box = raw_frames(kind, song[1])
    bare = _backdrop().at(0)[0].buffer
    outside = np.ones((H, W), bool)
    outside[box.y0 : box.y1, box.x0 : box.x1] = False
    chroma_outside = outside[::2, ::2]
    mask = np.concatenate([outside.ravel(), chroma_outside.ravel(), chroma_outside.ravel()])
    assert np.array_equal(frames[:, mask], np.broadcast_to(bare[mask], frames[:, mask].shape))
    assert (frames[:, ~mask] != bare[~mask]).any(), "nothing drawn at all"


@pytest.mark.parametrize("kind", KINDS)
def test_quiet_at_silence_and_lively_when_loud(kind, videos):
    frames, box = videos[kind]
    bare = decode_frames_of_backdrop()
    silent = drawn_fraction(at(frames, 0.5), bare, box)
    loud = [drawn_fraction(at(frames, t), bare, box) for t in (1.3, 1.5, 1.7)]
    assert min(loud) > 3 * silent + 0.04, (silent, loud)
    # Lively: consecutive loud frames differ (the picture moves with the music).
    moving = [np.abs(region(frames[k + 1], box) - region(frames[k], box)).mean() for k in range(36, 56)]
    assert min(moving) > 0.2 and np.mean(moving) > 1.0, moving


@pytest.mark.parametrize("kind", KINDS)
def test_click_peaks_within_one_frame(kind, videos):
    frames, box = videos[kind]
    base = region(at(frames, CLICK_AT - 0.3), box)
    window = range(int((CLICK_AT - 0.3) * FPS), int((CLICK_AT + 0.4) * FPS))
    energy = [np.abs(region(frames[k], box) - base).sum() for k in window]
    peak = window[int(np.argmax(energy))]
    assert abs(peak - CLICK_AT * FPS) <= 1, (kind, peak)
    assert max(energy) > 20 * (energy[0] + 1)


_BARE: list[np.ndarray] = []


def decode_frames_of_backdrop() -> np.ndarray:
    """The bare backdrop as RGB (what the decoded frames are compared with)."""
    if not _BARE:
        _BARE.append(_backdrop().at(0)[0].to_rgb())
    return _BARE[0]


def test_none_draws_nothing(song):
    part, _ = _part("none", song[1])
    with Compositor(W, H, FPS, _backdrop(), [part]) as compositor:
        frame = compositor.render(45).buffer.copy()
    assert np.array_equal(frame, _backdrop().at(0)[0].buffer)


def test_unknown_kind_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown visualiser 'disco'; choose one of: bars, mirrored"):
        VisualiserSpec(kind="disco")


# ---------------------------------------------------------------- per kind, precomputed values


def _flat_planes(value: int = 60) -> Planes:
    return Planes.from_rgb(np.full((H, W, 3), value, np.uint8))


def test_mirrored_bars_are_symmetric_about_the_centre_line(song):
    part, _ = _part("mirrored", song[1])
    assert isinstance(part, Bars) and len(part.arms) == 2
    frame, bg = _flat_planes(), _flat_planes()
    part.draw(frame, bg, 0, int(1.5 * FPS), 1.5)
    box = part.box
    drawn = frame.y[box.y0 : box.y1, box.x0 : box.x1] != bg.y[box.y0 : box.y1, box.x0 : box.x1]
    centre = part.arms[0].anchor
    assert part.arms[1].anchor == centre and centre % 2 == 0
    up, down = drawn[:centre][::-1], drawn[centre : 2 * centre]
    assert up.sum() > 0.1 * up.size and np.array_equal(up, down)


def test_bottom_bars_grow_from_the_bottom_edge(song):
    part, _ = _part("bars", song[1])
    frame, bg = _flat_planes(), _flat_planes()
    k = int(1.5 * FPS)
    part.draw(frame, bg, 0, k, 1.5)
    box = part.box
    drawn = frame.y[box.y0 : box.y1, box.x0 : box.x1] != bg.y[box.y0 : box.y1, box.x0 : box.x1]
    for i, (x0, _x1) in enumerate(part.columns):
        column = drawn[:, x0]
        assert column[box.height - part.lengths[k, i] :].all()  # the bar
        assert column.sum() == part.lengths[k, i] + (part.cap_h if part.caps[k, i] >= 0 else 0)
