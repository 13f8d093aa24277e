"""How long the built-in engine takes to make a song (default: 60 s with 8 lines), per mix.

    python benchmarks/engine_speed.py [--duration 60] [--repeats 3] [--case default|sung-dense|all]

Two cases: `default` (spoken vocals, light mix: the engine's defaults) and `sung-dense` (the
produced-sounding path of `mvflow make --vocal-style sung --mix dense --skip-lines 2`: sung
notes with vibrato and melismas, a band as loud as the voice, room reverb). Prints each run's
wall time and the real-time factor; nothing is asserted (speed belongs here, not in the test suite).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mvflow.models import SongRequest
from mvflow.song.builtin.engine import generate_local_song

LYRICS = ("[Verse]\n" + "\n".join(["we were young and we were running free"] * 4)
          + "\n[Chorus]\n" + "\n".join(["sing it loud until the sky turns gold"] * 4))

#: engine_options per case (what the CLI's --vocal-style/--mix/--skip-lines put there).
CASES = {
    "default": {},
    "sung-dense": {"vocal_style": "sung", "mix": "dense", "skip_lines": [2]},
}


def time_case(name: str, duration: float, repeats: int) -> list[float]:
    """Wall seconds of `repeats` songs of one case (a different seed each run)."""
    times = []
    for k in range(repeats):
        request = SongRequest(caption="pop", lyrics=LYRICS, duration=duration, seed=21 + k,
                              engine_options=CASES[name])
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            generate_local_song(request, Path(tmp))
            times.append(time.perf_counter() - start)
        print(f"{name} run {k + 1}: {duration:.0f} s song in {times[-1]:.2f} s "
              f"({duration / times[-1]:.1f}x real time)")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--case", choices=[*CASES, "all"], default="all")
    args = parser.parse_args()
    for name in CASES if args.case == "all" else [args.case]:
        times = time_case(name, args.duration, args.repeats)
        print(f"{name}: best {min(times):.2f} s, median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
