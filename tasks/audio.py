"""Audio helpers shared by the steps: ffmpeg location, decoding to numpy, WAV writing, probing."""

from __future__ import annotations

import functools
import re
import subprocess
import wave
from pathlib import Path

import numpy as np

from mvflow.files import atomic_path


@functools.cache
def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg (no system ffmpeg needed)."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode_audio(path: Path | str, sample_rate: int = 22050, mono: bool = True) -> np.ndarray:
    """Decode any audio file ffmpeg reads to float32 samples in [-1, 1].

    Returns shape (n,) for mono or (n, 2) for stereo.
    """
    channels = 1 if mono else 2
    cmd = [
        ffmpeg_exe(), "-v", "error", "-nostdin", "-i", str(path),
        "-f", "f32le", "-acodec", "pcm_f32le", "-ac", str(channels), "-ar", str(sample_rate), "-",
    ]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ValueError(f"cannot decode audio {path}: {proc.stderr.decode(errors='replace').strip()}")
    samples = np.frombuffer(proc.stdout, dtype=np.float32)
    return samples if mono else samples.reshape(-1, 2)


def write_wav(path: Path | str, samples: np.ndarray, sample_rate: int) -> None:
    """Write float samples ((n,) or (n, channels)) as 16-bit PCM WAV, atomically."""
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    pcm = (np.clip(data, -1.0, 1.0) * 32767.0).astype("<i2")
    with atomic_path(path) as tmp:
        with wave.open(str(tmp), "wb") as wf:
            wf.setnchannels(pcm.shape[1])
            wf.setsampwidth(2)
            wf.setframerate(sample_rate)
            wf.writeframes(pcm.tobytes())


def audio_duration(path: Path | str) -> float:
    """Duration in seconds: from a PCM WAV's header when the wave module reads it, else by decoding
    with ffmpeg (float or extensible WAV, mp3, flac, ...). ValueError for anything not audio."""
    p = Path(path)
    if p.suffix.lower() == ".wav":
        try:
            with wave.open(str(p), "rb") as wf:
                return wf.getnframes() / float(wf.getframerate())
        except (wave.Error, EOFError, ZeroDivisionError):
            pass  # not a PCM WAV the wave module reads (e.g. 32-bit float): ffmpeg decides
    proc = subprocess.run(
        [ffmpeg_exe(), "-v", "info", "-nostdin", "-i", str(p), "-f", "null", "-"],
        capture_output=True, check=False,
    )
    stderr = proc.stderr.decode(errors="replace")
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", stderr)
    if proc.returncode != 0 or "Audio:" not in stderr:
        raise ValueError(f"cannot read audio duration of {path}")
    if not times:
        return 0.0  # an audio stream with no samples
    h, m, s = times[-1]
    return int(h) * 3600 + int(m) * 60 + float(s)


def log_band_weights(freqs: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(len(centres), len(freqs)) triangular weights on a log-frequency axis, each band
    reaching its neighbours' centres (`centres` geometric, at least two). A band narrower than
    one bin still gets its nearest bin, so no band is dead. Rows are not normalised."""
    log_c = np.log(centres)
    step = (log_c[-1] - log_c[0]) / max(len(centres) - 1, 1)
    log_f = np.log(np.maximum(freqs, 1e-3))
    weights = np.clip(1.0 - np.abs(log_f[None, :] - log_c[:, None]) / step, 0.0, None)
    for b in np.flatnonzero(weights.sum(axis=1) == 0):
        weights[b, np.argmin(np.abs(freqs - centres[b]))] = 1.0
    return weights
