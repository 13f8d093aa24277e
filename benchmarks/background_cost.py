"""What each background treatment costs per frame: the same song rendered with each `--background`.

    python benchmarks/background_cost.py [--seconds 15] [--resolution 1080p] [--style classic]

Renders the synthetic song of render_speed.py (word-timed lyrics, a cover) once per
treatment — cover (sharp, still), blur (still), pan (Ken Burns drift over an oversized
copy), zoom (slow zoom, resampled 10 times a second) and gradient (no cover, drifting
colour wash) — and prints wall time and the CPU milliseconds per frame spent in Python
(compositing) and in ffmpeg (x264 encoding), which is where a moving backdrop costs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from render_speed import synthetic_cover, synthetic_lines, synthetic_song, timed  # noqa: E402

from mvflow.cli.video_options import BACKGROUNDS, build_render_options  # noqa: E402
from mvflow.render.video import render_music_video  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--resolution", default="1080p")
    ap.add_argument("--style", default="classic")
    ap.add_argument("--backgrounds", default=",".join(BACKGROUNDS))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synthetic_song(tmp / "song.wav", args.seconds)
        synthetic_cover(tmp / "cover.png")
        lines = synthetic_lines(args.seconds)
        for background in args.backgrounds.split(","):
            options = build_render_options(style=args.style, resolution=args.resolution, background=background)
            frames = round(args.seconds * options.fps)
            out = tmp / f"{background}.mp4"
            run = timed(lambda: render_music_video(tmp / "song.wav", lines, tmp / "cover.png", "Benchmark Song",
                                                   out, options, subtitle="mvflow"))
            python_ms, ffmpeg_ms = 1000 * run.python_cpu / frames, 1000 * run.ffmpeg_cpu / frames
            print(f"{background:>9}: {options.width}x{options.height}  {run.wall:6.2f} s wall "
                  f"({args.seconds / run.wall:4.2f}x real time)  per frame: python {python_ms:5.1f} ms"
                  f" + ffmpeg {ffmpeg_ms:5.1f} ms CPU  {out.stat().st_size / 1e6:5.1f} MB")


if __name__ == "__main__":
    main()
