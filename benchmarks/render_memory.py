"""How much memory a render takes, by frame size, codec, background and song length: the numbers behind
the memory bound of mvflow.render.limits.

    python benchmarks/render_memory.py                                  # 640x360 .. 4K, every codec, gradient + pan
    python benchmarks/render_memory.py --sizes 3840x2160 --codecs h264 --backgrounds pan,zoom --travel 0.3
    python benchmarks/render_memory.py --threads 1,3,6,12 --sizes 1920x1080     # the encoder alone, per thread count
    python benchmarks/render_memory.py --long 600@120 --sizes 640x360,3840x2160  # per-frame data of a long song

Each measurement runs in a fresh Python process. A render (a short synthetic song with word-timed
lyrics and a cover) prints its extra memory: the Python process's peak resident size minus its
size before the render (backdrop textures, layers, frame ring), and the largest ffmpeg's peak
(the encoder's frames, lookahead and threads), in MB and in bytes per frame pixel. With
--threads the encoder runs alone (`-threads N`, frames piped from a numpy buffer). With --long
only the scene of a long song is built (no encoding), once per visualiser, to show the data kept
for every frame (bar levels, waveform traces), in bytes per video frame.

Peaks are read as VmHWM from /proc, which exec starts afresh. getrusage's ru_maxrss cannot be used:
Linux carries a parent's resident size at fork over exec into the child's, so a render started
from a 1 GB process "peaked" at 1 GB before it allocated anything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

VISUALISERS = ("bars:1024", "waveform", "circular:1024", "none")


def status_mb(field: str, pid: int | str = "self") -> float | None:
    """A memory field of /proc/PID/status (VmRSS: now, VmHWM: the peak since exec), in MB; None once the
    process is gone (or a zombie, which has no memory left)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


class WatchedPopen(subprocess.Popen):
    """Popen that follows its child's VmHWM until the child ends; `peak_mb` is the largest child's peak.
    Installed as subprocess.Popen, it sees the encoder and the audio decoder that the renderer starts."""

    peak_mb = 0.0

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - Popen's own
        super().__init__(*args, **kwargs)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while (peak := status_mb("VmHWM", self.pid)) is not None:
            WatchedPopen.peak_mb = max(WatchedPopen.peak_mb, peak)
            time.sleep(0.01)


def one_render(size: str, codec: str, background: str, seconds: float, travel: float | None = None) -> dict:
    """Render once in this process; the Python increment and ffmpeg's peak, in MB."""
    subprocess.Popen = WatchedPopen  # type: ignore[misc] - the renderer's children are watched
    from render_speed import synthetic_cover, synthetic_lines, synthetic_song

    from mvflow.cli.video_options import build_render_options
    from mvflow.render.codecs import get_codec
    from mvflow.render.video import render_music_video

    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synthetic_song(tmp / "song.wav", seconds)
        synthetic_cover(tmp / "cover.png")
        options = build_render_options(resolution=size, background=background, codec=codec)
        if travel is not None:
            options = options.model_copy(update={"overrides": {**options.overrides, "background.travel": travel}})
        out = tmp / f"video{get_codec(codec).extension}"
        before = status_mb("VmRSS")
        render_music_video(tmp / "song.wav", synthetic_lines(seconds), tmp / "cover.png", "Benchmark Song", out,
                           options, subtitle="x")
        python_peak = status_mb("VmHWM")
    return {"python": python_peak - before, "ffmpeg": WatchedPopen.peak_mb}


def one_encode(size: str, codec: str, threads: int, frames: int) -> dict:
    """The encoder alone at `threads`: ffmpeg's peak in MB."""
    import numpy as np

    subprocess.Popen = WatchedPopen  # type: ignore[misc]
    from mvflow.render.codecs import get_codec
    from mvflow.render.encoder import EncoderSettings, FrameSink, encode_command

    width, height = map(int, size.split("x"))
    settings = EncoderSettings(**{**EncoderSettings.for_quality(codec).__dict__, "threads": threads})
    frame = np.random.default_rng(0).integers(16, 235, width * height * 3 // 2, dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp_dir:
        cmd = encode_command(Path(tmp_dir) / f"v{get_codec(codec).extension}", width, height, 30, None, settings)
        with FrameSink(cmd, frame.size) as sink:
            for k in range(frames):
                sink.write(np.roll(frame, k * 64))
    return {"ffmpeg": WatchedPopen.peak_mb}


def one_scene(size: str, visualiser: str, fps: int, song: str) -> dict:
    """Build (not render) the scene of `song` with this visualiser ("kind" or "kind:count"): the Python
    increment in MB and the number of frames."""
    from mvflow.models import RenderOptions
    from mvflow.render.video import build_scene

    kind, _, count = visualiser.partition(":")
    overrides = {"visualiser.kind": kind, **({"visualiser.count": int(count)} if count else {})}
    width, height = map(int, size.split("x"))
    options = RenderOptions(width=width, height=height, fps=fps, overrides=overrides)
    before = status_mb("VmRSS")
    scene = build_scene(Path(song), [], None, "Benchmark Song", options)
    return {"python": status_mb("VmHWM") - before, "frames": scene.n_frames}


MODES = {"render": one_render, "encode": one_encode, "scene": one_scene}


def in_child(mode: str, **params: object) -> dict:
    """Run one measurement in a fresh interpreter and read its JSON line."""
    proc = subprocess.run([sys.executable, __file__, "--one", json.dumps({"mode": mode, **params})],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "child failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def per_pixel(megabytes: float, pixels: int) -> str:
    return f"{megabytes:6.0f} MB ({megabytes * 2**20 / pixels:5.1f} B/px)"


def report_renders(args: argparse.Namespace) -> None:
    for size in args.sizes.split(","):
        pixels = int(size.split("x")[0]) * int(size.split("x")[1])
        for codec in args.codecs.split(","):
            for background in args.backgrounds.split(","):
                got = in_child("render", size=size, codec=codec, background=background, seconds=args.seconds,
                               travel=args.travel)
                print(f"{size:>10} {codec:>4} {background:>8}: python +{per_pixel(got['python'], pixels)}  ffmpeg "
                      f"{per_pixel(got['ffmpeg'], pixels)}  total {per_pixel(got['python'] + got['ffmpeg'], pixels)}",
                      flush=True)


def report_threads(args: argparse.Namespace) -> None:
    for size in args.sizes.split(","):
        pixels = int(size.split("x")[0]) * int(size.split("x")[1])
        for codec in args.codecs.split(","):
            for threads in args.threads.split(","):
                got = in_child("encode", size=size, codec=codec, threads=int(threads),
                               frames=round(args.seconds * 30))
                print(f"{size:>10} {codec:>4} threads {threads:>2}: ffmpeg {per_pixel(got['ffmpeg'], pixels)}",
                      flush=True)


def report_long(args: argparse.Namespace) -> None:
    from render_speed import synthetic_song

    seconds, _, fps = args.long.partition("@")
    with tempfile.TemporaryDirectory() as tmp_dir:
        song = Path(tmp_dir) / "long.wav"
        synthetic_song(song, float(seconds))
        for size in args.sizes.split(","):
            for visualiser in args.visualisers.split(","):
                got = in_child("scene", size=size, visualiser=visualiser, fps=int(fps or 30), song=str(song))
                print(f"{size:>10} {seconds} s @ {fps} fps {visualiser:>13}: python +{got['python']:6.0f} MB "
                      f"({got['python'] * 2**20 / got['frames']:7.0f} B/frame)", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="640x360,1920x1080,3840x2160")
    ap.add_argument("--codecs", default="h264,h265,vp9")
    ap.add_argument("--backgrounds", default="gradient,pan")
    ap.add_argument("--travel", type=float, default=None, help="pan/zoom travel (default: the style's, 0.05)")
    ap.add_argument("--seconds", type=float, default=3.0, help="song length of each render")
    ap.add_argument("--threads", default="", help="comma-separated thread counts: measure the encoder alone")
    ap.add_argument("--long", default="", metavar="SECONDS@FPS", help="build the scenes of a long song instead")
    ap.add_argument("--visualisers", default=",".join(VISUALISERS), help="for --long: kind or kind:count")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        params = json.loads(args.one)
        print(json.dumps(MODES[params.pop("mode")](**params)))
    elif args.long:
        report_long(args)
    elif args.threads:
        report_threads(args)
    else:
        report_renders(args)


if __name__ == "__main__":
    main()
