"""Entry point: audio + timed lyrics + cover -> music video file (plain Python, no Prefect).

Everything expensive happens once up front (backdrop, title card, audio analysis); the
frame loop only asks the compositor for frame k and hands it to the encoder pipe.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from mvflow.audio import audio_duration, decode_audio
from mvflow.errors import EncodingError
from mvflow.files import atomic_path
from mvflow.models import Clip, LyricLine, RenderOptions, SongAnalysis
from mvflow.render.captions import Captions
from mvflow.render.clip import clip_lines, clipped_audio
from mvflow.render.codecs import require_codec
from mvflow.render.compositor import Backdrop, Compositor
from mvflow.render.encoder import EncoderSettings, FrameSink, encode_command
from mvflow.render.features import FEATURE_RATE
from mvflow.render.layers import (
    DriftingBackground,
    Layer,
    StaticBackground,
    ZoomingBackground,
    art_picture,
    cover_background,
    gradient_texture,
    load_cover,
    shade_map,
)
from mvflow.render.layout import Layout
from mvflow.render.limits import check_frame
from mvflow.render.max_size import check_fits
from mvflow.render.motion import (
    FrameFinish,
    GradedBackdrop,
    MotionSpec,
    MusicTimes,
    fade_levels,
    pulse_levels,
    section_levels,
)
from mvflow.render.style import Color, Style, accent_from_image, shifted_hue
from mvflow.render.style_loader import load_style
from mvflow.render.text import CardPainter
from mvflow.render.timeline import Timeline
from mvflow.render.visualiser import build_visualiser
from mvflow.render.yuv import Box, even_round

Progress = Callable[[int, int], None]


@dataclass
class Scene:
    """A video ready to be rendered frame by frame."""

    compositor: Compositor
    n_frames: int
    duration: float
    fps: int


def render_music_video(audio_path: Path, lines: list[LyricLine], cover_path: Path | None, title: str,
                       out_path: Path, options: RenderOptions, subtitle: str = "",
                       progress: Progress | None = None, encoder: EncoderSettings | None = None,
                       art_path: Path | None = None, analysis: SongAnalysis | None = None,
                       clip: Clip | None = None) -> None:
    """Render the video to `out_path` (options.codec in its container, written atomically).

    `cover_path` is the backdrop picture; `art_path` (default: the cover) the square art
    shown as the title thumbnail or in a style's art box. `analysis` (the song's beats and
    sections) drives the style's motion; without it only the lyric entrance moves. `clip`
    renders that part of the song (a short), faded in and out.

    The frame count is round(audio duration * fps), so the video and audio streams end
    together (within half a frame) without relying on ffmpeg's -shortest.
    `progress(done, total)` is called about once per second of video; with
    options.max_size_mb the frames are composited twice (one per pass: compositing costs
    ~2 ms a 1080p frame, far less than writing and re-reading an intermediate file) and
    `total` counts both passes.
    """
    seconds = clip.duration if clip else audio_duration(audio_path)  # what the video shows
    check_options(options, seconds)  # before ffmpeg starts: a refused size costs nothing
    codec = require_codec(options.codec)
    if Path(out_path).suffix.lower() != codec.extension:
        raise EncodingError(f"{codec.name} writes {codec.container.upper()}: name the output *{codec.extension}, "
                            f"not {Path(out_path).name}")
    with clipped_audio(audio_path, clip) as clip_audio:
        music = Music.of(analysis, clip)
        _render(clip_audio, clip_lines(lines, clip), cover_path, title, Path(out_path), options, subtitle, progress,
                encoder, art_path, music)


def _render(audio_path: Path, lines: list[LyricLine], cover_path: Path | None, title: str, out_path: Path,
            options: RenderOptions, subtitle: str, progress: Progress | None, encoder: EncoderSettings | None,
            art_path: Path | None, music: Music) -> None:
    """render_music_video on the audio and lines as the video shows them (a clip already cut)."""
    if options.max_size_mb is not None:
        scene = build_scene(audio_path, lines, cover_path, title, options, subtitle, art_path, music)
        _render_two_pass(scene, Path(audio_path), Path(out_path), options, progress)
        return
    settings = encoder or EncoderSettings.for_quality(options.codec, options.quality)
    width, height = options.width, options.height
    with atomic_path(out_path) as tmp:
        cmd = encode_command(tmp, width, height, options.fps, Path(audio_path), settings)
        # ffmpeg starts up (process, encoder, audio input) while the scene is being prepared.
        with FrameSink(cmd, width * height * 3 // 2) as sink:
            scene = build_scene(audio_path, lines, cover_path, title, options, subtitle, art_path, music)
            with scene.compositor as compositor:
                _feed(compositor, scene, sink, progress)
    if progress:
        progress(scene.n_frames, scene.n_frames)


def _render_two_pass(scene: Scene, audio_path: Path, out_path: Path, options: RenderOptions,
                     progress: Progress | None) -> None:
    """--max-size: plan the bitrate from the audio's duration (refusing before anything is
    written), then pass 1 (stats only) and pass 2 (the file) over the same scene."""
    plan = check_fits(options, scene.duration)
    settings = EncoderSettings.for_quality(options.codec, options.quality, video_kbps=plan.video_kbps,
                                           audio_bitrate=f"{plan.audio_kbps}k")
    frame_bytes = options.width * options.height * 3 // 2
    with (tempfile.TemporaryDirectory(prefix="mvflow-2pass-") as logs, atomic_path(out_path) as tmp,
          scene.compositor as compositor):
        for pass_no in (1, 2):
            cmd = encode_command(tmp, options.width, options.height, options.fps, audio_path, settings,
                                 pass_no=pass_no, passlog=Path(logs) / "pass")
            with FrameSink(cmd, frame_bytes) as sink:
                _feed(compositor, scene, sink, progress, done=(pass_no - 1) * scene.n_frames,
                      total=2 * scene.n_frames)
    if progress:
        progress(2 * scene.n_frames, 2 * scene.n_frames)


def _feed(compositor: Compositor, scene: Scene, sink: FrameSink, progress: Progress | None, done: int = 0,
          total: int | None = None) -> None:
    """Composite every frame of the scene into the encoder, reporting about once per second of video.

    Frames depend only on their index (parts redraw from state, not from the previous
    frame), so a second pass can start again at frame 0 with the same compositor.
    """
    total = total or scene.n_frames
    for k in range(scene.n_frames):
        sink.write(compositor.render(k).buffer)
        if progress and k % scene.fps == scene.fps - 1:
            progress(done + k + 1, total)


def render_still(audio_path: Path, lines: list[LyricLine], cover_path: Path | None, title: str, t: float,
                 options: RenderOptions, subtitle: str = "", art_path: Path | None = None,
                 analysis: SongAnalysis | None = None) -> Image.Image:
    """The frame at time t as an RGB image (previews, thumbnails, visual checks)."""
    scene = build_scene(audio_path, lines, cover_path, title, options, subtitle, art_path, Music.of(analysis))
    index = min(max(int(round(t * scene.fps)), 0), scene.n_frames - 1)
    with scene.compositor as compositor:
        return Image.fromarray(compositor.render(index).to_rgb())


def check_options(options: RenderOptions, seconds: float) -> tuple[Layout, Style]:
    """Validate frame size and rate (what the codec plays, what memory holds for a song of
    `seconds`: mvflow.render.limits) and the style, before anything is rendered; one clear
    ValueError (InputError for the frame) each."""
    check_frame(options.width, options.height, options.fps, options.codec, seconds)
    return _layout_and_style(options)


def _layout_and_style(options: RenderOptions) -> tuple[Layout, Style]:
    style = load_style(options.style, options.overrides)
    return Layout.for_style(options.width, options.height, style.layout), style


@dataclass(frozen=True)
class Music:
    """What the motion follows, on the video's clock: the analysis's times and a clip's fades."""

    times: MusicTimes | None = None
    fade_in: float = 0.0
    fade_out: float = 0.0

    @classmethod
    def of(cls, analysis: SongAnalysis | None, clip: Clip | None = None) -> Music:
        offset, length = (clip.start, clip.duration) if clip else (0.0, None)
        times = MusicTimes.from_analysis(analysis, offset, length) if analysis is not None else None
        return cls(times, clip.fade_in if clip else 0.0, clip.fade_out if clip else 0.0)


def build_scene(audio_path: Path, lines: list[LyricLine], cover_path: Path | None, title: str,
                options: RenderOptions, subtitle: str = "", art_path: Path | None = None,
                music: Music | None = None) -> Scene:
    """Everything prepared once: backdrop with title, bar heights for every frame, lyrics, motion.
    (The frame size is checked by render_music_video, before the encoder starts.)"""
    music = music or Music()
    layout, style = _layout_and_style(options)
    fps = options.fps
    with ThreadPoolExecutor(max_workers=1) as pool:
        decoding = pool.submit(decode_audio, audio_path, FEATURE_RATE)  # ffmpeg runs meanwhile
        cover = load_cover(Path(cover_path)) if cover_path else None
        art = load_cover(Path(art_path)) if art_path else cover
        accent = _accent(style, art)
        painter = CardPainter(layout, style, accent)
        overlays = [layer for layer in (_art_layer(layout, art), _title_layer(painter, layout, title, subtitle, art),
                                        _credit_layer(painter, layout)) if layer]
        backdrop = _backdrop(layout, style, fps, cover, accent, overlays)
        samples = decoding.result()
    duration = len(samples) / FEATURE_RATE
    if duration <= 0:
        raise ValueError(f"audio {audio_path} is empty")
    n_frames = max(1, round(duration * fps))
    bars = build_visualiser(style.visualiser, layout.bars_box, layout.unit, samples, n_frames, fps,
                            (accent, shifted_hue(accent, 50)))
    motion = style.motion
    rise = layout.px(motion.entrance_distance) if motion.entrance != "none" else 0
    captions = Captions(Timeline(lines, style), painter, layout.lyric_box, layout.wipe_step, rise_px=rise)
    if music.times is not None and motion.section != "none":
        backdrop = GradedBackdrop(backdrop, section_levels(music.times, motion, n_frames, fps), accent,
                                  motion.section_amount)
    compositor = Compositor(layout.width, layout.height, fps, backdrop, [bars, captions],
                            _finish(layout, motion, music, n_frames, fps, bars.box))
    return Scene(compositor, n_frames, duration, fps)


def _finish(layout: Layout, motion: MotionSpec, music: Music, n_frames: int, fps: int,
            glow_box: Box) -> FrameFinish | None:
    """The last pass over each frame (beat pulse and glow, fades), or None when it has nothing to do."""
    none = np.zeros(0, np.int32)
    gain, glow = pulse_levels(music.times, motion, n_frames, fps) if music.times is not None else (none, none)
    fades = fade_levels(n_frames, fps, music.fade_in, music.fade_out)
    if not gain.any() and not glow.any() and fades is None:
        return None
    return FrameFinish(layout.width, layout.height, gain, glow, glow_box, fades)


def _accent(style: Style, cover: Image.Image | None) -> Color:
    if style.accent:
        return style.accent
    return accent_from_image(cover, style.fallback_accent) if cover is not None else style.fallback_accent


def _title_layer(painter: CardPainter, layout: Layout, title: str, subtitle: str,
                 cover: Image.Image | None) -> Layer | None:
    if not (title.strip() or subtitle.strip() or cover is not None):
        return None
    card = painter.title_card(title, subtitle, cover)
    return Layer.from_rgba(card, layout.title_box.x0 - painter.bleed, layout.title_box.y0 - painter.bleed)


def _art_layer(layout: Layout, art: Image.Image | None) -> Layer | None:
    """The square cover picture centred in the style's art box (vertical style), if it has one."""
    box = layout.art_box
    if box is None or art is None:
        return None
    shadow = even_round(layout.px(0.02, 2))
    side = even_round(min(box.width, box.height) - 2 * shadow)
    if side < 8:
        return None
    x = even_round(box.x0 + (box.width - side) / 2) - shadow
    y = even_round(box.y0 + (box.height - side) / 2) - shadow
    return Layer.from_rgba(art_picture(art, side, shadow), max(0, x), max(0, y))


def _credit_layer(painter: CardPainter, layout: Layout) -> Layer | None:
    if layout.credit_box is None or not painter.style.credit.strip():
        return None
    card = painter.credit_card(painter.style.credit)
    return Layer.from_rgba(card, layout.credit_box.x0 - painter.bleed, layout.credit_box.y0 - painter.bleed)


def _backdrop(layout: Layout, style: Style, fps: int, cover: Image.Image | None, accent: Color,
              overlays: list[Layer]) -> Backdrop:
    """The cover, filled and dimmed, still or moving (pan, zoom); or a slowly drifting colour wash
    when there is no cover (or the style asks for the gradient)."""
    width, height = layout.width, layout.height
    bg = style.background
    if cover is not None and not bg.gradient:
        def filled(w: int, h: int) -> np.ndarray:
            return cover_background(cover, w, h, bg.dim, bg.blur * layout.unit, bg.fit)

        if bg.motion == "pan" and bg.travel > 0:
            mx, my = even_round(bg.travel * width / 2), even_round(bg.travel * height / 2)
            return DriftingBackground(filled(width + 2 * mx, height + 2 * my), width, height, fps, overlays,
                                      periods=(bg.period, bg.period * 0.69))
        if bg.motion == "zoom" and bg.travel > 0:
            big = filled(even_round(width * (1 + bg.travel)), even_round(height * (1 + bg.travel)))
            return ZoomingBackground(big, width, height, fps, overlays, bg.travel, bg.period)
        return StaticBackground(filled(width, height), overlays)
    margin_x, margin_y = even_round(0.025 * width), even_round(0.025 * height)
    tex_w, tex_h = width + 2 * margin_x, height + 2 * margin_y
    palette = [accent, shifted_hue(accent, 70, 0.45), shifted_hue(accent, -60, 0.35), (18, 16, 34)]
    texture = gradient_texture(tex_w, tex_h, palette) * shade_map(tex_w, tex_h, min(1.0, bg.dim * 1.6))
    return DriftingBackground(np.clip(texture, 0, 255), width, height, fps, overlays)
