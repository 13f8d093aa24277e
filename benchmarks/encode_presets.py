"""Size, speed and quality of every --codec x --quality preset, and of --max-size, on one clip.

    nice python benchmarks/encode_presets.py                       # 10 s at 1920x1080, every preset
    nice python benchmarks/encode_presets.py --seconds 20 --codecs h264 vp9 --qualities standard
    nice python benchmarks/encode_presets.py --max-size 2 --codecs h264 h265 vp9

Renders the synthetic song, lyrics and cover of benchmarks/render_speed.py through the
real renderer (render_music_video) once per setting, and prints wall seconds, times real
time, CPU seconds (this process + ffmpeg: steadier than wall time on a shared machine),
file size, bitrate, and the luma PSNR of the decoded video against the compositor's frames.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from render_speed import (  # noqa: E402
    SUBTITLE,
    TITLE,
    Inputs,
    synthetic_cover,
    synthetic_lines,
    synthetic_song,
    timed,
    y_psnr,
)

from mvflow.models import RenderOptions  # noqa: E402
from mvflow.render.codecs import CODECS, QUALITIES  # noqa: E402
from mvflow.render.encoder import probe_streams  # noqa: E402
from mvflow.render.video import render_music_video  # noqa: E402


def run_one(inputs: Inputs, options: RenderOptions, out: Path, psnr: bool) -> str:
    run = timed(lambda: render_music_video(inputs.audio, inputs.lines, inputs.cover, TITLE, out, options,
                                           subtitle=SUBTITLE))
    info = probe_streams(out)
    seconds = info["video_duration"]
    size = out.stat().st_size
    quality = f"{y_psnr(out, inputs):9.2f}" if psnr else f"{'-':>9}"
    target = f"{options.max_size_mb:g} MB" if options.max_size_mb else options.quality
    return (f"{options.codec:>5} {target:>9} {run.wall:7.2f} {seconds / run.wall:7.2f} "
            f"{run.python_cpu + run.ffmpeg_cpu:7.1f} {size / 1e6:7.3f} {size * 8 / seconds / 1000:7.0f} {quality}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--codecs", nargs="*", default=list(CODECS), choices=list(CODECS))
    ap.add_argument("--qualities", nargs="*", default=list(QUALITIES), choices=list(QUALITIES))
    ap.add_argument("--max-size", type=float, help="instead of the quality presets: two-pass to this many MB")
    ap.add_argument("--no-psnr", action="store_true", help="skip the (slow) luma PSNR")
    ap.add_argument("--no-cover", action="store_true", help="use the drifting gradient backdrop (harder to encode)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synthetic_song(tmp / "song.wav", args.seconds)
        synthetic_cover(tmp / "cover.png")
        base = RenderOptions(width=args.width, height=args.height, fps=args.fps)
        cover = None if args.no_cover else tmp / "cover.png"
        inputs = Inputs(tmp / "song.wav", cover, synthetic_lines(args.seconds), base)
        print(f"{args.seconds:g} s synthetic song with lyrics, {'gradient backdrop' if args.no_cover else 'a cover'}, "
              f"{args.width}x{args.height} @ {args.fps} fps")
        print(f"{'codec':>5} {'quality':>9} {'wall s':>7} {'x real':>7} {'CPU s':>7} {'MB':>7} {'kb/s':>7} "
              f"{'Y-PSNR dB':>9}")
        qualities = ["standard"] if args.max_size else args.qualities
        for codec in args.codecs:
            for quality in qualities:
                options = base.model_copy(update={"codec": codec, "quality": quality, "max_size_mb": args.max_size})
                out = tmp / f"{codec}-{quality}{CODECS[codec].extension}"
                print(run_one(inputs, options, out, not args.no_psnr), flush=True)


if __name__ == "__main__":
    main()
