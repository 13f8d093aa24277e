"""How long the built-in engine takes to make a song (default: 60 s with 8 sung lines).

    python benchmarks/engine_speed.py [--duration 60] [--repeats 3]

Prints each run's wall time and the real-time factor; nothing is asserted (speed belongs here,
not in the test suite).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from mvflow.models import SongRequest
from mvflow.song.builtin.engine import generate_local_song

LYRICS = ("[Verse]\n" + "\n".join(["we were young and we were running free"] * 4)
          + "\n[Chorus]\n" + "\n".join(["sing it loud until the sky turns gold"] * 4))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = []
    for k in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            generate_local_song(SongRequest(caption="pop", lyrics=LYRICS, duration=args.duration, seed=21 + k),
                                Path(tmp))
            times.append(time.perf_counter() - start)
        speed = args.duration / times[-1]
        print(f"run {k + 1}: {args.duration:.0f} s song in {times[-1]:.2f} s ({speed:.1f}x real time)")
    print(f"best {min(times):.2f} s, median {sorted(times)[len(times) // 2]:.2f} s")


if __name__ == "__main__":
    main()
