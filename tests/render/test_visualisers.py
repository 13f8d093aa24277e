"""Every visualiser kind: drawn into a real MP4 (with the audio), decoded, and inspected.

The song is 3.5 s: silence, one loud second (a chirp, and noise and a tone pulsing at 4 Hz),
silence again with
a click at CLICK_AT. Each kind is rendered alone over a fixed backdrop, so any pixel that
differs from the backdrop is the visualiser's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from mvflow.audio import decode_audio, ffmpeg_exe, write_wav
from mvflow.render.bars import Bars
from mvflow.render.circular import Circular
from mvflow.render.compositor import Compositor
from mvflow.render.coverage import ragged_ranges
from mvflow.render.encoder import FrameSink, encode_command
from mvflow.render.features import FEATURE_RATE
from mvflow.render.layers import DriftingBackground, StaticBackground, gradient_texture
from mvflow.render.layout import Layout
from mvflow.render.visualiser import VISUALISERS, VisualiserSpec, build_visualiser
from mvflow.render.waveform import WINDOW, line_spans, scope_traces, span_coverage
from mvflow.render.yuv import Box, Planes

W, H, FPS = 320, 180, 30
RATE = 44100
DURATION = 3.5
LOUD = (1.0, 2.0)
CLICK_AT = 3.0
KINDS = [k for k in VISUALISERS if k != "none"]
LAYOUT = Layout.for_size(W, H)
COLOURS = ((92, 204, 255), (255, 120, 200))


def _song() -> np.ndarray:
    t = np.arange(int(DURATION * RATE)) / RATE
    audio = np.zeros_like(t)
    loud = (t >= LOUD[0]) & (t < LOUD[1])
    rng = np.random.default_rng(3)
    beat = np.exp(-((t[loud] * 4) % 1.0) * 6)  # 240 bpm pulses: music moves, steady noise would not
    pulse = beat * (0.3 * rng.standard_normal(loud.sum()) + 0.4 * np.sin(2 * np.pi * 110 * t[loud]))
    audio[loud] = pulse + 0.2 * np.sin(2 * np.pi * (200 + 800 * t[loud]) * t[loud])
    click = int(CLICK_AT * RATE)
    audio[click : click + 32] = 0.9
    return audio


STRIP = Box(16, 104, 304, 168)  # a bottom strip with the proportions of a 1080p layout's
MIDDLE = Box(16, 24, 304, 148)


def box_for(kind: str) -> Box:
    """Strip kinds along the bottom; circular gets a big middle area (it centres a square in it)."""
    return MIDDLE if kind == "circular" else STRIP


PALETTE = [(40, 60, 90), (90, 40, 80), (20, 20, 30)]


def _backdrop(drifting: bool = False) -> StaticBackground | DriftingBackground:
    if drifting:  # moves a few px a second: parts must refresh their pictures of it
        return DriftingBackground(gradient_texture(W + 32, H + 32, PALETTE), W, H, FPS, [])
    return StaticBackground(gradient_texture(W, H, PALETTE), [])


def _part(kind: str, samples: np.ndarray, **spec):
    n_frames = round(len(samples) / FEATURE_RATE * FPS)
    return build_visualiser(VisualiserSpec(kind=kind, **spec), box_for(kind), LAYOUT.unit, samples, n_frames,
                            FPS, COLOURS), n_frames


def raw_frames(kind: str, samples: np.ndarray, drifting: bool = False) -> tuple[np.ndarray, Box]:
    """(n, H*W*3/2) yuv420p frames straight from the compositor, and the part's box."""
    part, n_frames = _part(kind, samples)
    with Compositor(W, H, FPS, _backdrop(drifting), [part]) as compositor:
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
    area = box.width * box.height
    silent = at(frames, 0.5)
    baseline = changed_pixels(silent, decode_frames_of_backdrop(), box) / area  # stubs, a ring
    loud = [changed_pixels(frames[k], silent, box) / area for k in range(33, 57)]  # the loud second
    moving = [changed_pixels(frames[k + 1], frames[k], box) / area for k in range(33, 57)]
    assert baseline < 0.07, "the silent frame is not quiet"
    assert changed_pixels(at(frames, 0.2), silent, box) == 0, "something moves in silence"
    # A line only moves its own few pixels, bars fill their box: both leave the rest alone.
    assert np.mean(loud) > max(1.4 * baseline, 0.02), "the loud second hardly shows"
    assert np.mean(moving) > 0.1 * np.mean(loud), "the loud second does not move"


def changed_pixels(a: np.ndarray, b: np.ndarray, box: Box) -> int:
    """Pixels of the box where a and b visibly differ (not codec noise)."""
    return int((np.abs(region(a, box) - region(b, box)).max(axis=-1) > 30).sum())


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


@pytest.mark.parametrize("drifting", [False, True], ids=["still", "drifting"])
@pytest.mark.parametrize("kind", KINDS)
def test_incremental_frames_equal_fresh_frames(kind, drifting, song):
    """Repainting only what changed gives exactly the frame a fresh part draws from scratch,
    also over a backdrop that moves under the part."""
    frames, _ = raw_frames(kind, song[1], drifting)
    for k in (20, 36, 45, 61, 75, 90, 95):
        part, _ = _part(kind, song[1])
        with Compositor(W, H, FPS, _backdrop(drifting), [part]) as fresh:
            assert np.array_equal(fresh.render(k).buffer, frames[k]), f"{kind}: frame {k} differs"


def test_circular_spokes_mirror_and_own_disjoint_pixels(song):
    part, n_frames = _part("circular", song[1])
    assert isinstance(part, Circular)
    box = part.box
    assert box.width == box.height and box.width == MIDDLE.height  # largest square in the box
    lengths = part.lengths
    assert np.array_equal(lengths, lengths[:, ::-1])  # left half mirrors the right half
    silent, loud = lengths[int(0.5 * FPS)], lengths[int(1.5 * FPS)]
    assert np.ptp(silent) == 0 and loud.mean() > 3 * silent.mean()
    for pixels in part._pixels:
        side = box.width // pixels.pixel
        flat = pixels.rows * side + pixels.cols
        assert len(np.unique(flat)) == len(flat)  # each pixel belongs to one spoke
        assert pixels.rows.max() < side and pixels.cols.max() < side
        assert np.all(np.diff(pixels.spoke) >= 0)
        same_spoke = np.diff(pixels.spoke) == 0
        assert np.all(np.diff(pixels.along)[same_spoke] >= 0)  # a spoke of length L is a prefix


def test_ragged_ranges():
    index, counts = ragged_ranges(np.array([3, 10, 7]), np.array([5, 10, 9]))
    assert index.tolist() == [3, 4, 7, 8] and counts.tolist() == [2, 0, 2]


def test_waveform_traces_are_flat_in_silence_and_hold_a_steady_tone_still():
    fps, n_points = 30, 200
    t = np.arange(FEATURE_RATE * 2) / FEATURE_RATE
    samples = np.where(t >= 1.0, 0.5 * np.sin(2 * np.pi * 110 * t), 0.0)  # silence, then a held note
    traces = scope_traces(samples, 60, fps, n_points, release_s=0.16)
    assert traces.shape == (60, n_points) and np.abs(traces).max() <= 1.0
    assert np.all(traces[:25] == 0)
    held = traces[40:60]
    assert np.abs(held).max() > 0.7
    # Triggered on rising zero crossings, a held note looks the same in every frame ...
    assert np.abs(np.diff(held, axis=0)).max() < 0.1
    # ... and shows its own period: 110 Hz over WINDOW seconds.
    middle = held[0][n_points // 5 : -n_points // 5]
    crossings = np.count_nonzero(np.diff(np.signbit(middle)))
    expected = 2 * 110 * WINDOW * 0.6
    assert abs(crossings - expected) <= 1.5


@pytest.mark.parametrize("slope", [0.0, 1.0, 3.0])
def test_waveform_line_covers_its_thickness_at_any_slope(slope):
    """Summed down a column, a straight line's coverage is its perpendicular thickness
    times sqrt(1 + slope^2): the stroke looks equally thick whichever way it goes."""
    thickness, sub = 2.0, 4
    x = (np.arange(40 * sub) + 0.5) / sub
    y = 100.5 + slope * (x - 20)
    lo, hi = line_spans(y * sub, thickness / 2 * sub)
    spans = (np.ascontiguousarray(v.reshape(-1, sub).T / sub) for v in (lo, hi))
    rows, cols, alpha = span_coverage(*spans, 1, 200)
    per_column = np.bincount(cols, weights=alpha)[10:30]
    assert np.allclose(per_column, thickness * np.sqrt(1 + slope**2), atol=0.05)
    assert alpha.max() <= 1.0 and np.all(rows < 200)


# ---------------------------------------------------------------- the knobs, on a flat dark backdrop

DARK = 20


def knob_frame(kind: str, samples: np.ndarray, t: float, **spec) -> tuple[np.ndarray, np.ndarray, Box]:
    """(box RGB as int, mask of drawn pixels, box) of the frame at t, rendered frame by frame up to it."""
    part, _ = _part(kind, samples, **spec)
    backdrop = StaticBackground(np.full((H, W, 3), float(DARK)), [])
    with Compositor(W, H, FPS, backdrop, [part]) as compositor:
        for k in range(int(round(t * FPS)) + 1):
            frame = compositor.render(k)
        rgb = region(frame.to_rgb(), part.box)
    return rgb, np.abs(rgb - DARK).max(axis=-1) > 12, part.box


@pytest.mark.parametrize("kind", KINDS)
def test_colours_come_from_the_spec(kind, song):
    red, blue = (255, 40, 40), (40, 40, 255)
    rgb, drawn, box = knob_frame(kind, song[1], 1.3, colors=(red, blue))
    if kind == "circular":  # start colour at the top of the circle, end colour at the bottom
        first, last = slice(0, box.height // 3), slice(2 * box.height // 3, None)
        parts = (rgb[first], drawn[first]), (rgb[last], drawn[last])
    else:  # left to right
        first, last = slice(0, box.width // 3), slice(2 * box.width // 3, None)
        parts = (rgb[:, first], drawn[:, first]), (rgb[:, last], drawn[:, last])
    (start, start_drawn), (end, end_drawn) = parts
    assert start_drawn.sum() > 20 and end_drawn.sum() > 20
    start_mean, end_mean = start[start_drawn].mean(axis=0), end[end_drawn].mean(axis=0)
    assert start_mean[0] > start_mean[2] + 30, start_mean  # reddish
    assert end_mean[2] > end_mean[0] + 30, end_mean  # bluish


@pytest.mark.parametrize("kind", KINDS)
def test_opacity_fades_the_drawing(kind, song):
    strong, _, _ = knob_frame(kind, song[1], 1.3, opacity=1.0)
    faint, _, _ = knob_frame(kind, song[1], 1.3, opacity=0.35)
    strong_ink, faint_ink = np.abs(strong - DARK).sum(), np.abs(faint - DARK).sum()
    assert 0.2 * strong_ink < faint_ink < 0.5 * strong_ink


@pytest.mark.parametrize("kind", KINDS)
def test_longer_release_holds_the_music_longer(kind, song):
    """Between two pulses (0.15 s after one), a slow release still shows much more than a fast one."""
    silent, _, _ = knob_frame(kind, song[1], 0.5)
    fast, _, _ = knob_frame(kind, song[1], 1.4, release=0.03)
    slow, _, _ = knob_frame(kind, song[1], 1.4, release=0.6)
    # (A line's pixels saturate once it moves more than its width: see the trace test for the waveform.)
    assert np.abs(slow - silent).sum() > 1.3 * np.abs(fast - silent).sum()


def test_waveform_release_holds_the_line_up_between_pulses(song):
    slow, _ = _part("waveform", song[1], release=0.6)
    fast, _ = _part("waveform", song[1], release=0.03)
    pulse, after = int(1.25 * FPS), int(1.4 * FPS)
    assert np.abs(slow.traces[pulse]).max() == pytest.approx(np.abs(fast.traces[pulse]).max())  # same attack
    assert np.abs(slow.traces[after]).max() > 2 * np.abs(fast.traces[after]).max()


@pytest.mark.parametrize("kind", ["bars", "mirrored", "circular"])
def test_count_sets_bars_and_spokes(kind, song):
    part, _ = _part(kind, song[1], count=20)
    shown = part.lengths.shape[1]
    assert shown == 20


@pytest.mark.parametrize("kind", ["waveform", "circular"])
def test_thickness_sets_line_width(kind, song):
    """In silence the waveform is a flat line and the circle shows its ring: both as thick as asked."""
    def line_pixels(thickness: float) -> int:
        _, drawn, _ = knob_frame(kind, song[1], 0.5, thickness=thickness)
        if kind == "circular":  # the ring alone: without it only the spokes' stubs are left
            _, stubs, _ = knob_frame(kind, song[1], 0.5, thickness=thickness, ring=False)
            return int(drawn.sum() - stubs.sum())
        return int(drawn.sum())

    assert line_pixels(0.03) > 1.8 * line_pixels(0.01)
