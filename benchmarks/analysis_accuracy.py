"""How right and how fast is the song analysis? Checked against the built-in engine's own grid.

    python benchmarks/analysis_accuracy.py                 # 8 songs: tempos 72-150, 4/4 and 3/4
    python benchmarks/analysis_accuracy.py --seconds 60    # longer songs

For each song the built-in engine renders (it writes the bpm, bar length and sections it played
to result.json, and where each line was sung to placement.json), runs mvflow.analysis on the
audio with the sheet and the placed lines, and prints: the tempo found, how far the beats are
from the engine's beat grid (median and worst, ms), whether every bar line found is one of its
bar lines, how far the section boundaries are from its sections (worst, ms), and the analysis's
wall and CPU time. The last line sums up.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mvflow.analysis.analyse import analyse_audio  # noqa: E402
from mvflow.models import LyricLine, SongRequest  # noqa: E402
from mvflow.song.builtin.engine import generate_local_song  # noqa: E402

SHEET = """[Intro]
[Verse]
City lights are fading out
The road is calling me tonight
Engines humming soft and low
[Chorus]
WE ARE DRIVING THROUGH THE NIGHT
Neon dreams in silver light
[Verse 2]
Morning comes and still we ride
[Chorus]
WE ARE DRIVING THROUGH THE NIGHT
Neon dreams in silver light
[Outro]
"""
SONGS = [(72, "4", 1), (84, "3", 2), (100, "4", 3), (110, "4", 4), (120, "3", 5), (128, "4", 6), (140, "4", 7),
         (150, "4", 8)]


def off_grid(times: list[float], step: float) -> np.ndarray:
    t = np.asarray(times)
    return np.abs(t - np.round(t / step) * step)


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(u.ru_utime + u.ru_stime for u in usage)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=45.0)
    args = ap.parse_args()
    print(f"{'bpm':>4} {'meter':>5} {'found':>7} {'beat ms med/max':>16} {'bar lines':>9} {'sections ms':>11} "
          f"{'wall s':>6} {'CPU s':>6}")
    right, walls = 0, []
    for bpm, meter, seed in SONGS:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            song = generate_local_song(SongRequest(caption="synthwave", lyrics=SHEET, duration=args.seconds, bpm=bpm,
                                                   time_signature=meter, seed=seed), folder)
            result = json.loads(Path(song.result.path).read_text())
            lines = [LyricLine(text=p["text"], start=p["start"], end=p["end"])
                     for p in json.loads((folder / "placement.json").read_text())]
            c0, t0 = cpu(), time.perf_counter()
            analysis = analyse_audio(folder / "song.wav", folder, SHEET, lines, meter)
            wall, used = time.perf_counter() - t0, cpu() - c0
        beats = off_grid(analysis.beats, 60.0 / bpm) * 1000
        bars_ok = off_grid(analysis.downbeats, result["bar_seconds"]).max() < 0.05
        played = [s["start"] for s in result["arrangement"]["sections"]]
        section_ms = max(min(abs(s.start - p) for p in played) for s in analysis.sections) * 1000
        ok = abs(analysis.tempo - bpm) < 0.01 * bpm and beats.max() < 50 and bars_ok and section_ms < 50
        right += ok
        walls.append(wall)
        print(f"{bpm:>4} {meter:>5} {analysis.tempo:7.2f} {np.median(beats):7.1f}/{beats.max():<8.1f} "
              f"{'all' if bars_ok else 'OFF':>9} {section_ms:11.1f} {wall:6.2f} {used:6.2f}")
    print(f"{right}/{len(SONGS)} songs right (tempo within 1%, beats within 50 ms, every bar line, sections within "
          f"50 ms); analysis {np.median(walls):.2f} s median wall for {args.seconds:.0f} s of music")


if __name__ == "__main__":
    main()
