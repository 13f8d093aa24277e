"""The analysis step's plain-Python core: a song's audio (+ its lyric sheet and timed lines) ->
tempo, beats, bar lines, sections and envelopes, written to analysis.json.

No Prefect here; the step's @task in tasks/analysis/__init__.py wraps `analyse_audio`. Costs a
fraction of a second per minute of music on one core (numpy: one FFT pass, one dynamic program;
`python benchmarks/analysis_accuracy.py` measures it beside the accuracy).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mvflow.analysis.beats import (
    downbeat_phase,
    normalised_onset,
    refined_tempo,
    settle_octave,
    tempo_period,
)
from mvflow.analysis.onsets import FRAME_RATE, SAMPLE_RATE, Features, features
from mvflow.analysis.sections import sections_from_audio, sections_from_lyrics, with_energy
from mvflow.audio import decode_audio
from mvflow.files import write_text_atomic
from mvflow.models import FileArtifact, LyricLine, SongAnalysis

#: The rate the envelopes are stored at in analysis.json (values a second).
ENVELOPE_RATE = 50


def beats_per_bar(time_signature: str | None) -> int:
    """Beats per bar for the tracker's (quarter-note) beats: '4' -> 4, '3' -> 3, '6' (6/8) -> 3."""
    text = (time_signature or "4").strip().split("/")[0]
    count = int(text) if text.isdigit() else 4
    return 3 if count == 6 else max(1, min(count, 12))


def envelope(values: np.ndarray, duration: float, rate: int = ENVELOPE_RATE) -> np.ndarray:
    """Per-frame `values` resampled to `rate` a second over `duration` (linear interpolation)."""
    times = np.arange(int(np.ceil(duration * rate))) / rate
    return np.interp(times, np.arange(len(values)) / FRAME_RATE, values)


def extended_downbeats(beats: np.ndarray, phase: int, per_bar: int, duration: float) -> np.ndarray:
    """Bar lines: every per_bar-th beat from `phase`, continued at the same bar length over the
    song's untracked ends (an intro before the first beat, a fade after the last)."""
    downbeats = beats[phase::per_bar]
    if len(downbeats) < 2:
        return downbeats
    bar = float(np.median(np.diff(downbeats)))
    before = np.arange(downbeats[0] - bar, -0.5 * bar, -bar)[::-1]
    after = np.arange(downbeats[-1] + bar, duration - 0.25 * bar, bar)
    return np.concatenate([before[before >= -1e-3].clip(0.0), downbeats, after])


def analyse_audio(audio_path: Path, out_dir: Path, lyrics: str = "", lines: list[LyricLine] | None = None,
                  time_signature: str | None = None) -> SongAnalysis:
    """Analyse `audio_path` and write analysis.json into `out_dir`.

    `lyrics` is the sheet that was sung (section tags), `lines` the timed lines; without tags
    (or timed lines) the sections come from the audio. `time_signature` (the song's, when the
    engine reports one) fixes the beats per bar; 4 otherwise.
    """
    samples = decode_audio(audio_path, SAMPLE_RATE)
    duration = len(samples) / SAMPLE_RATE
    feats = features(samples)
    onset = normalised_onset(feats.onset)
    period, beat_frames = settle_octave(onset, tempo_period(onset))
    beats = beat_frames / FRAME_RATE
    tempo = refined_tempo(beats, 60.0 * FRAME_RATE / period)
    per_bar = beats_per_bar(time_signature)
    starts = np.array([line.start for line in lines or []])
    phase = downbeat_phase(beat_frames, feats, per_bar, starts)
    downbeats = extended_downbeats(beats, phase, per_bar, duration)
    sections = sections_from_lyrics(lyrics, lines or [], downbeats, 60.0 / tempo, duration)
    source = "lyrics"
    if not sections:
        sections, source = sections_from_audio(feats, downbeats, duration), "audio"
    sections = with_energy(sections, feats)
    record = {
        "tempo": round(tempo, 3), "beats_per_bar": per_bar, "duration": round(duration, 3),
        "beats": [round(float(b), 4) for b in beats], "downbeats": [round(float(d), 4) for d in downbeats],
        "sections": [s.model_dump() for s in sections], "sections_from": source,
        **envelopes_record(feats, onset, duration),
    }
    file = write_text_atomic(Path(out_dir) / "analysis.json", json.dumps(record, indent=1) + "\n")
    return SongAnalysis(tempo=record["tempo"], beats_per_bar=per_bar, beats=record["beats"],
                        downbeats=record["downbeats"], sections=sections, sections_from=source,
                        duration=record["duration"], file=file)


def envelopes_record(feats: Features, onset: np.ndarray, duration: float) -> dict:
    """The envelopes analysis.json keeps: onset strength (0-1) and loudness (dB) at ENVELOPE_RATE."""
    strength = envelope(onset, duration)
    strength = strength / strength.max() if strength.size and strength.max() > 0 else strength
    return {
        "envelope_rate": ENVELOPE_RATE,
        "onset_strength": [round(float(v), 3) for v in strength],
        "loudness_db": [round(float(v), 2) for v in envelope(feats.loudness_db, duration)],
    }


def read_envelopes(file: FileArtifact | Path) -> dict[str, np.ndarray]:
    """The envelopes of an analysis.json as arrays (and their rate under "rate")."""
    path = Path(file.path) if isinstance(file, FileArtifact) else Path(file)
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"rate": np.array(data["envelope_rate"]), "onset_strength": np.array(data["onset_strength"]),
            "loudness_db": np.array(data["loudness_db"])}
