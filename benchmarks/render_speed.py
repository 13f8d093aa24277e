"""How fast does the renderer make a video, and how close is that to the encoder alone?

    python benchmarks/render_speed.py                      # 60 s, 1920x1080, 30 fps
    python benchmarks/render_speed.py --seconds 20 --preset faster --threads 2

Renders a synthetic song (chirps, a beat, silence gaps) with timed, word-synced lyrics and
a cover, then runs the "encode-only ceiling": the same number of constant frames piped
through exactly the same ffmpeg command (same x264/AAC settings, same audio). Prints
wall seconds, frames per second, times real time, and render/ceiling.

Wall time on a shared 2-core machine is noisy: the runs alternate (render, ceiling,
render, ...) and the best of --repeat is reported for each, plus CPU seconds.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.audio import write_wav  # noqa: E402
from tasks.models import LyricLine, LyricWord, RenderOptions  # noqa: E402
from tasks.render.encoder import EncoderSettings, FrameSink, encode_command, probe_streams  # noqa: E402
from tasks.render.video import build_scene, render_music_video  # noqa: E402

WORDS = ("neon rivers running through the city tonight we were chasing every light until the "
         "morning came around again hold on to the echo of a song we used to know").split()


def synthetic_song(path: Path, seconds: float, rate: int = 44100) -> None:
    """Chirps over a four-on-the-floor beat, with two silent bars (exercises the bars)."""
    t = np.arange(int(seconds * rate)) / rate
    sweep = 0.25 * np.sin(2 * np.pi * (80 * t + 30 * np.sin(2 * np.pi * t / 7)))
    lead = 0.12 * np.sin(2 * np.pi * 440 * 2 ** (np.floor(t * 2) % 12 / 12) * t)
    beat_phase = t % 0.5
    kick = 0.7 * np.exp(-beat_phase * 25) * np.sin(2 * np.pi * 55 * beat_phase)
    hat = 0.08 * np.random.default_rng(0).standard_normal(t.size) * np.exp(-((t + 0.25) % 0.5) * 60)
    song = sweep + lead + kick + hat
    song[(t % 20 > 17) & (t % 20 < 18)] = 0.0  # a silent second every 20 s
    write_wav(path, np.stack([song, np.roll(song, 200)], axis=1) * 0.6, rate)


def synthetic_lines(seconds: float) -> list[LyricLine]:
    """A line every ~3.5 s, each word timed evenly, with gaps now and then."""
    lines, start, i = [], 1.0, 0
    rng = np.random.default_rng(1)
    while start + 3.0 < seconds:
        n = int(rng.integers(4, 11))
        words = [WORDS[(i + k) % len(WORDS)] for k in range(n)]
        length = 0.3 * n
        step = length / n
        timed = [LyricWord(text=w, start=start + k * step, end=start + (k + 1) * step) for k, w in enumerate(words)]
        lines.append(LyricLine(text=" ".join(words).capitalize(), start=start, end=start + length, words=timed))
        start += length + float(rng.choice([0.0, 0.2, 0.5, 2.5]))
        i += n
    return lines


def synthetic_cover(path: Path) -> None:
    img = Image.new("RGB", (1024, 1024))
    draw = ImageDraw.Draw(img)
    for y in range(1024):
        draw.line([(0, y), (1024, y)], fill=(int(40 + 150 * y / 1024), 20, int(120 + 100 * (1 - y / 1024))))
    draw.ellipse((312, 312, 712, 712), fill=(255, 170, 60))
    img.save(path)


def timed(fn: Callable[[], None]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process, CPU seconds of its children i.e. ffmpeg)."""
    def cpu(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime
    own, kids, t0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    fn()
    return time.perf_counter() - t0, cpu(resource.RUSAGE_SELF) - own, cpu(resource.RUSAGE_CHILDREN) - kids


def encode_ceiling(audio: Path, out: Path, frame: np.ndarray, n_frames: int, options: RenderOptions,
                   settings: EncoderSettings) -> None:
    """The same ffmpeg command as the renderer, fed one constant frame n_frames times."""
    cmd = encode_command(out, options.width, options.height, options.fps, audio, settings)
    with FrameSink(cmd, frame.size) as sink:
        for _ in range(n_frames):
            sink.write(frame)


def y_psnr(video: Path, scene_factory: Callable[[], object], n_frames: int, width: int, height: int) -> float:
    """Luma PSNR of the encoded video against the frames the compositor produced."""
    import subprocess

    from tasks.audio import ffmpeg_exe

    scene = scene_factory()
    size = width * height * 3 // 2
    proc = subprocess.Popen([ffmpeg_exe(), "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"],
                            stdout=subprocess.PIPE)
    squared, count = 0.0, 0
    for k in range(n_frames):
        decoded = np.frombuffer(proc.stdout.read(size), np.uint8)[: width * height].astype(np.float32)
        source = scene.compositor.render(k).y.reshape(-1).astype(np.float32)
        squared += float(((decoded - source) ** 2).sum())
        count += decoded.size
    proc.stdout.close()
    proc.wait()
    mse = squared / max(count, 1)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def compare_presets(audio: Path, lines: list[LyricLine], cover: Path | None, options: RenderOptions,
                    presets: list[str], crf: int, threads: int, tmp: Path) -> None:
    """Speed, size and luma PSNR of the same render at several x264 settings ("preset[/x264-params]")."""
    print(f"{'preset[/x264 params]':>36} {'wall s':>7} {'x real':>7} {'CPU s':>7} {'MB':>6} {'Y-PSNR dB':>9}")
    for i, spec in enumerate(presets):
        preset, _, params = spec.partition("/")
        settings = EncoderSettings(preset=preset, crf=crf, threads=threads, x264_params=params)
        out = tmp / f"preset{i}.mp4"
        wall, own, kids = timed(lambda: render_music_video(audio, lines, cover, "Benchmark Song", out, options,
                                                           subtitle="mvflow · synthetic", encoder=settings))
        info = probe_streams(out)
        psnr = y_psnr(out, lambda: build_scene(audio, lines, cover, "Benchmark Song", options, "mvflow · synthetic"),
                      info["video_frames"], options.width, options.height)
        seconds = info["video_duration"]
        print(f"{spec:>36} {wall:7.2f} {seconds / wall:7.2f} {own + kids:7.1f} {out.stat().st_size / 1e6:6.2f} {psnr:9.2f}")


def moviepy_naive(audio: Path, lines: list[LyricLine], cover: Path, out: Path, options: RenderOptions) -> None:
    """Placeholder for the naive MoviePy (CompositeVideoClip/TextClip) comparison, added later."""
    raise NotImplementedError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--preset", default=EncoderSettings.preset)
    ap.add_argument("--crf", type=int, default=EncoderSettings.crf)
    ap.add_argument("--threads", type=int, default=EncoderSettings.threads)
    ap.add_argument("--x264-params", default=EncoderSettings.x264_params)
    ap.add_argument("--repeat", type=int, default=1, help="alternate render/ceiling runs, report the best")
    ap.add_argument("--no-cover", action="store_true", help="use the drifting gradient backdrop")
    ap.add_argument("--moviepy", action="store_true", help="also time the naive MoviePy renderer")
    ap.add_argument("--keep", type=Path, help="copy the rendered video here")
    ap.add_argument("--compare-presets", nargs="*", metavar="PRESET",
                    help="instead: speed/size/PSNR table for these 'preset[/x264-params]' (default veryfast faster medium)")
    args = ap.parse_args()

    options = RenderOptions(width=args.width, height=args.height, fps=args.fps)
    settings = EncoderSettings(preset=args.preset, crf=args.crf, threads=args.threads, x264_params=args.x264_params)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        audio, cover = tmp / "song.wav", tmp / "cover.png"
        synthetic_song(audio, args.seconds)
        synthetic_cover(cover)
        lines = synthetic_lines(args.seconds)
        cover_arg = None if args.no_cover else cover
        if args.compare_presets is not None:
            compare_presets(audio, lines, cover_arg, options, args.compare_presets or ["veryfast", "faster", "medium"],
                            args.crf, args.threads, tmp)
            return
        scene = build_scene(audio, lines, cover_arg, "Benchmark Song", options, "mvflow · synthetic")
        constant = scene.compositor.render(scene.n_frames // 2).buffer.copy()
        n = scene.n_frames

        renders, ceilings = [], []
        for _ in range(args.repeat):
            renders.append(timed(lambda: render_music_video(
                audio, lines, cover_arg, "Benchmark Song", tmp / "render.mp4", options,
                subtitle="mvflow · synthetic", encoder=settings)))
            ceilings.append(timed(lambda: encode_ceiling(audio, tmp / "ceiling.mp4", constant, n, options, settings)))
        info = probe_streams(tmp / "render.mp4")
        if args.keep:
            args.keep.write_bytes((tmp / "render.mp4").read_bytes())

        print(f"{args.width}x{args.height} @ {args.fps} fps, {args.seconds:.0f} s audio, {n} frames, "
              f"{len(lines)} lyric lines, preset={settings.preset} crf={settings.crf} "
              f"threads={settings.threads or 'auto'}, {'gradient' if args.no_cover else 'cover'} backdrop")
        print(f"output: video {info['video_duration']:.3f} s ({info['video_frames']} frames), "
              f"audio {info['audio_duration']:.3f} s, {(tmp / 'render.mp4').stat().st_size / 1e6:.1f} MB")
        best_render, best_ceiling = min(renders), min(ceilings)
        for name, (wall, own, kids) in (("render", best_render), ("encode-only ceiling", best_ceiling)):
            print(f"{name:>20}: {wall:7.2f} s wall  {n / wall:6.1f} fps  {args.seconds / wall:5.2f}x real time"
                  f"  (CPU s: python {own:5.1f}, ffmpeg {kids:5.1f})")
        print(f"{'render / ceiling':>20}: {best_render[0] / best_ceiling[0]:.3f}")
        if args.repeat > 1:
            print("all runs (render, ceiling) wall s:",
                  ", ".join(f"({r[0]:.1f}, {c[0]:.1f})" for r, c in zip(renders, ceilings, strict=True)))
        if args.moviepy:
            wall, _, _ = timed(lambda: moviepy_naive(audio, lines, cover, tmp / "moviepy.mp4", options))
            print(f"{'naive moviepy':>20}: {wall:7.2f} s wall  {args.seconds / wall:5.2f}x real time")


if __name__ == "__main__":
    main()
