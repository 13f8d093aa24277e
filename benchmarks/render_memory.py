"""How much memory a render takes, by frame size, codec and background: the numbers behind the memory bound.

    python benchmarks/render_memory.py                              # 360p .. 4K, every codec, gradient + zoom
    python benchmarks/render_memory.py --sizes 1920x1080 --codecs h264 --backgrounds gradient,pan,zoom,blur
    python benchmarks/render_memory.py --threads 1,2,4,8 --sizes 3840x2160   # the encoder alone, per thread count

Each render runs in a fresh Python process (so its peak is its own) on a short synthetic song
with word-timed lyrics and a cover, and prints the render's extra memory: the Python process's
peak resident size minus its size before the render (backdrop textures, layers, frame ring),
and ffmpeg's peak resident size (the encoder's frames, lookahead and threads), in MB and in
bytes per frame pixel. `mvflow.render.limits` estimates a render's memory with the largest
bytes per pixel measured here (see its docstring), and refuses a frame size whose estimate
exceeds the memory available.

With --threads the encoder runs alone (`-threads N`, the frames piped from a numpy buffer),
to see how its memory grows with the thread count that ffmpeg picks from the machine's cores.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def rss_mb() -> float:
    """This process's resident size now (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def one_render(size: str, codec: str, background: str, seconds: float) -> dict[str, float]:
    """Render once in this process; the Python increment and ffmpeg's peak, in MB."""
    from render_speed import synthetic_cover, synthetic_lines, synthetic_song

    from mvflow.cli.video_options import build_render_options
    from mvflow.render.codecs import get_codec
    from mvflow.render.video import render_music_video

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synthetic_song(tmp / "song.wav", seconds)
        synthetic_cover(tmp / "cover.png")
        lines = synthetic_lines(seconds)
        options = build_render_options(resolution=size, background=background, codec=codec)
        out = tmp / f"video{get_codec(codec).extension}"
        before = rss_mb()
        render_music_video(tmp / "song.wav", lines, tmp / "cover.png", "Benchmark Song", out, options, subtitle="x")
        python_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        ffmpeg_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"python": python_peak - before, "ffmpeg": ffmpeg_peak}


def one_encode(size: str, codec: str, threads: int, frames: int) -> dict[str, float]:
    """The encoder alone at `threads`: ffmpeg's peak in MB."""
    import numpy as np

    from mvflow.render.encoder import EncoderSettings, FrameSink, encode_command

    width, height = map(int, size.split("x"))
    settings = EncoderSettings.for_quality(codec)
    settings = EncoderSettings(**{**settings.__dict__, "threads": threads})
    rng = np.random.default_rng(0)
    frame = rng.integers(16, 235, width * height * 3 // 2, dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp_dir:
        from mvflow.render.codecs import get_codec

        cmd = encode_command(Path(tmp_dir) / f"v{get_codec(codec).extension}", width, height, 30, None, settings)
        with FrameSink(cmd, frame.size) as sink:
            for k in range(frames):
                sink.write(np.roll(frame, k * 64))
    return {"ffmpeg": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def in_child(*args: str) -> dict[str, float]:
    """Run this script's --one mode in a fresh interpreter and read its JSON line."""
    proc = subprocess.run([sys.executable, __file__, "--one", *args], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="640x360,1280x720,1920x1080,2560x1440,3840x2160")
    ap.add_argument("--codecs", default="h264,h265,vp9")
    ap.add_argument("--backgrounds", default="gradient,zoom")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--threads", default="", help="comma-separated thread counts: measure the encoder alone")
    ap.add_argument("--one", nargs=4, metavar=("KIND", "SIZE", "CODEC", "ARG"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        kind, size, codec, arg = args.one
        result = one_render(size, codec, arg, args.seconds) if kind == "render" else \
            one_encode(size, codec, int(arg), frames=round(args.seconds * 30))
        print(json.dumps(result))
        return
    for size in args.sizes.split(","):
        pixels = int(size.split("x")[0]) * int(size.split("x")[1])
        for codec in args.codecs.split(","):
            if args.threads:
                for threads in args.threads.split(","):
                    enc = in_child("encode", size, codec, threads)["ffmpeg"]
                    print(f"{size:>10} {codec:>4} threads {threads:>2}: ffmpeg {enc:7.0f} MB "
                          f"({enc * 2**20 / pixels:5.1f} B/px)", flush=True)
                continue
            for background in args.backgrounds.split(","):
                got = in_child("render", size, codec, background)
                total = got["python"] + got["ffmpeg"]
                print(f"{size:>10} {codec:>4} {background:>8}: python +{got['python']:6.0f} MB "
                      f"({got['python'] * 2**20 / pixels:5.1f} B/px)  ffmpeg {got['ffmpeg']:6.0f} MB "
                      f"({got['ffmpeg'] * 2**20 / pixels:5.1f} B/px)  total {total:6.0f} MB "
                      f"({total * 2**20 / pixels:5.1f} B/px)", flush=True)


if __name__ == "__main__":
    main()
