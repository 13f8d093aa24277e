"""A part of the song as its own video: the clipped audio with fades, and the lyrics on its clock.

The renderer sees a clip as a shorter song: the audio is cut and faded into a temporary WAV
(the encoder muxes it, the visualisers read it), the timed lines are moved to the clip's
clock, and the picture fades (mvflow.render.motion.FrameFinish) match the sound's.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mvflow.audio import decode_audio, write_wav
from mvflow.models import Clip, LyricLine

CLIP_RATE = 44100


def faded(samples: np.ndarray, rate: int, fade_in: float, fade_out: float) -> np.ndarray:
    """`samples` ((n,) or (n, ch)) with equal-power fades in and out (sine-shaped: no click, no dip)."""
    out = np.array(samples, dtype=np.float32, copy=True)
    n = len(out)
    for seconds, at_start in ((fade_in, True), (fade_out, False)):
        k = min(n, int(round(seconds * rate)))
        if k <= 0:
            continue
        ramp = np.sin(0.5 * np.pi * (np.arange(k) + 0.5) / k).astype(np.float32)
        ramp = ramp if at_start else ramp[::-1]
        part = out[:k] if at_start else out[n - k :]
        part *= ramp[:, None] if out.ndim == 2 else ramp
    return out


@contextmanager
def clipped_audio(audio_path: Path, clip: Clip | None) -> Iterator[Path]:
    """The audio to render: `audio_path` itself, or the clip cut and faded into a temporary WAV."""
    if clip is None:
        yield Path(audio_path)
        return
    samples = decode_audio(audio_path, CLIP_RATE, mono=False)
    first, last = int(round(clip.start * CLIP_RATE)), int(round(clip.end * CLIP_RATE))
    part = faded(samples[first:last], CLIP_RATE, clip.fade_in, clip.fade_out)
    with tempfile.TemporaryDirectory(prefix="mvflow-clip-") as folder:
        path = Path(folder) / "clip.wav"
        write_wav(path, part, CLIP_RATE)
        yield path


def clip_lines(lines: list[LyricLine], clip: Clip | None) -> list[LyricLine]:
    """The lines sung inside the clip, with the words sung inside it, on its clock (times cut by
    its edges are clamped to them)."""
    if clip is None:
        return lines
    return [line.model_copy(update={"words": [w for w in line.words if w.end > clip.start and w.start < clip.end]})
            .shifted(-clip.start, clip.duration)
            for line in lines if line.end > clip.start and line.start < clip.end]
