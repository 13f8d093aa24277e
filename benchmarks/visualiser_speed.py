"""What each visualiser kind costs per frame, and what it looks like.

    python benchmarks/visualiser_speed.py                          # synthetic 20 s song, 1920x1080
    python benchmarks/visualiser_speed.py --audio song.wav --stills out/   # + a PNG per kind
    python benchmarks/visualiser_speed.py --audio song.wav --encode        # + x264's cost per kind

For every kind: the precompute time (audio analysis, sprites) and the time the part's
`draw` takes per frame (CPU time of the drawing thread, so that other processes on a
shared machine barely move it) over the whole song at 30 fps (mean and 95th percentile), on a
static gradient backdrop, without encoding. Strip kinds use the layout's bottom strip,
`circular` a centred square. With --stills, saves the frame at the loudest second of each
kind and `visualisers.jpg`, all of them side by side (the README's picture). With --encode,
the frames (backdrop + visualiser only) also go through the renderer's default x264
settings, and the encoder's CPU time per frame is printed next to that of a video with no
visualiser: what a kind costs x264 (a line that changes the whole width every frame costs
more to encode than bars, most of which hold still).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mvflow.audio import decode_audio  # noqa: E402
from mvflow.render.compositor import Compositor  # noqa: E402
from mvflow.render.encoder import FrameSink, encode_command  # noqa: E402
from mvflow.render.features import FEATURE_RATE  # noqa: E402
from mvflow.render.layers import StaticBackground, gradient_texture, shade_map  # noqa: E402
from mvflow.render.layout import Layout  # noqa: E402
from mvflow.render.visualiser import VISUALISERS, VisualiserSpec, build_visualiser  # noqa: E402
from mvflow.render.yuv import Box, even_round  # noqa: E402

ACCENT = ((92, 204, 255), (255, 120, 200))


def synthetic_song(seconds: float, rate: int = FEATURE_RATE) -> np.ndarray:
    """A beat (kick + hat) under a bass line and a chord pad, loud enough to move every band."""
    t = np.arange(int(seconds * rate)) / rate
    beat = (t * 2.0) % 1.0  # 120 bpm
    kick = np.sin(2 * np.pi * (50 + 120 * np.exp(-beat * 30)) * t) * np.exp(-beat * 8)
    hat = np.random.default_rng(1).standard_normal(len(t)) * np.exp(-((t * 4.0) % 1.0) * 40) * 0.25
    root = np.where((t % 8) < 4, 55.0, 73.4)
    bass = 0.35 * np.sign(np.sin(2 * np.pi * root * t)) * 0.5
    pad = sum(0.12 * np.sin(2 * np.pi * root * 4 * r * t) for r in (1.0, 1.26, 1.5))
    return (0.6 * kick + hat + bass + pad).astype(np.float32) * 0.6


def visualiser_box(kind: str, layout: Layout) -> Box:
    if kind != "circular":
        return layout.bars_box
    side = even_round(0.56 * layout.unit)
    x0, y0 = even_round((layout.width - side) / 2), even_round((layout.height - side) / 2)
    return Box(x0, y0, x0 + side, y0 + side)


def measure(kind: str, samples: np.ndarray, width: int, height: int, fps: int, stills: Path | None,
            encode: bool = False) -> str:
    layout = Layout.for_size(width, height)
    n_frames = round(len(samples) / FEATURE_RATE * fps)
    texture = gradient_texture(width, height, [ACCENT[0], ACCENT[1], (18, 16, 34)]) * shade_map(width, height, 0.7)
    backdrop = StaticBackground(np.clip(texture, 0, 255), [])
    started = time.perf_counter()
    part = build_visualiser(VisualiserSpec(kind=kind), visualiser_box(kind, layout), layout.unit, samples,
                            n_frames, fps, ACCENT)
    setup = time.perf_counter() - started
    times = np.empty(n_frames)
    with Compositor(width, height, fps, backdrop, []) as compositor:
        frame = compositor.render(0)
        bg, version = backdrop.at(0)
        for k in range(n_frames):
            t0 = time.thread_time()  # CPU time: other processes on a shared machine barely move it
            part.draw(frame, bg, version, k, k / fps)
            times[k] = time.thread_time() - t0
        if stills:
            still_at = loudest_frame(samples, n_frames, fps)
            for k in range(max(0, still_at - 10), still_at + 1):  # settle the smoothing before the still
                part.draw(frame, bg, version, k, k / fps)
            stills.mkdir(parents=True, exist_ok=True)
            Image.fromarray(frame.to_rgb()).save(stills / f"visualiser-{kind}.png")
    part.close()
    ms = times * 1000
    line = (f"{kind:<10} setup {setup:6.2f} s   draw {ms.mean():6.2f} ms/frame mean, "
            f"{np.percentile(ms, 95):6.2f} p95, {ms.max():6.2f} max")
    if encode:
        line += f"   x264 {encode_cpu_ms(kind, samples, width, height, fps, backdrop):6.2f} ms/frame CPU"
    return line


def encode_cpu_ms(kind: str, samples: np.ndarray, width: int, height: int, fps: int, backdrop) -> float:
    """ffmpeg's CPU time (user + system, all its threads) per frame for this kind's video."""
    layout = Layout.for_size(width, height)
    n_frames = round(len(samples) / FEATURE_RATE * fps)
    part = build_visualiser(VisualiserSpec(kind=kind), visualiser_box(kind, layout), layout.unit, samples,
                            n_frames, fps, ACCENT)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = encode_command(Path(tmp) / "v.mp4", width, height, fps, None)
        with FrameSink(cmd, width * height * 3 // 2) as sink, Compositor(width, height, fps, backdrop, [part]) as comp:
            for k in range(n_frames):
                sink.write(comp.render(k).buffer)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / n_frames * 1000


def loudest_frame(samples: np.ndarray, n_frames: int, fps: int) -> int:
    """The frame at the middle of the loudest second of the song."""
    hop = FEATURE_RATE // fps
    energy = np.add.reduceat(np.square(samples[: hop * n_frames]), np.arange(0, hop * n_frames, hop))
    return int(np.argmax(np.convolve(energy, np.ones(fps), "same")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, help="audio file (default: a synthetic 20 s song)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the synthetic song")
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--kinds", nargs="*", default=[k for k in VISUALISERS if k != "none"])
    parser.add_argument("--stills", type=Path, help="folder for a PNG of each kind")
    parser.add_argument("--encode", action="store_true", help="also measure x264's CPU time per kind")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    samples = decode_audio(args.audio, FEATURE_RATE) if args.audio else synthetic_song(args.seconds)
    print(f"{len(samples) / FEATURE_RATE:.1f} s of audio, {width}x{height} @ {args.fps} fps")
    kinds = ["none", *args.kinds] if args.encode and "none" not in args.kinds else args.kinds
    for kind in kinds:
        print(measure(kind, samples, width, height, args.fps, args.stills if kind != "none" else None, args.encode),
              flush=True)
    if args.stills:
        montage(args.stills, [k for k in args.kinds if k != "none"]).save(args.stills / "visualisers.jpg", quality=82)


def montage(folder: Path, kinds: list[str], long_side: int = 480) -> Image.Image:
    """The kinds' stills in a grid two wide, each scaled (keeping its shape) to `long_side`."""
    stills = [Image.open(folder / f"visualiser-{kind}.png") for kind in kinds]
    width, height = stills[0].size
    scale = long_side / max(width, height)
    tile = (round(width * scale), round(height * scale))
    sheet = Image.new("RGB", (tile[0] * 2, tile[1] * ((len(kinds) + 1) // 2)))
    for i, still in enumerate(stills):
        sheet.paste(still.resize(tile, Image.Resampling.LANCZOS), (tile[0] * (i % 2), tile[1] * (i // 2)))
        still.close()
    return sheet


if __name__ == "__main__":
    main()
