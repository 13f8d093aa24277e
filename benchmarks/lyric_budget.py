"""How many sung lines the songwriting checks allow, and whether the built-in engine really sings them all.

    python benchmarks/lyric_budget.py [--duration 30]

For each tempo and meter: the most lines of an 8-10 syllable verse/chorus sheet that pass
mvflow.songwriting.checks (the lyric budget), then the built-in engine generates that sheet, and
one, two and four lines more, and reports how many lines it could not sing (`unsung_lines` in its
result). The budget is meant to be comfortable: every line at the budget is sung, and the engine's
tight phrasing is the only reason a few more may still fit. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from mvflow.models import SongIdea, SongRequest
from mvflow.song.builtin.engine import generate_local_song
from mvflow.songwriting.checks import problems

LINES = ("City lights are fading in the mirror", "Engine hums a song I used to know",
         "Every road is leading back to you", "Drive on, drive on, the neon highway", "We never have to slow",
         "Hold the wheel and let the night begin", "Radio is playing something old",
         "Silver rain is falling on the glass")
CASES = ((70, "4"), (100, "4"), (140, "4"), (90, "3"), (120, "6"))


def sheet(lines: int) -> str:
    sung = [LINES[i % len(LINES)] for i in range(lines)]
    half = lines // 2
    return "[Intro]\n\n[Verse]\n" + "\n".join(sung[:half]) + "\n\n[Chorus]\n" + "\n".join(sung[half:]) + "\n\n[Outro]"


def budget(bpm: int, meter: str, duration: float) -> int:
    """The most lines (2 or more) the checks accept for this song."""
    most = 0
    for lines in range(2, 200):
        plan = {"title": "t", "caption": "synth pop", "lyrics": sheet(lines), "bpm": bpm, "key_scale": "A minor",
                "time_signature": meter, "duration": duration, "language": "en"}
        if problems(plan, SongIdea(idea="benchmark"))[0]:
            return most
        most = lines
    return most


def unsung(bpm: int, meter: str, duration: float, lines: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        request = SongRequest(caption="synth pop", lyrics=sheet(lines), duration=duration, bpm=bpm,
                              key_scale="A minor", time_signature=meter, seed=1)
        song = generate_local_song(request, Path(folder))
        return len(json.loads(Path(song.result.path).read_text())["unsung_lines"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()
    print(f"{args.duration:g} s songs | bpm | meter | lines the checks allow | unsung at +0 / +1 / +2 / +4 lines")
    for bpm, meter in CASES:
        started = time.perf_counter()
        most = budget(bpm, meter, args.duration)
        missed = [unsung(bpm, meter, args.duration, most + extra) for extra in (0, 1, 2, 4)]
        print(f"| {bpm} | {meter} | {most} | {' / '.join(map(str, missed))} | ({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
