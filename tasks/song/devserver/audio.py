"""Audio work of the built-in ACE-Step server: file formats, and stand-ins for cover and repaint.

Like upstream, every file is written at 48 kHz (ACE-Step's VAE decodes at 48 kHz and its
saver writes that rate), in the format asked: mp3, wav (16-bit), flac, and at later releases
opus, aac and wav32 (32-bit float WAV, suffix .wav).

The built-in engine only generates from text. Cover and repaint edit an uploaded source,
which needs ACE-Step's DiT; the built-in server approximates them so the upload path can
be exercised: a cover blends the source (weighted by audio_cover_strength) with a newly
generated song as long as the source; a repaint keeps the source and replaces [start, end)
with new audio (keeping some of the source there when a repaint mode says so), with short
crossfades at both seams.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from mvflow.audio import decode_audio, ffmpeg_exe, write_wav
from mvflow.files import atomic_path

SAMPLE_RATE = 48000
CROSSFADE_S = 0.05
#: ffmpeg arguments per audio_format (the container follows from the suffix).
CODEC_ARGS = {"mp3": ["-codec:a", "libmp3lame", "-b:a", "128k"], "flac": ["-codec:a", "flac"],
              "wav": ["-codec:a", "pcm_s16le"], "wav32": ["-codec:a", "pcm_f32le"],
              "opus": ["-codec:a", "libopus", "-b:a", "128k"], "aac": ["-codec:a", "aac", "-b:a", "192k"]}
#: The file suffix of each format (wav32 is a .wav).
SUFFIXES = {"wav32": "wav"}


def suffix_of(fmt: str) -> str:
    return SUFFIXES.get(fmt, fmt)


def encode_audio(wav: Path, dest: Path, fmt: str) -> Path:
    """Write `wav` to `dest` in `fmt` at 48 kHz (ffmpeg), atomically."""
    with atomic_path(dest) as tmp:
        cmd = [ffmpeg_exe(), "-v", "error", "-nostdin", "-y", "-i", str(wav), "-ar", str(SAMPLE_RATE),
               *CODEC_ARGS[fmt], "-f", "adts" if fmt == "aac" else ("ogg" if fmt == "opus" else suffix_of(fmt)),
               str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"ffmpeg could not encode {fmt}: {proc.stderr.decode(errors='replace')[-300:]}")
    return dest


def load(path: Path) -> np.ndarray:
    """Any audio file as float32 stereo (n, 2) at SAMPLE_RATE."""
    return decode_audio(path, SAMPLE_RATE, mono=False)


def save(path: Path, samples: np.ndarray) -> Path:
    write_wav(path, samples, SAMPLE_RATE)
    return path


def _fit(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad to `length` frames."""
    if len(samples) >= length:
        return samples[:length]
    return np.concatenate([samples, np.zeros((length - len(samples), samples.shape[1]), samples.dtype)])


def cover_mix(source: np.ndarray, generated: np.ndarray, strength: float) -> np.ndarray:
    """The generated song over the source; strength 1 keeps most of the source, 0 none of it."""
    weight = 0.7 * float(np.clip(strength, 0.0, 1.0))
    mixed = weight * _fit(source, len(generated)) + (1.0 - weight) * generated
    return np.clip(mixed, -1.0, 1.0).astype(np.float32)


def repaint_splice(source: np.ndarray, generated: np.ndarray, start_s: float, end_s: float,
                   keep_source: float = 0.0) -> np.ndarray:
    """The source with [start_s, end_s) replaced by `generated` (end <= 0 means to the end); `keep_source`
    (0..1) of the source stays in the region."""
    start = int(np.clip(start_s, 0, len(source) / SAMPLE_RATE) * SAMPLE_RATE)
    end = len(source) if end_s is None or end_s <= 0 else int(min(end_s * SAMPLE_RATE, len(source)))
    if end <= start:
        raise ValueError(f"repaint region {start_s}-{end_s} s is empty for a {len(source) / SAMPLE_RATE:.1f} s source")
    out = source.copy()
    region = (1.0 - keep_source) * _fit(generated, end - start) + keep_source * source[start:end]
    fade = min(int(CROSSFADE_S * SAMPLE_RATE), (end - start) // 2)
    ramp = np.ones(end - start, np.float32)
    if fade:
        ramp[:fade] = np.linspace(0.0, 1.0, fade)
        ramp[-fade:] = np.minimum(ramp[-fade:], np.linspace(1.0, 0.0, fade))
    out[start:end] = region * ramp[:, None] + source[start:end] * (1.0 - ramp[:, None])
    return out
