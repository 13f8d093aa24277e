"""ffmpeg encoding (H.264, H.265, VP9) from a pipe of raw yuv420p frames, and stream probing.

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

from mvflow.audio import ffmpeg_exe
from mvflow.render.codecs import check_quality, get_codec

_F_SETPIPE_SZ = 1031  # Linux fcntl: a 1 MiB pipe lets a writer hand over bigger chunks per wakeup

# The frames are BT.709 limited range (see yuv.py). Tag both the input and the output:
# tagging only the output makes ffmpeg insert a colour conversion from its default
# (BT.601) guess, which shifts every pixel and costs a swscale pass per frame.
_BT709 = ["-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]


@dataclass(frozen=True)
class EncoderSettings:
    """Video/audio encoder settings. The defaults are `--codec h264 --quality standard`.

    H.264's defaults were chosen with benchmarks/render_speed.py: `veryfast` renders
    1080p30 ~1.5x faster than `faster` and ~2x faster than `medium` on 2 cores, for a luma
    PSNR against the source frames of ~51 dB vs 53-54 dB: all are visually lossless for
    lyric videos. Its motion search is then lowered (diamond, subme 1): the only motion
    here is bar tops moving straight up and down over a fixed backdrop, and that cut the
    encoder's CPU by ~20% at the same size and PSNR.

    `video_kbps` set means two-pass average-bitrate encoding (--max-size) instead of crf.
    """

    codec: str = "h264"
    preset: str = "veryfast"  # x264/x265 --preset; VP9: libvpx deadline (realtime | good)
    crf: int = 20
    threads: int = 0  # 0: let the encoder pick
    x264_params: str = "me=dia:subme=1"  # extra "key=value:key=value" options for libx264/libx265
    audio_bitrate: str = "192k"
    cpu_used: int = 0  # VP9 only: libvpx speed, higher is faster
    video_kbps: int | None = None

    @classmethod
    def for_quality(cls, codec: str = "h264", quality: str = "standard", video_kbps: int | None = None,
                    audio_bitrate: str = "192k") -> EncoderSettings:
        """The settings of a `--quality` preset (see codecs.CODECS), optionally at a two-pass bitrate."""
        spec = check_quality(get_codec(codec), quality)
        return cls(codec=codec, preset=spec.preset, crf=spec.crf, x264_params=spec.params, cpu_used=spec.cpu_used,
                   video_kbps=video_kbps, audio_bitrate=audio_bitrate)

    @property
    def two_pass(self) -> bool:
        return self.video_kbps is not None


def encode_command(out_path: Path, width: int, height: int, fps: int, audio_path: Path | None,
                   settings: EncoderSettings = EncoderSettings(), pass_no: int = 0,
                   passlog: Path | None = None) -> list[str]:
    """The ffmpeg command reading yuv420p frames on stdin (and the audio file) into the codec's container.

    pass_no 1 or 2 (with `passlog`, the stats file prefix) runs one pass of a two-pass
    encode at settings.video_kbps; pass 1 writes no file and reads no audio.
    """
    codec = get_codec(settings.codec)
    cmd = [
        ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), *_BT709, "-i", "pipe:0",
    ]
    if audio_path is not None and pass_no != 1:
        cmd += ["-i", str(audio_path), "-map", "0:v:0", "-map", "1:a:0",
                "-c:a", codec.audio_encoder, "-b:a", settings.audio_bitrate]
        if settings.two_pass and codec.audio_encoder == "libopus":
            cmd += ["-vbr", "off"]  # a size budget needs the bitrate exact: VBR Opus overshot it by 13%
    cmd += ["-c:v", codec.encoder, "-pix_fmt", "yuv420p", *_BT709,
            *_VIDEO_ARGS[codec.encoder](settings, pass_no, passlog)]
    if settings.threads:
        cmd += ["-threads", str(settings.threads)]
    if codec.tag:
        cmd += ["-tag:v", codec.tag]
    if pass_no == 1:
        return [*cmd, "-an", "-f", "null", "-"]
    if codec.container == "mp4":
        cmd += ["-movflags", "+faststart"]
    return [*cmd, "-f", codec.container, str(out_path)]


def _rate_args(settings: EncoderSettings) -> list[str]:
    return ["-b:v", f"{settings.video_kbps}k"] if settings.two_pass else ["-crf", str(settings.crf)]


def _x264_args(settings: EncoderSettings, pass_no: int, passlog: Path | None) -> list[str]:
    args = ["-preset", settings.preset, *_rate_args(settings)]
    if settings.x264_params:
        args += ["-x264-params", settings.x264_params]
    if pass_no:  # pass 1 runs with x264's fast first-pass settings (ffmpeg's default)
        args += ["-pass", str(pass_no), "-passlogfile", str(passlog)]
    return args


def _x265_args(settings: EncoderSettings, pass_no: int, passlog: Path | None) -> list[str]:
    params = ["log-level=error"] + ([settings.x264_params] if settings.x264_params else [])
    if pass_no:  # libx265 takes its pass options in x265-params only
        params += [f"pass={pass_no}", f"stats={passlog}.x265"]
    return ["-preset", settings.preset, *_rate_args(settings), "-x265-params", ":".join(params)]


def _vp9_args(settings: EncoderSettings, pass_no: int, passlog: Path | None) -> list[str]:
    # row-mt + tile columns let libvpx use both cores. libvpx's realtime deadline is one-pass
    # only, so a two-pass encode runs at 'good' (its cpu-used caps at 5 there).
    deadline = "good" if pass_no else settings.preset
    args = ["-deadline", deadline, "-cpu-used", str(settings.cpu_used), "-row-mt", "1", "-tile-columns", "2"]
    if not settings.two_pass:
        return [*args, "-crf", str(settings.crf), "-b:v", "0"]  # -b:v 0: constant quality, no bitrate cap
    return [*args, *_rate_args(settings), "-pass", str(pass_no), "-passlogfile", str(passlog)]


_VIDEO_ARGS = {"libx264": _x264_args, "libx265": _x265_args, "libvpx-vp9": _vp9_args}


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
    """Measure a video file's streams (MP4 or WebM): exact durations from its packets (audio after decoding).

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
