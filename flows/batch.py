"""Batches: many song requests from one file, made by one flow run, one bad song never sinking the rest.

A batch file is YAML or JSON (`{"name": ..., "defaults": {...}, "songs": [{...}, ...]}`) or
CSV (header = `VideoSpec` field names, one row per song, defaults in an optional sibling
`<stem>.defaults.yaml`). Every entry accepts exactly what `mvflow make` accepts and is
validated — spec and flow inputs both — before anything runs, so a typo in song 9 fails
the batch at once instead of after eight videos.

`music_video_batch` runs each song's pipeline (`make_video`, the same one `music_video`
runs) in its own thread of ONE flow run: on SQLite a sub-flow per song measured ~3x slower.
Song generation waits on the song server's Prefect concurrency limit; lyrics, covers and
renders of finished songs share a CPU-slot semaphore sized by the machine's cores.
With a `deployment` (fan-out mode, mvflow.flows.fanout) each song is instead a flow run of
that deployment, so workers on any number of machines share the batch.
"""

from __future__ import annotations

import contextvars
import csv
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from prefect import flow
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import BaseModel, Field

from mvflow.errors import BatchError, SpecError
from mvflow.files import slugify
from mvflow.flows.music_video import results_folder, tag_flow_run, video_folder
from mvflow.flows.outcome import SongOutcome, made_video
from mvflow.flows.spec import VideoSpec, flow_params, lrc_warnings, portable_spec, spec_from
from mvflow.flows.steps import StepRunner
from mvflow.song import ensure_song_limit, song_limit_name, song_limit_names

BATCH_SUFFIXES = (".yaml", ".yml", ".json", ".csv")
TOP_LEVEL_KEYS = {"name", "defaults", "songs"}
#: VideoSpec fields holding file paths: relative ones are read from the batch file's folder.
PATH_FIELDS = tuple(name for name, info in VideoSpec.model_fields.items() if "Path" in str(info.annotation))


class BatchSong(BaseModel):
    """One validated entry: its position in the file, its title (an idea's songwriter names its song
    later: until then the idea stands in), the `music_video` inputs, and the spec a worker makes the
    same video from (fan-out mode: mvflow.flows.fanout)."""

    number: int
    where: str = Field(description="How errors name it: 'song 3' or 'row 4'")
    title: str
    params: dict[str, Any]
    warnings: list[str] = Field(default_factory=list, description="What its own LRC earns before it runs")
    spec: dict[str, Any] = Field(description="portable_spec: every setting written out, lyrics inline")


class Batch(BaseModel):
    name: str
    source: Path
    defaults: dict[str, Any] = Field(default_factory=dict)
    songs: list[BatchSong]


# ---------------------------------------------------------------- reading and validating


def load_batch(path: Path | str, output_dir: Path | str | None = None) -> Batch:
    """Read and validate a batch file; `output_dir` (relative to the working directory) overrides every song's.

    Raises BatchError listing every bad entry; nothing has run by then.
    """
    path = Path(path).expanduser().resolve()
    name, defaults, entries, where = _read(path)
    problems: list[str] = []
    base = _validated_defaults(path, defaults, problems)
    overrides = {"output_dir": Path(output_dir).expanduser().resolve()} if output_dir else {}
    songs = [_song(path, n, entry, base, overrides, where, problems) for n, entry in enumerate(entries, 1)]
    songs = [song for song in songs if song is not None]
    problems += _same_folder_problems(path, songs)
    if problems:
        raise BatchError(problems)
    return Batch(name=name, source=path, defaults=defaults, songs=songs)


def _read(path: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]], str]:
    """(name, defaults, raw song entries, what an entry is called) from a YAML, JSON or CSV file."""
    if not path.is_file():
        raise BatchError([f"batch file not found: {path}"])
    if path.suffix.lower() not in BATCH_SUFFIXES:
        raise BatchError([f"{path.name}: a batch file must end in {', '.join(BATCH_SUFFIXES)}"])
    if path.suffix.lower() == ".csv":
        header = _csv_defaults(path)
        return header.get("name") or path.stem, header.get("defaults") or {}, _csv_rows(path), "row"
    data = _parse_mapping(path)
    songs = data.get("songs")
    if not isinstance(songs, list) or not all(isinstance(entry, dict) for entry in songs):
        raise BatchError([f"{path.name}: 'songs' must be a list of song requests (mappings)"])
    return str(data.get("name") or path.stem), data.get("defaults") or {}, songs, "song"


def _parse_mapping(path: Path) -> dict[str, Any]:
    """A YAML/JSON batch (or CSV defaults) file's top-level mapping, with only known keys."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise BatchError([f"{path.name}: not valid {path.suffix[1:].upper()}: {' '.join(str(exc).split())}"]) from None
    if not isinstance(data, dict):
        raise BatchError([f"{path.name}: expected a mapping with name, defaults and songs"])
    unknown = sorted(set(data) - TOP_LEVEL_KEYS)
    if unknown:
        raise BatchError([f"{path.name}: unknown key(s) {unknown}; a batch has {sorted(TOP_LEVEL_KEYS)}"])
    if not isinstance(data.get("defaults") or {}, dict):
        raise BatchError([f"{path.name}: 'defaults' must be a mapping of request fields"])
    return data


def _csv_defaults(path: Path) -> dict[str, Any]:
    """The optional sibling `<stem>.defaults.yaml` (or .yml/.json) of a CSV batch: its name and defaults."""
    for suffix in (".yaml", ".yml", ".json"):
        sibling = path.with_name(f"{path.stem}.defaults{suffix}")
        if sibling.is_file():
            data = _parse_mapping(sibling)
            if "songs" in data:
                raise BatchError([f"{sibling.name}: songs belong in {path.name}, not in its defaults file"])
            return data
    return {}


def _csv_rows(path: Path) -> list[dict[str, Any]]:
    """One entry per data row; empty cells mean 'not given' (so defaults and settings apply)."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if None in row:
            raise BatchError([f"{path.name}: a row has more cells than the header has columns"])
    return [{key.strip(): value for key, value in row.items() if value is not None and value.strip() != ""}
            for row in rows]


def _validated_defaults(path: Path, defaults: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """The defaults, checked on their own so a bad default is reported once, not once per song."""
    try:
        spec_from(defaults)
    except SpecError as exc:
        problems.append(f"{path.name}: defaults: {exc}")
        return {}
    return defaults


def _song(path: Path, number: int, entry: dict[str, Any], defaults: dict[str, Any], overrides: dict[str, Any],
          kind: str, problems: list[str]) -> BatchSong | None:
    """Validate one entry (spec and flow inputs); record a problem naming it and return None when bad."""
    shown = number + 1 if kind == "row" else number  # CSV rows count like a spreadsheet: the header is row 1
    where = f"{kind} {shown}"
    try:
        spec = _relative_to(spec_from({**entry, **overrides}, base=defaults), path.parent)
        params = flow_params(spec, base_dir=path.parent)
    except SpecError as exc:
        problems.append(f"{path.name}: {where}{_named(entry)}: {exc}")
        return None
    warnings = [f"{path.name}: {where}{_named(entry)}: {warning}" for warning in lrc_warnings(params)]
    return BatchSong(number=number, where=where, title=params["title"] or params["idea"].idea, params=params,
                     warnings=warnings, spec={**portable_spec(spec, path.parent), "title": params["title"]})


def _named(entry: dict[str, Any]) -> str:
    """' (title 'Rain')' — or the start of the idea or caption — so an error can be found in a long file."""
    for key in ("title", "idea", "caption"):
        if entry.get(key):
            return f" ({key} {str(entry[key])[:40]!r})"
    return ""


def _relative_to(spec: VideoSpec, folder: Path) -> VideoSpec:
    """The spec with its relative file paths (lyrics_file, cover, lrc, ...) made absolute from `folder`."""
    update = {}
    for name in PATH_FIELDS:
        value = getattr(spec, name)
        if value is not None:
            value = value.expanduser()
            update[name] = value if value.is_absolute() else folder / value
    return spec.model_copy(update=update)


def song_folder(song: BatchSong) -> Path:
    """Where the song's video goes: named by its title, or by its idea when the songwriter names it."""
    params = song.params
    return video_folder(params["output_root"], params["title"], params.get("idea"))


def _same_folder_problems(path: Path, songs: list[BatchSong]) -> list[str]:
    """Two songs whose titles give the same output folder would overwrite each other: an error, not a guess."""
    seen: dict[Path, BatchSong] = {}
    problems = []
    for song in songs:
        folder = song_folder(song)
        if folder in seen:
            problems.append(f"{path.name}: {seen[folder].where} and {song.where} both write {folder} "
                            f"(titles {seen[folder].title!r} and {song.title!r}): give one a different title")
        seen.setdefault(folder, song)
    return problems


# ---------------------------------------------------------------- running


class BatchReport(BaseModel):
    name: str
    source: str
    seconds: float
    songs: list[SongOutcome]

    @property
    def failed(self) -> list[SongOutcome]:
        return [song for song in self.songs if song.status == "failed"]

    def headline(self) -> str:
        counts = {status: sum(s.status == status for s in self.songs) for status in ("done", "cached", "failed")}
        return (f"batch {self.name!r}: {len(self.songs)} songs in {self.seconds:.1f} s — {counts['done']} made, "
                f"{counts['cached']} already done (cached), {counts['failed']} failed")

    def table(self) -> list[dict[str, Any]]:
        """Rows of the batch's table artifact (and of the terminal summary); in fan-out mode each song
        links to its own flow run (the dashboard renders a cell's markdown) and names its worker."""
        return [{"song": f"[{s.title}]({s.flow_run})" if s.flow_run else s.title, "status": s.status,
                 "length (s)": round(s.length, 1) if s.length else None, "wall (s)": round(s.seconds, 1),
                 "time per step": s.step_times(), "video": s.video or "", "folder": s.out_dir,
                 "reason": s.reason or "", "warnings": " / ".join(s.warnings), "worker": s.worker or ""}
                for s in self.songs]


class BatchProgress:
    """The batch's progress artifact: the share of songs finished, updated as each one ends."""

    def __init__(self, total: int, name: str) -> None:
        self.total, self.done = total, 0
        self._lock = threading.Lock()
        self._id = create_progress_artifact(progress=0.0, description=f"batch {name}: songs finished")

    def one_more(self) -> int:
        with self._lock:
            self.done += 1
            update_progress_artifact(self._id, progress=round(100 * self.done / self.total, 1))
            return self.done


@dataclass
class _Shared:
    """What the songs of one batch run share: its name, the CPU slots, the song queues, the progress."""

    batch_name: str
    cpu_slots: threading.Semaphore
    song_queues: dict[str, threading.Semaphore]
    progress: BatchProgress


def run_song(song: BatchSong, shared: _Shared) -> SongOutcome:
    """One song's whole pipeline; any failure becomes the outcome instead of stopping the batch."""
    runner = StepRunner(results_folder(song.params["output_root"]), label=song.title, cpu_slots=shared.cpu_slots,
                        song_queues=shared.song_queues)
    outcome = made_video(song.number, song.title, song.params, runner, f"batch:{shared.batch_name}")
    log_outcome(outcome, shared.progress.one_more(), shared.progress.total)
    return outcome


def log_outcome(outcome: SongOutcome, done: int, total: int) -> None:
    logger = get_run_logger()
    if outcome.status == "failed":
        logger.error("[%d/%d] %r FAILED after %.1f s — %s", done, total, outcome.title, outcome.seconds,
                     outcome.reason)
    else:
        logger.info("[%d/%d] %r %s in %.1f s: %s", done, total, outcome.title,
                    "cached" if outcome.status == "cached" else "made", outcome.seconds, outcome.video)


def song_threads(songs: int, max_concurrent_songs: int, cpu_slots: int) -> int:
    """Pipelines run at once: enough to keep every song slot and CPU slot busy; more would only wait."""
    return max(1, min(songs, max_concurrent_songs + cpu_slots + 2))


def run_songs(batch: Batch, limits: list[str], max_concurrent_songs: int, cpu_slots: int) -> list[SongOutcome]:
    """Every song's pipeline in a thread of this flow run (threads inherit the run's Prefect context).

    Songs queue here per server (a pool: per its first server, sized for all of its servers)."""
    queues = {song_limit_name(song.params["request"]): len(song_limit_names(song.params["request"]))
              for song in batch.songs}
    shared = _Shared(batch.name, threading.Semaphore(cpu_slots),
                     {name: threading.Semaphore(max_concurrent_songs * servers) for name, servers in queues.items()},
                     BatchProgress(len(batch.songs), batch.name))
    workers = song_threads(len(batch.songs), max_concurrent_songs, cpu_slots)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="song") as pool:
        futures = [pool.submit(contextvars.copy_context().run, run_song, song, shared) for song in batch.songs]
        return [future.result() for future in futures]


def prepare_song_limits(batch: Batch, max_concurrent_songs: int) -> list[str]:
    """Create (or set) the concurrency limit of every song server the batch uses, before any song starts."""
    names = sorted({name for song in batch.songs for name in song_limit_names(song.params["request"])})
    for name in names:
        ensure_song_limit(name, max_concurrent_songs)
    return names


def _batch_run_name() -> str:
    from prefect.runtime import flow_run

    return f"batch: {Path(flow_run.parameters.get('batch_file', 'batch')).stem}"


@flow(name="music_video_batch", flow_run_name=_batch_run_name, log_prints=True)
def music_video_batch(
    batch_file: str,
    max_concurrent_songs: int = 1,
    output_dir: str | None = None,
    cpu_slots: int | None = None,
    deployment: str | None = None,
) -> State:
    """Make every song of a batch file. The run fails (after all songs) when any song failed.

    max_concurrent_songs: songs generated at once per song server (a Prefect concurrency limit).
    output_dir: overrides every song's output folder. cpu_slots: CPU-heavy steps at once (default: cores).
    deployment: fan-out mode — every song becomes a flow run of this deployment (e.g. `mvflow/make`),
    made by whichever worker takes it; None (the default) makes every song in this flow run.
    """
    started = time.perf_counter()
    batch = load_batch(batch_file, output_dir=output_dir)
    tag_flow_run(["mvflow", f"batch:{batch.name}"])
    limits = prepare_song_limits(batch, max_concurrent_songs)
    logger = get_run_logger()
    for warning in (w for song in batch.songs for w in song.warnings):
        logger.warning(warning)
    if deployment:
        from mvflow.flows.fanout import fan_out

        logger.info("batch %r: %d songs from %s, each a run of %s; limits %s at %d", batch.name, len(batch.songs),
                    batch.source, deployment, ", ".join(limits), max_concurrent_songs)
        outcomes = fan_out(batch, deployment, BatchProgress(len(batch.songs), batch.name))
    else:
        cpu_slots = cpu_slots or os.cpu_count() or 1
        logger.info("batch %r: %d songs from %s; limits %s at %d; %d CPU slots", batch.name, len(batch.songs),
                    batch.source, ", ".join(limits), max_concurrent_songs, cpu_slots)
        outcomes = run_songs(batch, limits, max_concurrent_songs, cpu_slots)
    report = BatchReport(name=batch.name, source=str(batch.source), seconds=time.perf_counter() - started,
                         songs=outcomes)
    create_table_artifact(table=report.table(), key=f"batch-{slugify(batch.name)}"[:100],
                          description=report.headline())
    if report.failed:
        failed = "; ".join(f"{s.title!r} ({s.reason})" for s in report.failed)
        return Failed(message=f"{report.headline()}: {failed}", data=report)
    return Completed(message=report.headline(), data=report)
