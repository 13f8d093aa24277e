"""Step 4 — render the video (MP4 or WebM): cover background, visualiser, title and synced lyrics."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from mvflow.files import slugify, step_dir
from mvflow.models import Cover, FileArtifact, MusicVideo, RenderOptions, Song, SongAnalysis, SyncedLyrics
from mvflow.progress import StepProgress
from mvflow.retries import STEP_CACHE_POLICY, retry_options


def make_video(
    song: Song, lyrics: SyncedLyrics, cover: Cover, title: str, out_dir: Path | str, options: RenderOptions,
    analysis: SongAnalysis | None = None, output: str = "full",
) -> MusicVideo:
    """Render one output (mvflow.render.outputs) into a folder named by every input (upstream files
    by their sha256). `options` are already the output's own (its frame, a short's hand-picked range)."""
    from mvflow.render.codecs import get_codec
    from mvflow.render.outputs import OUTPUTS, render_step_name
    from mvflow.render.video import render_music_video

    kind = OUTPUTS.get(output)
    clip = kind.clip(analysis, lyrics.lines, options)
    folder = step_dir(out_dir, "video", song, lyrics, cover, title, options, analysis, output)
    out_path = folder / kind.file_name(slugify(title, fallback="music-video"), get_codec(options.codec).extension)
    render_music_video(
        Path(song.audio.path), lyrics.lines, Path(kind.cover_picture(cover, options.width, options.height).path),
        title, out_path, options, progress=StepProgress(render_step_name(output), f"rendering {out_path.name}"),
        art_path=Path(cover.square.path), analysis=analysis, clip=clip,
    )
    return MusicVideo(video=FileArtifact.from_path(out_path), title=title, song=song, lyrics=lyrics, cover=cover,
                      output=output, width=options.width, height=options.height, clip=clip, analysis=analysis)


@task(
    name="render_video",
    task_run_name="render_video [{output} {options.width}x{options.height}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def render_video(
    song: Song, lyrics: SyncedLyrics, cover: Cover, title: str, out_dir: str, options: RenderOptions,
    analysis: SongAnalysis | None = None, output: str = "full",
) -> MusicVideo:
    logger = get_run_logger()
    size = f", at most {options.max_size_mb:g} MB (two-pass)" if options.max_size_mb else ""
    logger.info("rendering the %s video, %dx%d @ %d fps, %s %s%s", output, options.width, options.height, options.fps,
                options.codec, options.quality, size)
    video = make_video(song, lyrics, cover, title, out_dir, options, analysis, output)
    if video.clip is not None:
        logger.info("%s: %s", output, video.clip.describe(" of the song"))
    logger.info("video ready: %s", video.video.path)
    return video
