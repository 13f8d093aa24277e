"""Step 4 — render the video (MP4 or WebM): cover background, visualiser, title and synced lyrics."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger

from mvflow.files import slugify, step_dir
from mvflow.models import Cover, FileArtifact, MusicVideo, RenderOptions, Song, SyncedLyrics
from mvflow.progress import StepProgress
from mvflow.retries import STEP_CACHE_POLICY, retry_options


def make_video(
    song: Song, lyrics: SyncedLyrics, cover: Cover, title: str, out_dir: Path | str, options: RenderOptions
) -> MusicVideo:
    """Render into a folder named by every input (upstream files by their sha256)."""
    from mvflow.render.codecs import get_codec
    from mvflow.render.video import render_music_video

    folder = step_dir(out_dir, "video", song, lyrics, cover, title, options)
    out_path = folder / f"{slugify(title, fallback='music-video')}{get_codec(options.codec).extension}"
    render_music_video(
        Path(song.audio.path), lyrics.lines, Path(cover.background.path), title, out_path, options,
        progress=StepProgress("render", f"rendering {out_path.name}"), art_path=Path(cover.square.path),
    )
    return MusicVideo(video=FileArtifact.from_path(out_path), title=title, song=song, lyrics=lyrics, cover=cover)


@task(
    name="render_video",
    task_run_name="render_video [{options.width}x{options.height}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def render_video(
    song: Song, lyrics: SyncedLyrics, cover: Cover, title: str, out_dir: str, options: RenderOptions
) -> MusicVideo:
    logger = get_run_logger()
    size = f", at most {options.max_size_mb:g} MB (two-pass)" if options.max_size_mb else ""
    logger.info("rendering %dx%d @ %d fps, %s %s%s", options.width, options.height, options.fps, options.codec,
                options.quality, size)
    video = make_video(song, lyrics, cover, title, out_dir, options)
    logger.info("video ready: %s", video.video.path)
    return video
