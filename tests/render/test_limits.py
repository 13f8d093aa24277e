"""Frame limits: the codec table against what the bundled encoders do, the frame-rate bound's
derivation, the suggestions in the refusals, and the memory estimate against a measured render."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from mvflow.errors import InputError
from mvflow.render import limits
from mvflow.render.codecs import CODECS, get_codec
from mvflow.render.encoder import EncoderSettings, FrameSink, encode_command
from mvflow.render.limits import MAX_FPS, check_frame, estimate_bytes, largest_like


def encodes(codec: str, width: int, height: int) -> bool:
    """Whether the bundled ffmpeg's encoder takes one black frame of this size (the probe behind the table)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"probe{get_codec(codec).extension}"
        cmd = encode_command(out, width, height, 5, None, EncoderSettings.for_quality(codec, "draft"))
        try:
            with FrameSink(cmd, width * height * 3 // 2) as sink:
                sink.write(np.zeros(width * height * 3 // 2, np.uint8))
        except RuntimeError as exc:
            assert "open encoder" in str(exc), exc  # libx264 refused the size when ffmpeg opened it
            return False
        return out.stat().st_size > 0


def test_libx264_refuses_a_side_past_16384_as_the_table_says():
    assert encodes("h264", 16384, 64)
    assert not encodes("h264", 16386, 64) and not encodes("h264", 64, 16386)
    assert get_codec("h264").limits.max_side == 16384


def test_the_level_counts_h264_frames_in_macroblocks():
    """8194x4350 is under 35.65 million samples but 513x272 = 139,536 macroblocks, past level 6.2's 139,264."""
    h264, vp9 = get_codec("h264").limits, get_codec("vp9").limits
    assert 8194 * 4350 <= h264.max_samples and h264.samples(8194, 4350) == 139_536 * 256
    assert not h264.fits(8194, 4350) and vp9.fits(8194, 4350)
    assert h264.fits(8192, 4352) and not h264.fits(8192, 4354)


def test_120_fps_keeps_every_frame_a_level_allows_within_its_sample_rate():
    """MAX_FPS is derived, not picked: H.264 and H.265 level 6.2 allow their largest frame at exactly 120 fps."""
    rates = {codec.name: codec.limits.max_rate // codec.limits.max_samples for codec in CODECS.providers()}
    assert rates["h264"] == rates["h265"] == MAX_FPS and rates["vp9"] >= MAX_FPS
    for codec in CODECS.providers():
        assert codec.limits.max_samples * MAX_FPS <= codec.limits.max_rate


@pytest.mark.parametrize("codec", ["h264", "h265", "vp9"])
@pytest.mark.parametrize("size", [(20000, 20000), (30000, 2000), (16000, 9000), (3000, 40000)])
def test_the_suggested_frame_fits_keeps_the_shape_and_is_the_largest(codec, size):
    fits = get_codec(codec).limits.fits
    with pytest.raises(InputError, match=rf"larger than {codec} can play") as info:
        check_frame(*size, 30, codec, 10.0)
    w, h = map(int, str(info.value).rsplit(" ", 1)[1].split("x"))
    assert fits(w, h) and w % 2 == 0 and h % 2 == 0
    assert abs(w / h - size[0] / size[1]) < 0.01 * size[0] / size[1]
    assert not fits(w + 2, h + 2 * round(h / w))  # a step larger no longer fits


def test_a_frame_thinner_than_the_smallest_side_is_told_the_side_limit():
    with pytest.raises(InputError, match="keep each side within 16384 px$"):
        check_frame(16400, 64, 30, "h264", 10.0)
    assert largest_like(16400, 64, get_codec("h264").limits.fits) is None


def test_unknown_memory_leaves_only_the_codec_bound(monkeypatch):
    monkeypatch.setattr(limits, "available_bytes", lambda: None)
    check_frame(8192, 4352, 120, "h264", 600.0)  # no error: the system does not say how much is free


def test_memory_refusals_suggest_a_smaller_frame_then_a_lower_rate(monkeypatch):
    monkeypatch.setattr(limits, "usable_cpus", lambda: 2)
    h264 = get_codec("h264")
    free = estimate_bytes(1920, 1080, 30, h264, 60.0, cpus=2)
    monkeypatch.setattr(limits, "available_bytes", lambda: free)
    check_frame(1920, 1080, 30, "h264", 60.0)  # exactly what is free: fits
    with pytest.raises(InputError, match=r"at most 19\d\dx10\d\d fits now \(or free some memory\)$"):
        check_frame(3840, 2160, 30, "h264", 60.0)
    # 10 minutes at 120 fps: the per-frame data alone is past what is free at any size, a lower rate fits
    small = estimate_bytes(64, 64, 30, h264, 600.0, cpus=2)
    monkeypatch.setattr(limits, "available_bytes", lambda: small)
    with pytest.raises(InputError, match=r"of 600 s needs about .* is available: at most 30 fps fits at this size"):
        check_frame(64, 64, 120, "h264", 600.0)


def test_the_estimate_grows_with_size_rate_length_and_encoder_threads():
    h264 = get_codec("h264")
    base = estimate_bytes(1280, 720, 30, h264, 60.0, cpus=2)
    assert estimate_bytes(1920, 1080, 30, h264, 60.0, cpus=2) > base
    assert estimate_bytes(1280, 720, 60, h264, 60.0, cpus=2) > base
    assert estimate_bytes(1280, 720, 30, h264, 120.0, cpus=2) > base
    assert estimate_bytes(1280, 720, 30, h264, 60.0, cpus=16) > base


MEASURE = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from render_memory import one_render
print(json.dumps(one_render(sys.argv[2], sys.argv[3], sys.argv[4], 2.0)))
"""


@pytest.mark.parametrize("codec", ["h264", "vp9"])
def test_the_estimate_is_above_a_measured_render(codec):
    """A real 1280x720 render in a fresh process (so its peaks are its own), with the pan backdrop at the
    classic style's travel: the renderer's extra memory plus ffmpeg's peak stay under the estimate."""
    benchmarks = Path(__file__).resolve().parents[2] / "benchmarks"
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(benchmarks), "1280x720", codec, "pan"],
                          capture_output=True, text=True, timeout=300, check=True)
    measured = json.loads(proc.stdout.strip().splitlines()[-1])
    used = (measured["python"] + measured["ffmpeg"]) * 2**20
    estimate = estimate_bytes(1280, 720, 30, get_codec(codec), 2.0)
    assert used < estimate, (measured, estimate / 2**20)
