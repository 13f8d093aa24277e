"""ffmpeg/x264 encoding from a pipe of raw yuv420p frames, and stream probing.

The renderer hands over frames already in the encoder's pixel format, so ffmpeg only
encodes and muxes. A writer thread does the (GIL-free) pipe writes while the main thread
composites the next frame; a small ring of buffers decouples the two.
"""

from __future__ import annotations

import contextlib
import fcntl
import queue
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tasks.audio import ffmpeg_exe

_F_SETPIPE_SZ = 1031  # Linux fcntl: a 1 MiB pipe lets a writer hand over bigger chunks per wakeup

# The frames are BT.709 limited range (see yuv.py). Tag both the input and the output:
# tagging only the output makes ffmpeg insert a colour conversion from its default
# (BT.601) guess, which shifts every pixel and costs a swscale pass per frame.
_BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]


@dataclass(frozen=True)
class EncoderSettings:
    """x264/AAC settings. The defaults were chosen with benchmarks/render_speed.py.

    `veryfast` renders 1080p30 ~1.5x faster than `faster` and ~2x faster than `medium` on
    2 cores, for a luma PSNR against the source frames of ~51 dB vs 53-54 dB: all are
    visually lossless for lyric videos. Its motion search is then lowered (diamond,
    subme 1): the only motion here is bar tops moving straight up and down over a fixed
    backdrop, and that cut the encoder's CPU by ~20% at the same size and PSNR.
    """

    preset: str = "veryfast"
    crf: int = 20
    threads: int = 0  # 0: let x264 pick (1.5 x cores)
    x264_params: str = "me=dia:subme=1"  # extra "key=value:key=value" options for libx264
    audio_bitrate: str = "192k"


def encode_command(out_path: Path, width: int, height: int, fps: int, audio_path: Path | None,
                   settings: EncoderSettings = EncoderSettings()) -> list[str]:
    """The ffmpeg command reading yuv420p frames on stdin (and the audio file) into an MP4."""
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), *_BT709, "-i", "pipe:0",
    ]
    if audio_path is not None:
        cmd += ["-i", str(audio_path), "-map", "0:v:0", "-map", "1:a:0", "-c:a", "aac", "-b:a", settings.audio_bitrate]
    cmd += [
        "-c:v", "libx264", "-preset", settings.preset, "-crf", str(settings.crf), "-pix_fmt", "yuv420p", *_BT709,
    ]
    if settings.x264_params:
        cmd += ["-x264-params", settings.x264_params]
    if settings.threads:
        cmd += ["-threads", str(settings.threads)]
    cmd += ["-movflags", "+faststart", "-f", "mp4", str(out_path)]
    return cmd


class FrameSink:
    """Feeds frames to an ffmpeg process through a writer thread.

    Use as a context manager; `write` copies the frame into a free ring slot (so the
    caller may reuse its buffer at once) and returns; leaving the block waits for ffmpeg
    and raises RuntimeError with ffmpeg's own message if it failed.
    """

    def __init__(self, cmd: list[str], frame_bytes: int, depth: int = 3):
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self._proc.stdin.fileno(), _F_SETPIPE_SZ, 1 << 20)
        self._free: queue.Queue[np.ndarray] = queue.Queue()
        for _ in range(depth):
            self._free.put(np.empty(frame_bytes, dtype=np.uint8))
        self._full: queue.Queue[np.ndarray | None] = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._pump, name="ffmpeg-writer", daemon=True)
        self._thread.start()
        self.frames = 0

    def _pump(self) -> None:
        while (buf := self._full.get()) is not None:
            try:
                if self._error is None:
                    self._proc.stdin.write(memoryview(buf))
            except (BrokenPipeError, OSError) as exc:
                self._error = exc
            self._free.put(buf)

    def write(self, frame: np.ndarray) -> None:
        if self._error is not None:
            self._fail()
        slot = self._free.get()
        np.copyto(slot, frame.reshape(-1))
        self._full.put(slot)
        self.frames += 1

    def __enter__(self) -> FrameSink:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._full.put(None)
        self._thread.join()
        with contextlib.suppress(BrokenPipeError, OSError):
            self._proc.stdin.close()
        try:
            if exc_type is not None:  # the caller failed: do not leave a half-written encode running
                self._proc.kill()
                self._proc.wait()
            elif self._proc.wait() != 0 or self._error is not None:
                self._fail()
        finally:
            self._stderr.close()

    def _fail(self) -> None:
        """Raise ffmpeg's last words (it has exited, or is about to after a broken pipe)."""
        self._proc.wait()
        self._stderr.seek(0)
        message = self._stderr.read().decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"ffmpeg failed (exit {self._proc.returncode}): {' | '.join(message) or self._error}")


# ---------------------------------------------------------------- probing

_TB = re.compile(r"^#tb (\d+): (\d+)/(\d+)$")
_MEDIA = re.compile(r"^#media_type (\d+): (\w+)$")
_PACKET = re.compile(r"^\s*(\d+),\s*(-?\d+),\s*(-?\d+),\s*(\d+),")
_VIDEO_INFO = re.compile(r"Video: (\w+).*?, (\w+)(?:\([^)]*\))?, (\d+)x(\d+).*?, ([\d.]+) fps")
_AUDIO_INFO = re.compile(r"Audio: (\w+)")


def probe_streams(path: Path | str) -> dict:
    """Measure an MP4's streams: exact durations from its packets (audio after decoding).

    Returns video_duration, audio_duration (seconds, None if the stream is missing),
    video_frames, width, height, fps, video_codec, pix_fmt, audio_codec.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-map", "0:v:0?", "-map", "0:a:0?",
           "-c:v", "copy", "-c:a", "pcm_s16le", "-f", "framecrc", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ValueError(f"cannot probe {path}: {proc.stderr.decode(errors='replace').strip()[-300:]}")
    kinds, bases, spans, counts = {}, {}, {}, {}
    for line in proc.stdout.decode().splitlines():
        if m := _TB.match(line):
            bases[int(m[1])] = int(m[2]) / int(m[3])
        elif m := _MEDIA.match(line):
            kinds[int(m[1])] = m[2]
        elif m := _PACKET.match(line):
            idx, pts, dur = int(m[1]), int(m[3]), int(m[4])
            lo, hi = spans.get(idx, (pts, pts + dur))
            spans[idx] = (min(lo, pts), max(hi, pts + dur))
            counts[idx] = counts.get(idx, 0) + 1
    info: dict = {"video_duration": None, "audio_duration": None, "video_frames": 0}
    for idx, kind in kinds.items():
        if idx in spans:
            lo, hi = spans[idx]
            info[f"{kind}_duration"] = (hi - lo) * bases[idx]
            if kind == "video":
                info["video_frames"] = counts[idx]
    info.update(_stream_info(proc.stderr.decode(errors="replace")))
    return info


def _stream_info(stderr: str) -> dict:
    """Codec names, pixel format, size and rate from ffmpeg's description of its input."""
    info: dict = {"video_codec": None, "pix_fmt": None, "width": None, "height": None, "fps": None, "audio_codec": None}
    input_part = stderr.split("Output #0", 1)[0]
    if m := _VIDEO_INFO.search(input_part):
        info.update(video_codec=m[1], pix_fmt=m[2], width=int(m[3]), height=int(m[4]), fps=float(m[5]))
    if m := _AUDIO_INFO.search(input_part):
        info["audio_codec"] = m[1]
    return info
