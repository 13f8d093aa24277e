"""The `music_video` flow: one request in, one music video out.

    (write_song) ──► generate_song ──► transcribe_lyrics ──► analyse_song ─┐
    (an idea only)   (ACE-Step native: submit_song                       ├─► render_video per output ──►
                      + poll_song)   └► make_thumbnail ──────────────────┘     (full, short, square)
                                        (lyrics, then the analysis, run beside the cover)
    ──► manifest.json + dashboard artifact

With `--takes N` the lyrics step is time_takes: it times every take and the best one becomes the song.

Composition only: every step is a cached, retried Prefect task from its package (mvflow.songwriting,
mvflow.song, mvflow.lyrics, mvflow.analysis, mvflow.cover, mvflow.render); mvflow.flows.steps.StepRunner submits them
and verifies a cache hit's files. `make_video` is the per-video DAG; `music_video` runs it once,
the batch flow (mvflow.flows.batch) once per song in parallel threads of one flow run. With an
idea instead of lyrics, `write_song` writes the song plan first and the song is made from it.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, tags
from prefect.artifacts import create_markdown_artifact
from prefect.logging import get_run_logger
from pydantic import BaseModel

from mvflow.analysis import analyse_song
from mvflow.cover import make_thumbnail
from mvflow.errors import AceStepLostTask
from mvflow.files import slugify
from mvflow.flows.steps import StepRunner
from mvflow.lyrics import lyrics_task, resolve_options, song_and_lyrics
from mvflow.manifest import StepRun, publish_alias, summary_markdown, write_manifest
from mvflow.models import (
    Cover,
    CoverOptions,
    LyricsOptions,
    MusicVideo,
    RenderOptions,
    Song,
    SongAnalysis,
    SongIdea,
    SongPlan,
    SongRequest,
    SongwriterOptions,
    SyncedLyrics,
)
from mvflow.progress import video_progress
from mvflow.render import render_video
from mvflow.render.outputs import OUTPUTS, parse_outputs, render_step_name
from mvflow.settings import load_settings
from mvflow.song import generate_song, poll_song, submit_song, uses_submit_and_poll
from mvflow.songwriting import write_song
from mvflow.songwriting.providers import songwriter_options


class VideoRun(BaseModel):
    """What one flow run produced and how each step went."""

    video: MusicVideo
    out_dir: str
    manifest: str
    steps: list[StepRun]
    plan: SongPlan | None = None
    videos: list[MusicVideo] = []  # every output, in the order asked for (video is the first)

    @property
    def all_cached(self) -> bool:
        return all(s.status == "cached" for s in self.steps)


def _run_name() -> str:
    """The flow run's name: the title, or the idea while the songwriter has not named the song yet."""
    from prefect.runtime import flow_run

    params = flow_run.parameters
    idea = params.get("idea") or {}
    named = params.get("title") or (idea.get("idea") if isinstance(idea, dict) else getattr(idea, "idea", None))
    return f"music-video: {str(named or 'song')[:80]}"


@flow(name="music_video", flow_run_name=_run_name, log_prints=True)
def music_video(
    request: SongRequest,
    title: str | None,
    output_root: str = "mvflow_output",
    lyrics_options: LyricsOptions | None = None,
    cover_options: CoverOptions | None = None,
    render_options: RenderOptions | None = None,
    idea: SongIdea | None = None,
    songwriter: SongwriterOptions | None = None,
    outputs: list[str] | None = None,
) -> VideoRun:
    """Make one music video (and its short and square, if asked). Outputs go to <output_root>/<slug of the
    title, or of the idea>/.

    With an `idea` (and the `songwriter` that writes it) the song plan is written first, and
    `request` holds only what the user gave; the plan fills in the rest, the user's values winning.
    """
    runner = StepRunner(result_storage=results_folder(output_root), label=title or (idea.idea if idea else None))
    tag_flow_run(run_tags(request, render_options))
    with tags(*run_tags(request, render_options)):
        return make_video(runner, request, title, output_root, lyrics_options, cover_options, render_options,
                          idea, songwriter, outputs)


def video_folder(output_root: str, title: str | None, idea: SongIdea | None = None) -> Path:
    """A video's folder: <output_root>/<slug of its title>, or of its idea when the songwriter will name it
    (known before the plan exists, so a batch can check that no two songs share a folder)."""
    return Path(output_root).resolve() / slugify(title or (idea.idea if idea else "") or "song")


def make_video(
    runner: StepRunner,
    request: SongRequest,
    title: str | None,
    output_root: str = "mvflow_output",
    lyrics_options: LyricsOptions | None = None,
    cover_options: CoverOptions | None = None,
    render_options: RenderOptions | None = None,
    idea: SongIdea | None = None,
    songwriter: SongwriterOptions | None = None,
    outputs: list[str] | None = None,
) -> VideoRun:
    """One video's whole pipeline, for any flow: (plan ->) song -> (lyrics -> analysis || cover) -> a render
    per output -> manifest + artifact.

    The batch flow calls it once per song, each in its own thread, so a song's lyrics, cover
    and render start as soon as its own song is ready. A progress artifact follows the video
    through its steps (and the render frame by frame).
    """
    lyrics_options = lyrics_options or LyricsOptions()
    render_options = render_options or RenderOptions()
    cover_options = cover_options or CoverOptions(width=render_options.width, height=render_options.height)
    out_dir = video_folder(output_root, title, idea)
    out = str(out_dir)
    chosen = parse_outputs(outputs)

    plan = None
    with video_progress(title or (idea.idea if idea else "song"), renders=len(chosen)):
        if idea is not None:
            plan = write_step(runner, idea, songwriter or songwriter_options(load_settings(), request), out)
            request, title = plan.applied_to(request), plan.title
            if plan.language != "unknown":  # an instrumental plan may not say; whisper needs a real code
                lyrics_options = lyrics_options.model_copy(update={"language": plan.language})
        song = song_step(runner, request, out)
        lyrics_options = resolve_options(lyrics_options, song.lyrics)
        lyrics_pending = runner.submit(
            "lyrics", lyrics_options.transcriber, lyrics_task(song, lyrics_options),
            song=song, out_dir=out, options=lyrics_options, title=title,
        )
        cover_pending = runner.submit(
            "thumbnail", cover_options.provider, make_thumbnail,
            caption=song.caption, title=title, seed=request.seed, out_dir=out, options=cover_options,
        )
        song, lyrics = song_and_lyrics(song, runner.resolve(lyrics_pending))  # takes: the best take is the song
        analysis_pending = runner.submit("analysis", "mvflow", analyse_song, song=song, lyrics=lyrics, out_dir=out)
        cover = runner.resolve(cover_pending)
        analysis = runner.resolve(analysis_pending)
        videos = render_outputs(runner, chosen, song, lyrics, cover, analysis, title, out, render_options)
    return _publish(videos, runner.steps, out_dir, request, plan)


def write_step(runner: StepRunner, idea: SongIdea, songwriter: SongwriterOptions, out: str) -> SongPlan:
    """The song plan (no CPU slot: the songwriter's server does the work); later steps are named after it."""
    plan = runner.run("write", songwriter.provider, write_song, uses_cpu=False, idea=idea, out_dir=out,
                      options=songwriter)
    runner.label = plan.title
    return plan


def render_outputs(runner: StepRunner, outputs: list[str], song: Song, lyrics: SyncedLyrics, cover: Cover,
                   analysis: SongAnalysis, title: str, out: str, options: RenderOptions) -> list[MusicVideo]:
    """One cached render step per output (full, short, square), one after another: each already keeps
    both cores busy, and the song, lyrics, cover and analysis are shared."""
    videos = []
    for name in outputs:
        own = OUTPUTS.get(name).options(options)
        videos.append(runner.run(
            render_step_name(name), f"{own.width}x{own.height}", render_video,
            song=song, lyrics=lyrics, cover=cover, title=title, out_dir=out, options=own, analysis=analysis,
            output=name,
        ))
    return videos


def song_step(runner: StepRunner, request: SongRequest, out: str) -> Song:
    """The song, generated while holding a slot of the song server's concurrency limit."""
    with runner.song_turn(request) as aimed:
        return _generate(runner, aimed, out)


def _generate(runner: StepRunner, request: SongRequest, out: str) -> Song:
    """generate_song, or for ACE-Step's native API submit_song + poll_song (one resubmit if the task is lost).

    Song steps take no CPU slot: the song server's own limit already bounds them.
    """
    if not uses_submit_and_poll(request):
        return runner.run("song", request.engine, generate_song, uses_cpu=False, request=request, out_dir=out)
    job = runner.run("song-submit", request.engine, submit_song, uses_cpu=False, request=request, out_dir=out)
    try:
        return runner.run("song", request.engine, poll_song, uses_cpu=False, job=job, request=request, out_dir=out)
    except AceStepLostTask as exc:
        get_run_logger().warning("%s; submitting again once", exc)
        runner.failed_step = None
        job = runner.run("song-submit", request.engine, submit_song, refresh=True, uses_cpu=False,
                         request=request, out_dir=out)
        return runner.run("song", request.engine, poll_song, uses_cpu=False, job=job, request=request, out_dir=out)


def _publish(videos: list[MusicVideo], steps: list[StepRun], out_dir: Path, request: SongRequest,
             plan: SongPlan | None = None) -> VideoRun:
    """Manifest, the friendly alias of every output (night-drive.mp4, night-drive.short.mp4 ...) and the
    per-video markdown artifact (with the song plan, if any)."""
    video = videos[0]
    manifest = write_manifest(video, out_dir, request, videos, plan)
    for each in videos:
        publish_alias(Path(each.video.path), out_dir / Path(each.video.path).name)
    create_markdown_artifact(
        markdown=summary_markdown(video, steps, manifest, videos, plan),
        key=f"music-video-{slugify(video.title)}"[:100],
        description=f"Music video: {video.title}",
    )
    get_run_logger().info("%r done: %s", video.title, ", ".join(each.video.path for each in videos))
    return VideoRun(video=video, out_dir=str(out_dir), manifest=str(manifest), steps=steps, plan=plan,
                    videos=videos)


def results_folder(output_root: str) -> Path:
    """Where Prefect persists the step results of videos under `output_root`."""
    return Path(output_root).resolve() / ".prefect-results"


def run_tags(request: SongRequest, render_options: RenderOptions | None, *extra: str) -> list[str]:
    """Dashboard tags of a video's runs: which engine and style made it (plus e.g. its batch)."""
    style = (render_options or RenderOptions()).style
    return [f"engine:{request.engine}", f"style:{Path(style).stem}", *extra]


def tag_flow_run(extra: list[str]) -> None:
    """Add tags to the running flow run itself: a `tags()` context only reaches runs created inside it,
    and a dashboard filter on engine or style should find the flow runs, not just their tasks."""
    from prefect.client.orchestration import get_client
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return
    with get_client(sync_client=True) as client:
        client.update_flow_run(context.flow_run.id, tags=sorted({*context.flow_run.tags, *extra}))
