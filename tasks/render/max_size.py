"""`--max-size MB`: the video bitrate that fits a file size, or a clear refusal.

Chat apps cap uploads (WhatsApp 16 MB, Discord 25 MB, Telegram 50 MB). The file is
encoded in two passes at an average video bitrate computed from the size budget, with
96 kb/s audio. A megabyte here is 10^6 bytes, so the file also fits a cap meant in MiB.
When even the lowest watchable bitrate for the size and frame rate cannot fit, the plan
refuses before anything is rendered and says what would fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mvflow.errors import EncodingError
from mvflow.models import RenderOptions
from mvflow.render.codecs import Codec, get_codec
from mvflow.render.yuv import even_round

AUDIO_KBPS = 96
MB = 1_000_000
# Two-pass rate control lands within ~1-2% of its target (x264/x265), and mostly below it.
SAFETY = 0.04
# Container overhead: headers and tags, plus MP4 sample tables / WebM block headers for
# ~30 video and ~45 audio packets a second (~0.5 KB/s measured; twice that budgeted).
HEADER_BYTES = 4_000
OVERHEAD_BYTES_PER_SECOND = 1_000
MIN_VIDEO_KBPS = 24  # no lower at any size: below this even a thumbnail-sized video falls apart
# No higher than this many bits per pixel per frame: a bigger budget would only waste space
# (the `high` presets spend ~0.02-0.05 on lyric videos).
MAX_BITS_PER_PIXEL = 0.12
# Smaller sizes offered when a size is impossible (same aspect ratio, even sides).
_SCALES = (2 / 3, 1 / 2, 1 / 3, 1 / 4)


@dataclass(frozen=True)
class SizePlan:
    video_kbps: int
    audio_kbps: int
    target_bytes: int


def min_video_kbps(codec: Codec, width: int, height: int, fps: float) -> int:
    """The lowest video bitrate --max-size accepts for this frame size and rate."""
    return max(MIN_VIDEO_KBPS, round(codec.min_bits_per_pixel * width * height * fps / 1000))


def min_size_mb(codec: Codec, width: int, height: int, fps: float, duration: float) -> float:
    """The smallest --max-size (MB) that fits `duration` seconds at this frame size and rate."""
    bits = (min_video_kbps(codec, width, height, fps) + AUDIO_KBPS) * 1000 * duration
    return (bits / 8 + _overhead(duration)) / (1 - SAFETY) / MB


def _overhead(duration: float) -> float:
    return HEADER_BYTES + OVERHEAD_BYTES_PER_SECOND * duration


def plan_max_size(max_size_mb: float, duration: float, width: int, height: int, fps: float,
                  codec_name: str = "h264") -> SizePlan:
    """The two-pass video bitrate for a file of at most `max_size_mb` MB, or an EncodingError
    that names the smallest size that fits and a resolution that fits this size."""
    codec = get_codec(codec_name)
    if max_size_mb <= 0:
        raise EncodingError(f"--max-size must be a positive number of MB, got {max_size_mb:g}")
    target = int(max_size_mb * MB)
    budget_bits = (target * (1 - SAFETY) - _overhead(duration)) * 8
    video_kbps = int(budget_bits / duration / 1000) - AUDIO_KBPS
    if video_kbps < min_video_kbps(codec, width, height, fps):
        raise EncodingError(_refusal(codec, max_size_mb, duration, width, height, fps))
    ceiling = round(MAX_BITS_PER_PIXEL * width * height * fps / 1000)
    return SizePlan(video_kbps=min(video_kbps, ceiling), audio_kbps=AUDIO_KBPS, target_bytes=target)


def check_fits(options: RenderOptions, duration: float) -> SizePlan | None:
    """The plan for options.max_size_mb (None without one); EncodingError when it cannot fit."""
    if options.max_size_mb is None:
        return None
    return plan_max_size(options.max_size_mb, duration, options.width, options.height, options.fps, options.codec)


def _refusal(codec: Codec, max_size_mb: float, duration: float, width: int, height: int, fps: float) -> str:
    needed = min_size_mb(codec, width, height, fps, duration)
    message = (f"--max-size {max_size_mb:g} MB is too small: a {_clock(duration)} song at {width}x{height} "
               f"{fps:g} fps ({codec.name}) needs at least {_round_up(needed)} MB")
    for scale in _SCALES:
        w, h = even_round(width * scale), even_round(height * scale)
        if w >= 64 and h >= 64 and min_size_mb(codec, w, h, fps, duration) <= max_size_mb:
            return f"{message}; try --resolution {w}x{h} or --max-size {_round_up(needed)}"
    return f"{message}; try --max-size {_round_up(needed)} (or a shorter song)"


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _round_up(mb: float) -> str:
    """Sizes in messages: one decimal below 10 MB, whole MB above, always rounded up."""
    return f"{math.ceil(mb * 10) / 10:g}" if mb < 10 else f"{math.ceil(mb)}"

