"""Batch versus one-at-a-time: 10 short offline songs as one `mvflow batch`, and as 10 `mvflow make` runs.

    python benchmarks/batch_throughput.py                 # 10 songs of 8 s, 256x144 @ 12 fps
    python benchmarks/batch_throughput.py --songs 4 --seconds 5

Both sides run the same requests (captions, lyrics files, settings) into fresh temporary
output folders (nothing cached), as separate `mvflow` processes, against the same local
`prefect server start` that this script starts (so neither pays for a temporary server per
process). One short `mvflow make` warms the disk cache and the database first and is not
counted. Prints both wall times and batch / sequential. The machine is shared: the load
average is printed before and after, and numbers move with it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from local_prefect import client_env, prefect_server  # noqa: E402

MVFLOW = str(Path(sys.executable).parent / "mvflow")
STYLES = ["dreamy synthwave", "lofi hip hop", "acoustic folk", "epic rock", "jazz trio", "deep house",
          "piano ballad", "funk groove", "ambient drone", "pop punk"]
WORDS = ["city lights", "morning rain", "open road", "silver moon", "summer heat", "ocean waves",
         "paper planes", "neon signs", "quiet streets", "falling stars"]


def songs(count: int, folder: Path) -> list[dict]:
    """Requests with lyrics (so whisper runs): each one's lyrics in a file both sides read."""
    requests = []
    for i in range(count):
        lyrics = folder / f"lyrics-{i + 1:02d}.txt"
        lyrics.write_text(f"[Verse]\n{WORDS[i % 10].title()} are calling me\nSing it {i + 1} times tonight\n")
        requests.append({"title": f"Song {i + 1:02d}", "caption": f"{STYLES[i % 10]}, female vocal",
                         "lyrics_file": str(lyrics)})
    return requests


def make_args(song: dict, settings: dict, out: Path) -> list[str]:
    return [MVFLOW, "make", "--caption", song["caption"], "--lyrics", song["lyrics_file"], "--title", song["title"],
            "--duration", str(settings["duration"]), "--resolution", settings["resolution"], "--fps",
            str(settings["fps"]), "--transcriber", settings["transcriber"], "-o", str(out)]


def run(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed:\n{result.stderr[-2000:]}")
    return time.perf_counter() - started


def sequential(requests: list[dict], settings: dict, env: dict[str, str], folder: Path) -> float:
    return sum(run(make_args(song, settings, folder / "sequential"), env, folder) for song in requests)


def batch(requests: list[dict], settings: dict, env: dict[str, str], folder: Path) -> float:
    path = folder / "songs.yaml"
    path.write_text(yaml.safe_dump({"name": "throughput", "defaults": settings, "songs": requests}))
    return run([MVFLOW, "batch", str(path), "-o", str(folder / "batch")], env, folder)


def song_arguments(doc: str, songs: int, seconds: float) -> argparse.ArgumentParser:
    """The options every batch benchmark takes: how many songs, how long, and the video size."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=songs)
    parser.add_argument("--seconds", type=float, default=seconds, help="length of each song")
    parser.add_argument("--resolution", default="256x144")
    parser.add_argument("--fps", type=int, default=12)
    return parser


def main() -> int:
    parser = song_arguments(__doc__, 10, 8.0)
    parser.add_argument("--batch-first", action="store_true", help="run the batch before the sequential runs")
    args = parser.parse_args()
    settings = {"duration": args.seconds, "resolution": args.resolution, "fps": args.fps, "transcriber": "local"}
    print(f"{args.songs} songs of {args.seconds:g} s at {args.resolution}@{args.fps}, lyrics timed by local whisper; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="mvflow-throughput-") as tmp, prefect_server() as api_url:
        folder = Path(tmp)
        env = client_env(api_url)
        requests = songs(args.songs, folder)
        run(make_args({**requests[0], "title": "Warm Up"}, {**settings, "duration": 2}, folder / "warmup"), env, folder)
        order = [("batch", batch), ("sequential", sequential)]
        times = {name: fn(requests, settings, env, folder) for name, fn in (order if args.batch_first else order[::-1])}
    print(f"sequential ({args.songs} x mvflow make): {times['sequential']:7.1f} s "
          f"({times['sequential'] / args.songs:.1f} s per song)")
    print(f"batch      (1 x mvflow batch):  {times['batch']:7.1f} s ({times['batch'] / args.songs:.1f} s per song)")
    print(f"batch / sequential = {times['batch'] / times['sequential']:.2f}   (load now {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
