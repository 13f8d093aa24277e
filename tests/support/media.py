"""Test helpers that look at real output: decode MP4s and read LRC files independently of mvflow's code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np

from mvflow.audio import decode_audio, ffmpeg_exe

LRC_STAMP = re.compile(r"^\[(\d+):(\d{2}(?:\.\d+)?)\](.*)$")


def video_frames(path: Path, size: tuple[int, int] = (32, 18), fps: float | None = None) -> np.ndarray:
    """Decode every video frame, downscaled to `size`, as (n, h, w, 3) uint8."""
    w, h = size
    vf = f"scale={w}:{h}" + (f",fps={fps}" if fps else "")
    out = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-vf", vf,
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True,
    ).stdout
    return np.frombuffer(out, dtype=np.uint8).reshape(-1, h, w, 3)


def frame_at(path: Path, seconds: float, out_png: Path | None = None) -> np.ndarray:
    """One full-size frame at `seconds` (optionally saved as PNG to look at)."""
    cmd = [ffmpeg_exe(), "-v", "error", "-ss", f"{seconds:.3f}", "-i", str(path), "-frames:v", "1"]
    if out_png is not None:
        subprocess.run([*cmd, "-y", str(out_png)], check=True, capture_output=True)
    probe = subprocess.run([ffmpeg_exe(), "-i", str(path)], capture_output=True).stderr.decode()
    w, h = map(int, re.search(r"Video: .*?, (\d{2,5})x(\d{2,5})", probe).groups())
    raw = subprocess.run([*cmd, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)


def stream_durations(path: Path, fps: float) -> tuple[float, float]:
    """(video seconds from decoded frame count, audio seconds from decoded samples)."""
    frames = len(video_frames(path))
    audio = decode_audio(path, sample_rate=8000, mono=True)
    return frames / fps, len(audio) / 8000.0


def read_lrc(path: Path) -> list[tuple[float, str]]:
    """[(seconds, text)] of the timed lines, skipping metadata tags such as [ti:...] and the
    empty stamped lines that mark where a line ends before a gap."""
    lines = []
    for raw in Path(path).read_text(encoding="utf-8").splitlines():
        m = LRC_STAMP.match(raw.strip())
        if m and m.group(3).strip():
            lines.append((int(m.group(1)) * 60 + float(m.group(2)), m.group(3).strip()))
    return lines
