"""The largest frame and frame rate a render may take, checked before any frame is made.

A typo in a size (`--resolution 20000x20000`) once started a render that held 5 GB after
40 s without making a frame. Every render is now held against two bounds first, by
`mvflow make`, batch files and schedules (when the request is validated), by `mvflow render`
(before the first frame) and by the render step itself (when it starts, against the memory
free at that moment):

1. What the codec plays: its highest level (the codec row's FrameLimits in
   mvflow.render.codecs: longest side, frame size in the codec's coding blocks). A frame
   past it is refused naming the level and the largest frame of the same shape that fits.
2. What the machine holds: `estimate_bytes` (the renderer's frame-sized buffers, the
   encoder's frames and threads, the per-frame visualiser data and the decoded audio)
   against mvflow.memory.available_bytes (MemAvailable, or a container's cgroup limit). A
   render that would not fit is refused naming both numbers and the largest frame that fits.

Frame rate: at most MAX_FPS = 120. The highest levels of H.264 and H.265 (6.2) are sized for
their largest frame at exactly 120 frames a second (H.264: 16,711,680 macroblocks/s over
139,264 macroblocks a frame), so any frame within a level at up to 120 fps is also within
the level's sample rate (VP9's rate is higher still). Lower bound: 64 px a side, even sides
(4:2:0 chroma halves each side).

The memory figures are measured with benchmarks/render_memory.py (peak resident sizes of
renders from 640x360 to 4K with every codec and background, of the encoder alone at 1 to 24
threads, and of 10-minute songs at 120 fps with the widest visualisers), each rounded up, so
the estimate runs 15-30% above what was measured (4K H.264 on 2 CPUs: 1.45 GB measured, 1.7 GB
estimated).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mvflow.errors import InputError
from mvflow.memory import available_bytes, usable_cpus
from mvflow.render.codecs import Codec, get_codec

MIN_SIDE = 64
MAX_FPS = 120

#: The renderer's own memory per frame pixel: backdrop textures (up to 1.69x the frame for
#: pan or zoom at the largest travel, 0.3), pre-rendered layers, frame buffers, the encoder
#: pipe's ring. Measured 35 (a still cover) to 58 (pan or zoom at travel 0.3) bytes per pixel at 4K.
RENDERER_BYTES_PER_PIXEL = 64
#: Per video frame: the visualiser's data for every frame (levels, peak caps, bar lengths:
#: 16.8 KB a frame measured for 1024 bars at 4K, 10 minutes at 120 fps; the waveform's traces take less).
BYTES_PER_FRAME = 20_000
#: Per second of audio: the song decoded for analysis and its filtered copies (~190 KB measured).
BYTES_PER_AUDIO_SECOND = 200_000
#: Whatever the frame size: ffmpeg itself, its audio decoder and encoder (60-80 MB measured).
FIXED_BYTES = 160 * 2**20


def encoder_threads(cpus: int) -> int:
    """The threads the encoder runs with ffmpeg's default (`-threads` auto): libx264 takes 1.5 per CPU;
    libx265 and libvpx take fewer, so their estimate errs high."""
    return math.ceil(1.5 * cpus)


def estimate_bytes(width: int, height: int, fps: int, codec: Codec, seconds: float, cpus: int | None = None) -> int:
    """The most memory a render of this size, rate, codec and length takes (renderer + ffmpeg)."""
    per_pixel = (RENDERER_BYTES_PER_PIXEL + codec.memory.per_pixel
                 + codec.memory.per_thread_pixel * encoder_threads(cpus or usable_cpus()))
    frames = math.ceil(max(seconds, 0.0) * fps)
    return math.ceil(FIXED_BYTES + width * height * per_pixel + frames * BYTES_PER_FRAME
                     + seconds * BYTES_PER_AUDIO_SECOND)


def check_frame(width: int, height: int, fps: int, codec_name: str, seconds: float) -> None:
    """Refuse (InputError, one line saying the limit and what would work) a frame size or rate
    the codec does not play or this machine's memory cannot render; `seconds` is the song's length."""
    if min(width, height) < MIN_SIDE or width % 2 or height % 2:
        raise InputError(f"resolution {width}x{height} must have even sides of at least {MIN_SIDE} pixels")
    if not 1 <= fps <= MAX_FPS:
        raise InputError(f"fps must be between 1 and {MAX_FPS}, got {fps}")
    codec = get_codec(codec_name)
    _check_codec(width, height, codec)
    _check_memory(width, height, fps, codec, seconds)


def _check_codec(width: int, height: int, codec: Codec) -> None:
    limits = codec.limits
    if limits.fits(width, height):
        return
    fitting = largest_like(width, height, limits.fits)
    example = ", so 8K (7680x4320) fits" if limits.fits(7680, 4320) else ""
    instead = (f"the largest frame of this shape is {fitting[0]}x{fitting[1]}" if fitting else
               f"keep each side within {limits.max_side} px")
    raise InputError(
        f"resolution {width}x{height} is larger than {codec.name} can play ({limits.level}: at most "
        f"{limits.max_side} px a side and {limits.max_samples / 1e6:.1f} megapixels a frame{example}): {instead}"
    )


def _check_memory(width: int, height: int, fps: int, codec: Codec, seconds: float) -> None:
    available = available_bytes()
    if available is None:  # the system does not say: only the codec's bound applies
        return
    cpus = usable_cpus()
    need = estimate_bytes(width, height, fps, codec, seconds, cpus)
    if need <= available:
        return

    def fits(w: int, h: int, rate: int = fps) -> bool:
        return estimate_bytes(w, h, rate, codec, seconds, cpus) <= available

    if (smaller := largest_like(width, height, fits)) is not None:
        instead = f"at most {smaller[0]}x{smaller[1]} fits now"
    elif (slower := next((rate for rate in range(fps - 1, 0, -1) if fits(width, height, rate)), None)) is not None:
        instead = f"at most {slower} fps fits at this size"
    elif fits(MIN_SIDE, MIN_SIDE, 1):
        instead = "lower both the frame size and the frame rate"
    else:
        instead = "no frame size or rate fits now"
    raise InputError(f"a {width}x{height} {codec.name} render at {fps} fps of {seconds:.0f} s needs about "
                     f"{_gb(need)} of memory and {_gb(available)} is available: {instead} (or free some memory)")


def largest_like(width: int, height: int, fits: Callable[[int, int], bool]) -> tuple[int, int] | None:
    """The largest frame of the same shape as width x height, no larger, with even sides of at
    least MIN_SIDE, for which `fits` holds (bisection on the scale); None when none does."""
    def at(scale: float) -> tuple[int, int]:
        return 2 * int(width * scale / 2), 2 * int(height * scale / 2)

    def ok(scale: float) -> bool:
        w, h = at(scale)
        return min(w, h) >= MIN_SIDE and fits(w, h)

    low, high = 0.0, 1.0
    for _ in range(48):
        middle = (low + high) / 2
        low, high = (middle, high) if ok(middle) else (low, middle)
    return at(low) if ok(low) else None


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB" if n >= 2**30 else f"{n / 2**20:.0f} MB"
