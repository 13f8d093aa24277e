"""How fast does the renderer make a video, compared with a naive MoviePy composite and the encoder alone?

    python benchmarks/render_speed.py                      # 60 s, 1920x1080, 30 fps, all three ways
    python benchmarks/render_speed.py --repeat 3           # alternate runs, report best and median
    python benchmarks/render_speed.py --seconds 10 --width 640 --height 360   # quick check while developing
    python benchmarks/render_speed.py --skip-moviepy       # only mvflow and the ceiling
    python benchmarks/render_speed.py --seconds 10 --compare-presets veryfast faster medium
    python benchmarks/render_speed.py --repeat 3 --skip-moviepy --compare-motion   # + mvflow with motion off
    python benchmarks/render_speed.py --repeat 3 --skip-moviepy --same-frames      # + its own frames, encode-only

Renders a synthetic song (chirps over a beat, a silent second every 20 s) with timed,
word-synced lyrics and a cover three ways: mvflow's renderer with the style's motion on (beat
pulse and glow, bar-line accents, the colour shift into the loudest sections, lyric entrances;
the song's analysis is made once first and timed on its own, as the flow caches it); the "encode-only ceiling",
the same number of constant frames (one real frame of this video) piped through exactly
the same ffmpeg command (same x264/AAC settings, same audio, same writer); and the naive
MoviePy composite (ImageClip cover + one TextClip per line + a numpy waveform VideoClip,
CompositeVideoClip, write_videofile defaults). Prints wall seconds, frames per second,
times real time, CPU seconds (Python and ffmpeg), naive/render and render/ceiling.

--same-frames also pipes the video's own frames, composited beforehand into memory (about
3 MB a 1080p frame: 5.6 GB for 60 s), through the same command and writer. That splits
render/ceiling in two: what coding this picture costs the encoder over a constant one
(frames/ceiling), and what compositing it on the same cores adds (render/frames).

Wall time on a shared 2-core machine is noisy: with --repeat the runs alternate (render,
ceiling, render, ...), and both the best-vs-best ratio and the median of the per-pair
ratios are printed.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mvflow.analysis.analyse import analyse_audio  # noqa: E402
from mvflow.audio import ffmpeg_exe, write_wav  # noqa: E402
from mvflow.memory import available_bytes  # noqa: E402
from mvflow.models import LyricLine, LyricWord, RenderOptions, SongAnalysis  # noqa: E402
from mvflow.render.encoder import EncoderSettings, FrameSink, encode_command, probe_streams  # noqa: E402
from mvflow.render.video import Music, build_scene, render_music_video  # noqa: E402

TITLE, SUBTITLE = "Benchmark Song", "mvflow · synthetic"
WORDS = ("neon rivers running through the city tonight we were chasing every light until the "
         "morning came around again hold on to the echo of a song we used to know").split()


# ---------------------------------------------------------------- synthetic inputs


def synthetic_song(path: Path, seconds: float, rate: int = 44100) -> None:
    """Chirps over a four-on-the-floor beat, with a silent second every 20 s."""
    t = np.arange(int(seconds * rate)) / rate
    sweep = 0.25 * np.sin(2 * np.pi * (80 * t + 30 * np.sin(2 * np.pi * t / 7)))
    lead = 0.12 * np.sin(2 * np.pi * 440 * 2 ** (np.floor(t * 2) % 12 / 12) * t)
    beat_phase = t % 0.5
    kick = 0.7 * np.exp(-beat_phase * 25) * np.sin(2 * np.pi * 55 * beat_phase)
    hat = 0.08 * np.random.default_rng(0).standard_normal(t.size) * np.exp(-((t + 0.25) % 0.5) * 60)
    song = sweep + lead + kick + hat
    song[(t % 20 > 17) & (t % 20 < 18)] = 0.0
    write_wav(path, np.stack([song, np.roll(song, 200)], axis=1) * 0.6, rate)


def synthetic_lines(seconds: float) -> list[LyricLine]:
    """A line every ~3 s, each word timed evenly, with gaps now and then."""
    lines, start, i = [], 1.0, 0
    rng = np.random.default_rng(1)
    while start + 3.0 < seconds:
        n = int(rng.integers(4, 11))
        words = [WORDS[(i + k) % len(WORDS)] for k in range(n)]
        step = 0.3
        timed_words = [LyricWord(text=w, start=start + k * step, end=start + (k + 1) * step)
                       for k, w in enumerate(words)]
        lines.append(LyricLine(text=" ".join(words).capitalize(), start=start, end=start + n * step, words=timed_words))
        start += n * step + float(rng.choice([0.0, 0.2, 0.5, 2.5]))
        i += n
    return lines


def synthetic_cover(path: Path) -> None:
    img = Image.new("RGB", (1024, 1024))
    draw = ImageDraw.Draw(img)
    for y in range(1024):
        draw.line([(0, y), (1024, y)], fill=(int(40 + 150 * y / 1024), 20, int(120 + 100 * (1 - y / 1024))))
    draw.ellipse((312, 312, 712, 712), fill=(255, 170, 60))
    img.save(path)


@dataclass
class Inputs:
    audio: Path
    cover: Path | None
    lines: list[LyricLine]
    options: RenderOptions
    analysis: SongAnalysis | None = None


#: Style keys that turn every music-driven motion off (for --compare-motion).
MOTION_OFF = {"motion.beat": "none", "motion.downbeat": "none", "motion.section": "none", "motion.entrance": "none"}


# ---------------------------------------------------------------- measuring


@dataclass
class Run:
    wall: float
    python_cpu: float  # this process, all threads
    ffmpeg_cpu: float  # child processes


def timed(fn: Callable[[], None]) -> Run:
    def cpu(who: int) -> float:
        usage = resource.getrusage(who)
        return usage.ru_utime + usage.ru_stime

    own, kids, t0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    fn()
    return Run(time.perf_counter() - t0, cpu(resource.RUSAGE_SELF) - own, cpu(resource.RUSAGE_CHILDREN) - kids)


def cpu(run: Run) -> float:
    """All CPU seconds a run used (its Python threads and its ffmpeg processes)."""
    return run.python_cpu + run.ffmpeg_cpu


def render(inputs: Inputs, out: Path, settings: EncoderSettings, motion: bool = True) -> None:
    options = inputs.options if motion else inputs.options.model_copy(update={"overrides": MOTION_OFF})
    render_music_video(inputs.audio, inputs.lines, inputs.cover, TITLE, out, options,
                       subtitle=SUBTITLE, encoder=settings, analysis=inputs.analysis)


def encode_frames(inputs: Inputs, out: Path, frames: Sequence[np.ndarray], settings: EncoderSettings) -> None:
    """The same ffmpeg command and writer as the renderer, fed ready frames (nothing composited meanwhile)."""
    options = inputs.options
    cmd = encode_command(out, options.width, options.height, options.fps, inputs.audio, settings)
    with FrameSink(cmd, options.width * options.height * 3 // 2) as sink:
        for frame in frames:
            sink.write(frame)


def encode_ceiling(inputs: Inputs, out: Path, frame: np.ndarray, n_frames: int, settings: EncoderSettings) -> None:
    """The encode-only ceiling: one constant frame n_frames times."""
    encode_frames(inputs, out, [frame] * n_frames, settings)


def video_frames(inputs: Inputs, n_frames: int) -> np.ndarray:
    """(n_frames, frame bytes): every frame of the video (motion on), composited into memory.

    Refuses first, naming the size, when the frames would not fit in the memory available.
    """
    frame_bytes = inputs.options.width * inputs.options.height * 3 // 2
    need, free = n_frames * frame_bytes, available_bytes()
    if free is not None and need > 0.8 * free:
        sys.exit(f"--same-frames needs {need / 1e9:.1f} GB for {n_frames} frames and "
                 f"{free / 1e9:.1f} GB is available: use fewer --seconds or a smaller frame")
    scene = build_scene(inputs.audio, inputs.lines, inputs.cover, TITLE, inputs.options, SUBTITLE,
                        music=Music.of(inputs.analysis))
    frames = np.empty((scene.n_frames, frame_bytes), np.uint8)
    with scene.compositor as compositor:
        for k in range(scene.n_frames):
            frames[k] = compositor.render(k).buffer.reshape(-1)
    return frames


def moviepy_naive(inputs: Inputs, out: Path) -> None:
    """The straightforward MoviePy composite the renderer is compared with (issue 5).

    The cover as an ImageClip, one TextClip per lyric line shown from its start for its
    duration, a VideoClip whose frame function draws the waveform around t with numpy,
    all in a CompositeVideoClip written by write_videofile with its defaults (libx264
    preset medium, MoviePy's own audio handling). MoviePy composites every layer for
    every frame in Python; that per-frame work is what the renderer avoids.
    """
    from moviepy import AudioFileClip, ColorClip, CompositeVideoClip, ImageClip, TextClip, VideoClip

    from mvflow.audio import decode_audio
    from mvflow.render.fonts import font_path

    o = inputs.options
    width, height, rate = o.width, o.height, 11025
    samples = decode_audio(inputs.audio, rate)
    seconds = len(samples) / rate
    if inputs.cover:
        background = ImageClip(str(inputs.cover)).resized(new_size=(width, height))
    else:
        background = ColorClip((width, height), color=(24, 20, 48))
    wave_h, window = height // 6, rate // 10

    def waveform(t: float) -> np.ndarray:
        frame = np.zeros((wave_h, width, 3), np.uint8)
        start = min(max(int(t * rate) - window // 2, 0), max(len(samples) - window, 0))
        chunk = samples[start : start + window]
        if len(chunk):
            xs = np.linspace(0, len(chunk) - 1, width).astype(int)
            ys = np.clip((0.5 - 0.45 * chunk[xs]) * wave_h, 0, wave_h - 1).astype(int)
            frame[ys, np.arange(width)] = (255, 200, 80)
            frame[np.clip(ys + 1, 0, wave_h - 1), np.arange(width)] = (255, 200, 80)
        return frame

    wave = VideoClip(frame_function=waveform, duration=seconds).with_position((0, height - wave_h - height // 20))
    size = round(height * 0.06)
    lyrics = [
        TextClip(font=str(font_path("Bold", line.text)), text=line.text, font_size=size, color="white",
                 stroke_color="black", stroke_width=2, method="caption", size=(int(width * 0.8), None))
        .with_start(line.start).with_duration(max(line.end - line.start, 0.1))
        .with_position(("center", int(height * 0.55)))
        for line in inputs.lines
    ]
    title = (TextClip(font=str(font_path("Bold", TITLE)), text=TITLE, font_size=round(height * 0.05), color="white")
             .with_duration(seconds).with_position((width // 20, height // 20)))
    video = CompositeVideoClip([background.with_duration(seconds), wave, title, *lyrics], size=(width, height))
    audio = AudioFileClip(str(inputs.audio))
    try:
        video.with_audio(audio).write_videofile(str(out), fps=o.fps, logger=None)
    finally:
        audio.close()
        video.close()


def middle_frame(inputs: Inputs) -> tuple[np.ndarray, int]:
    """(a real frame of this video, the video's frame count)."""
    scene = build_scene(inputs.audio, inputs.lines, inputs.cover, TITLE, inputs.options, SUBTITLE,
                        music=Music.of(inputs.analysis))
    with scene.compositor as compositor:
        return compositor.render(scene.n_frames // 2).buffer.copy(), scene.n_frames


def y_psnr(video: Path, inputs: Inputs) -> float:
    """Luma PSNR of an encoded video against the frames the compositor produced."""
    scene = build_scene(inputs.audio, inputs.lines, inputs.cover, TITLE, inputs.options, SUBTITLE)
    luma = inputs.options.width * inputs.options.height
    cmd = [ffmpeg_exe(), "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "yuv420p", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    squared = 0.0
    with scene.compositor as compositor:
        for k in range(scene.n_frames):
            decoded = np.frombuffer(proc.stdout.read(luma * 3 // 2), np.uint8)[:luma].astype(np.float32)
            source = compositor.render(k).y.reshape(-1).astype(np.float32)
            squared += float(((decoded - source) ** 2).sum())
    proc.stdout.close()
    proc.wait()
    mse = squared / (luma * scene.n_frames)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# ---------------------------------------------------------------- reports


def _line(name: str, run: Run, n: int, seconds: float) -> str:
    return (f"{name:>20}: {run.wall:7.2f} s wall  {n / run.wall:6.1f} fps  {seconds / run.wall:5.2f}x real time"
            f"  (CPU s: python {run.python_cpu:5.1f}, ffmpeg {run.ffmpeg_cpu:5.1f})")


def _ratio(name: str, a: Run, b: Run, note: str) -> str:
    """'name: a/b wall (a/b CPU<note>' of two runs."""
    return f"{name:>20}: {a.wall / b.wall:.3f} wall ({cpu(a) / cpu(b):.3f} CPU{note}"


def speed_report(inputs: Inputs, settings: EncoderSettings, repeat: int, tmp: Path, keep: Path | None,
                 naive: bool, compare_motion: bool = False, same_frames: bool = False) -> None:
    frame, n = middle_frame(inputs)
    seconds = n / inputs.options.fps
    pictures = video_frames(inputs, n) if same_frames else None
    renders, ceilings, still, pictured = [], [], [], []
    for _ in range(repeat):
        renders.append(timed(lambda: render(inputs, tmp / "render.mp4", settings)))
        ceilings.append(timed(lambda: encode_ceiling(inputs, tmp / "ceiling.mp4", frame, n, settings)))
        if compare_motion:
            still.append(timed(lambda: render(inputs, tmp / "still.mp4", settings, motion=False)))
        if pictures is not None:
            pictured.append(timed(lambda: encode_frames(inputs, tmp / "pictures.mp4", pictures, settings)))
    info = probe_streams(tmp / "render.mp4")
    if keep:
        keep.write_bytes((tmp / "render.mp4").read_bytes())

    o = inputs.options
    print(f"{o.width}x{o.height} @ {o.fps} fps, {seconds:.0f} s audio, {n} frames, {len(inputs.lines)} lyric lines, "
          f"preset={settings.preset} crf={settings.crf} x264-params={settings.x264_params or '-'} "
          f"threads={settings.threads or 'auto'}, {'cover' if inputs.cover else 'gradient'} backdrop")
    print(f"output: video {info['video_duration']:.3f} s ({info['video_frames']} frames), "
          f"audio {info['audio_duration']:.3f} s, {(tmp / 'render.mp4').stat().st_size / 1e6:.1f} MB")
    best_render, best_ceiling = min(renders, key=lambda r: r.wall), min(ceilings, key=lambda r: r.wall)
    print(_line("mvflow render", best_render, n, seconds))
    print(_line("encode-only ceiling", best_ceiling, n, seconds))
    if still:
        best_still = min(still, key=lambda r: r.wall)
        print(_line("mvflow, motion off", best_still, n, seconds))
        print(_ratio("motion on / off", best_render, best_still, "; best vs best)"))
    if pictured:
        best_pictures = min(pictured, key=lambda r: r.wall)
        print(_line("same frames, encoded", best_pictures, n, seconds))
        print(_ratio("frames / ceiling", best_pictures, best_ceiling,
                     "): coding this picture instead of a constant one"))
        print(_ratio("render / frames", best_render, best_pictures, "): compositing it on the same cores"))
    if naive:
        naive_run = timed(lambda: moviepy_naive(inputs, tmp / "moviepy.mp4"))
        naive_info = probe_streams(tmp / "moviepy.mp4")
        print(_line("naive moviepy", naive_run, naive_info["video_frames"], seconds))
        print(f"{'naive / render':>20}: {naive_run.wall / best_render.wall:.2f}x wall "
              f"({cpu(naive_run) / cpu(best_render):.2f}x CPU): mvflow's speed-up over the naive composite")
    print(_ratio("render / ceiling", best_render, best_ceiling, "; best vs best)"))
    if repeat > 1:
        pairs = [r.wall / c.wall for r, c in zip(renders, ceilings, strict=True)]
        print(f"{'':>20}  {statistics.median(pairs):.3f} (median of pairs; pairs: "
              + ", ".join(f"{r.wall:.1f}/{c.wall:.1f}" for r, c in zip(renders, ceilings, strict=True)) + ")")


def preset_report(inputs: Inputs, specs: list[str], base: EncoderSettings, tmp: Path) -> None:
    """Speed, size and luma PSNR of the same render at several 'preset[/x264-params]'."""
    print(f"{'preset[/x264-params]':>36} {'wall s':>7} {'x real':>7} {'CPU s':>7} {'MB':>6} {'Y-PSNR dB':>9}")
    for i, spec in enumerate(specs):
        preset, _, params = spec.partition("/")
        settings = EncoderSettings(preset=preset, crf=base.crf, threads=base.threads, x264_params=params)
        out = tmp / f"preset{i}.mp4"
        run = timed(lambda: render(inputs, out, settings))
        seconds = probe_streams(out)["video_duration"]
        print(f"{spec:>36} {run.wall:7.2f} {seconds / run.wall:7.2f} {run.python_cpu + run.ffmpeg_cpu:7.1f} "
              f"{out.stat().st_size / 1e6:6.2f} {y_psnr(out, inputs):9.2f}")


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
    ap.add_argument("--repeat", type=int, default=1, help="alternate render/ceiling runs this many times")
    ap.add_argument("--no-cover", action="store_true", help="use the drifting gradient backdrop")
    ap.add_argument("--keep", type=Path, help="copy the rendered video here")
    ap.add_argument("--compare-motion", action="store_true",
                    help="also render with every motion off (each repeat), and print motion on / off")
    ap.add_argument("--same-frames", action="store_true",
                    help="also encode the video's own frames, composited beforehand into memory (~3 MB a 1080p "
                         "frame), to split render/ceiling into the picture's coding cost and compositing")
    ap.add_argument("--skip-moviepy", action="store_true",
                    help="do not time the naive MoviePy composite (it runs at a fraction of real time)")
    ap.add_argument("--compare-presets", nargs="*", metavar="SPEC",
                    help="instead: speed/size/PSNR per 'preset[/x264-params]' (default: veryfast faster medium)")
    args = ap.parse_args()

    settings = EncoderSettings(preset=args.preset, crf=args.crf, threads=args.threads, x264_params=args.x264_params)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        synthetic_song(tmp / "song.wav", args.seconds)
        synthetic_cover(tmp / "cover.png")
        inputs = Inputs(tmp / "song.wav", None if args.no_cover else tmp / "cover.png", synthetic_lines(args.seconds),
                        RenderOptions(width=args.width, height=args.height, fps=args.fps))
        analysis = timed(lambda: setattr(inputs, "analysis", analyse_audio(tmp / "song.wav", tmp)))
        a = inputs.analysis
        print(f"analysis (once, cached by the flow): {analysis.wall:.2f} s wall, {analysis.python_cpu:.2f} s CPU: "
              f"{a.tempo:.1f} bpm, {len(a.beats)} beats, {len(a.sections)} sections from the {a.sections_from}")
        if args.compare_presets is not None:
            preset_report(inputs, args.compare_presets or ["veryfast", "faster", "medium"], settings, tmp)
            return
        speed_report(inputs, settings, args.repeat, tmp, args.keep, naive=not args.skip_moviepy,
                     compare_motion=args.compare_motion, same_frames=args.same_frames)


if __name__ == "__main__":
    main()
