"""What a finished run leaves beside its files: manifest.json, friendly aliases, a Markdown summary.

The manifest lists every file with its sha256 and which step and engine/provider made it. It
holds no timings, so re-running a cached request leaves it byte-identical (and untouched).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from pydantic import BaseModel

from mvflow.files import atomic_path, write_text_atomic
from mvflow.models import FileArtifact, MusicVideo, Song, SongAnalysis, SongPlan, Take


class StepRun(BaseModel):
    """How one step went in this run: 'ran', 'cached' or 're-ran' (cached files were missing)."""

    name: str
    status: str
    seconds: float
    provider: str = ""


def _file_entry(role: str, step: str, made_by: str, art: FileArtifact, root: Path) -> dict:
    path = Path(art.path)
    shown = os.path.relpath(path, root) if path.is_relative_to(root) else str(path)
    return {"role": role, "step": step, "made_by": made_by, "path": shown, "sha256": art.sha256, "size": art.size}


def run_warnings(video: MusicVideo) -> list[str]:
    """What a user should know about how the video came out: the engine's substitutions (another seed,
    length or model than asked), and a song asked to have vocals in which no sung lyrics were found
    (lines that were sung but could not be timed are reported as unplaced instead)."""
    found = list(video.song.warnings)
    if video.song.vocals_expected and not video.lyrics.lines and not video.lyrics.unplaced:
        found.append("the song was asked to have vocals, but no sung lyrics were found in it: the video shows none")
    return found


def take_entry(take: Take, root: Path) -> dict:
    """A take in the manifest: its file, seed and score (lines it skipped), and whether it was chosen."""
    path = Path(take.audio.path)
    entry = {"take": take.number, "path": os.path.relpath(path, root) if path.is_relative_to(root) else str(path),
             "seed": take.seed}
    if take.score is not None:
        entry.update({"chosen": take.score.chosen, "lines": take.score.lines, "placed": take.score.placed,
                      "skipped": take.score.skipped, "confidence": take.score.confidence})
    return entry


def output_entries(videos: list[MusicVideo], out_dir: Path) -> tuple[list[dict], list[dict]]:
    """(file entries, "outputs" section) of a run's videos: full, short, square, each with its frame and
    the part of the song it shows."""
    from mvflow.render.outputs import render_step_name

    files, outputs = [], []
    for v in videos:
        entry = _file_entry("video" if v.output == "full" else f"video_{v.output}", render_step_name(v.output),
                            "mvflow", v.video, out_dir)
        files.append(entry)
        outputs.append({"output": v.output, "path": entry["path"], "width": v.width, "height": v.height,
                        "clip": v.clip.model_dump() if v.clip else None})
    return files, outputs


def analysis_entry(analysis: SongAnalysis) -> dict:
    """The song's analysis in the manifest: tempo, meter and sections (beats are in analysis.json)."""
    return {"tempo": analysis.tempo, "beats_per_bar": analysis.beats_per_bar, "beats": len(analysis.beats),
            "sections_from": analysis.sections_from,
            "sections": [{"kind": s.kind, "label": s.label, "start": s.start, "end": s.end}
                         for s in analysis.sections]}


def build_manifest(video: MusicVideo, out_dir: Path, request: BaseModel, videos: list[MusicVideo] | None = None,
                   plan: SongPlan | None = None) -> dict:
    """Every file of the run, grouped by the step and provider that made it (the song plan first, if any).
    `videos` are all the run's outputs (default: `video` alone)."""
    song, lyrics, cover = video.song, video.lyrics, video.cover
    planned = [("plan", plan.plan_file), ("plan_lyrics", plan.lyrics_file)] if plan is not None else []
    video_files, outputs = output_entries(videos or [video], out_dir)
    analysis = video.analysis
    files = [
        *(_file_entry(role, "write", plan.provider, art, out_dir) for role, art in planned),
        _file_entry("audio", "song", song.engine, song.audio, out_dir),
        _file_entry("song_result", "song", song.engine, song.result, out_dir),
        *(_file_entry(Path(f.path).stem, "song", song.engine, f, out_dir) for f in song.extra_files),
        *(_file_entry(f"lyrics_{fmt}", "lyrics", lyrics.provider, f, out_dir) for fmt, f in lyrics.files.items()),
        _file_entry("cover", "thumbnail", cover.provider, cover.background, out_dir),
        _file_entry("cover_square", "thumbnail", cover.provider, cover.square, out_dir),
        *([_file_entry("analysis", "analysis", "mvflow", analysis.file, out_dir)] if analysis else []),
        *video_files,
    ]
    return {
        "title": video.title,
        **({"plan": plan_summary(plan)} if plan is not None else {}),
        "request": request.model_dump(mode="json"),
        "song": {"engine": song.engine, "seed": song.seed, "seed_requested": song.seed_requested,
                 "seed_honoured": song.seed_honoured, "duration": round(song.duration, 3), "bpm": song.bpm,
                 "key_scale": song.key_scale, "time_signature": song.time_signature, "caption": song.caption,
                 "takes": [take_entry(take, out_dir) for take in song.takes]},
        "warnings": run_warnings(video),
        "lyrics": {"provider": lyrics.provider, "source": lyrics.source, "lines": len(lyrics.lines),
                   "by_source": lyrics.count_by_source(), "unsung": lyrics.unsung, "unplaced": lyrics.unplaced,
                   "outside": [line.model_dump() for line in lyrics.outside], "warnings": lyric_warnings(video),
                   "timing": [{"text": line.text, "start": round(line.start, 3), "source": line.source,
                               "confidence": line.confidence} for line in lyrics.lines]},
        "cover": {"provider": cover.provider},
        **({"analysis": analysis_entry(analysis)} if analysis else {}),
        "outputs": outputs,
        "files": files,
    }


def plan_summary(plan: SongPlan) -> dict:
    """The plan in the manifest: the idea, who wrote it, what the user fixed, and whether it needed a repair."""
    return {"idea": plan.idea, "songwriter": plan.provider, "model": plan.model, "title": plan.title,
            "given": plan.given, "repaired": plan.repaired, "notes": plan.notes}


def write_if_changed(path: Path, text: str) -> bool:
    """Write only when the content differs, so an unchanged re-run rewrites nothing."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    write_text_atomic(path, text)
    return True


def write_manifest(video: MusicVideo, out_dir: Path, request: BaseModel, videos: list[MusicVideo] | None = None,
                   plan: SongPlan | None = None) -> Path:
    path = out_dir / "manifest.json"
    manifest = build_manifest(video, out_dir, request, videos, plan)
    write_if_changed(path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return path


def publish_alias(src: Path, alias: Path) -> Path:
    """Hard-link (or copy) a step output to a stable name in the request folder, e.g. night-drive.mp4.

    Step outputs live in input-hashed folders; the alias always points at the latest run's file.
    An alias already pointing at the same file is left alone.
    """
    if alias.exists() and os.path.samefile(src, alias):
        return alias
    with atomic_path(alias) as tmp:
        tmp.unlink()
        try:
            os.link(src, tmp)
        except OSError:
            tmp.write_bytes(src.read_bytes())
    return alias


def cover_data_uri(image_path: Path, size: int = 192) -> str:
    """A small JPEG of the cover as a data: URI. The dashboard's browser cannot read the worker's
    files, so the picture travels inside the artifact (~10 KB); '' if the image cannot be read."""
    import base64
    import io

    from PIL import Image

    try:
        with Image.open(image_path) as image:
            thumb = image.convert("RGB")
            thumb.thumbnail((size, size))
    except OSError:
        return ""
    buffer = io.BytesIO()
    thumb.save(buffer, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def lyric_warnings(video: MusicVideo) -> list[str]:
    """The lyric lines the video cannot show where they are stamped, in the words every report uses."""
    from mvflow.lyrics.outside import outside_warnings

    return outside_warnings(video.lyrics.outside, video.song.duration)


def plan_markdown(plan: SongPlan) -> str:
    """The song plan in the run's artifact: the idea, who wrote it, the parameters and the whole lyric sheet."""
    given = f"; yours: {', '.join(plan.given)}" if plan.given else ""
    repaired = " after one repair" if plan.repaired else ""
    notes = "".join(f"\n- note: {note}" for note in plan.notes)
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", plan.lyrics)), default=0))
    return f"""
## Song plan

- idea: {plan.idea}
- written by `{plan.provider}` ({plan.model}){repaired}{given}
- caption: {plan.caption}
- {plan.duration:g} s, {plan.bpm} bpm, {plan.key_scale}, time signature {plan.time_signature}, \
language `{plan.language}`{notes}

{fence}text
{plan.lyrics}
{fence}
"""


def outputs_markdown(videos: list[MusicVideo]) -> str:
    """One line per output beyond the first: its frame, the part of the song and the file."""
    lines = []
    for v in videos[1:]:
        part = f", {v.clip.describe()}" if v.clip else ""
        lines.append(f"**{v.output.title()} ({v.width}x{v.height}{part}):** `{v.video.path}`  \n")
    return "".join(lines)


def summary_markdown(video: MusicVideo, steps: list[StepRun], manifest: Path, videos: list[MusicVideo] | None = None,
                     plan: SongPlan | None = None) -> str:
    """The run summary shown as a Prefect markdown artifact: cover, paths (every output), step timings, the
    song plan."""
    song, lyrics = video.song, video.lyrics
    picture = cover_data_uri(Path(video.cover.square.path))
    cover_line = f"![cover of {video.title}]({picture})\n\n" if picture else ""
    rows = "\n".join(f"| {s.name} | {s.provider} | {s.status} | {s.seconds:.1f} s |" for s in steps)
    unplaced = "".join(f"\n- unplaced lyric line: `{line}`" for line in lyrics.unplaced)
    unsung = "".join(f"\n- not sung: `{line}`" for line in lyrics.unsung)
    outside = "".join(f"\n- **warning:** {warning}" for warning in lyric_warnings(video))
    timing = f"{lyrics.source}: {lyrics.timing_summary()}" if lyrics.source == "aligned" else lyrics.source
    warnings = "".join(f"\n- warning: {line}" for line in run_warnings(video))
    return f"""# {video.title}

{cover_line}**Video:** `{video.video.path}`
{outputs_markdown(videos or [video])}**Manifest:** `{manifest}`

| step | engine/provider | status | wall time |
|---|---|---|---|
{rows}

- song: {song.duration:.1f} s, {song.bpm or '?'} bpm, {song.key_scale or '?'}, engine `{song.engine}`, {seed_text(song)}
- lyrics: {len(lyrics.lines)} lines ({timing}), provider `{lyrics.provider}`{unsung}{unplaced}{outside}
- cover: `{video.cover.background.path}` ({video.cover.provider}){warnings}
{takes_table(song.takes)}""" + (plan_markdown(plan) if plan is not None else "")


def seed_text(song: Song) -> str:
    """'seed 42', or 'seed 123 (42 was asked; the engine did not honour it)'."""
    if song.seed_honoured is False:
        return f"seed {song.seed} ({song.seed_requested} was asked; the engine did not honour it)"
    return f"seed {song.seed if song.seed is not None else 'not reported'}"


def takes_table(takes: list[Take]) -> str:
    """The takes as a Markdown table: score, the lines each skipped, and which one the video uses."""
    if not takes:
        return ""
    rows = []
    for take in takes:
        score = take.score
        skipped = ", ".join(f"`{line}`" for line in score.skipped) if score and score.skipped else "none"
        rows.append(f"| {take.number}{' (chosen)' if score and score.chosen else ''} | {take.seed or '?'} | "
                    + (f"{score.lines - len(score.skipped)}/{score.lines} | {score.confidence:.2f} | {skipped} |"
                       if score else "not compared | | |"))
    return ("\n### Takes\n\n| take | seed | lines sung | confidence | skipped |\n|---|---|---|---|---|\n"
            + "\n".join(rows) + "\n")
