"""`mvflow batch` and `mvflow serve`: a channel's list of songs, now or on a schedule.

Both validate the whole batch file first and print every problem (entry/row and field),
so nothing runs on a file with a typo. `batch` prints a summary table and exits non-zero
when any song failed; `serve` registers a scheduled deployment of the batch flow and runs
its runs until Ctrl-C / SIGTERM (which pauses the schedule).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from mvflow.cli.common import DEBUG, console, warn


def _load(batch_file: Path, output_dir: Path | None):  # noqa: ANN202 - mvflow.flows.batch.Batch
    """The validated batch (its warnings printed), or every problem printed and exit status 1."""
    from mvflow.errors import BatchError
    from mvflow.flows.batch import load_batch

    try:
        batch = load_batch(batch_file, output_dir=output_dir)
    except BatchError as exc:
        for problem in exc.problems:
            console.print(f"[bold red]error:[/] {problem}")
        raise typer.Exit(code=1) from None
    warn([warning for song in batch.songs for warning in song.warnings])
    return batch


def _plan_table(batch) -> Table:  # noqa: ANN001 - mvflow.flows.batch.Batch
    from mvflow.flows.batch import song_folder

    table = Table(title=f"batch {batch.name}: {len(batch.songs)} songs (validated)")
    for column in ("#", "title", "engine", "length", "video", "output folder"):
        table.add_column(column)
    for song in batch.songs:
        p = song.params
        render = p["render_options"]
        idea = p.get("idea")
        title = f"(idea, by {p['songwriter'].provider}) {song.title}" if idea and not p["title"] else song.title
        length = "plan's" if idea and idea.duration is None else f"{p['request'].duration:.0f} s"
        table.add_row(str(song.number), title, p["request"].engine, length,
                      f"{render.width}x{render.height}@{render.fps}", str(song_folder(song)))
    return table


def _summary_table(report) -> Table:  # noqa: ANN001 - mvflow.flows.batch.BatchReport
    colours = {"done": "green", "cached": "cyan", "failed": "bold red"}
    workers = any(song.worker for song in report.songs)  # fan-out mode: which worker made each song
    table = Table(title=report.headline())
    for column in ("song", "status", "length", "wall", "time per step", "video / reason", *(["worker"] * workers)):
        table.add_column(column, overflow="fold")
    for song in report.songs:
        table.add_row(song.title, f"[{colours[song.status]}]{song.status}[/]",
                      f"{song.length:.1f} s" if song.length else "-", f"{song.seconds:.1f} s", song.step_times(),
                      song.reason if song.status == "failed" else (song.video or ""),
                      *([song.worker or "-"] * workers))
    return table


DEPLOYMENT_HELP = ("Fan-out mode: make every song as a flow run of this deployment (e.g. mvflow/make from "
                   "prefect.yaml), taken by Prefect workers on any machine. Default: all songs in this process.")


def batch(
    batch_file: Annotated[Path, typer.Argument(help="Batch file: YAML, JSON or CSV (see templates/batch_example.yaml).")],
    max_concurrent_songs: Annotated[int, typer.Option(min=1, help="Songs generated at once per song server (a Prefect concurrency limit).")] = 1,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Put every song's outputs here (overrides the file).")] = None,
    cpu_slots: Annotated[Optional[int], typer.Option(min=1, help="CPU-heavy steps (lyrics, covers, renders) at once (default: the number of cores).")] = None,
    deployment: Annotated[Optional[str], typer.Option("--deployment", help=DEPLOYMENT_HELP)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate the file and show the plan; run nothing.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
) -> None:
    """Make every song of a batch file; one failing song never stops the others. Exit 1 if any failed."""
    DEBUG["on"] = debug
    plan = _load(batch_file, output_dir)
    if dry_run:
        console.print(_plan_table(plan))
        return
    from mvflow.flows.batch import BatchReport, music_video_batch

    where = f", each a run of {deployment} on a worker" if deployment else ""
    console.print(f"[bold]mvflow[/] batch [cyan]{plan.name}[/]: {len(plan.songs)} songs, "
                  f"{max_concurrent_songs} at a time per song server{where}")
    state = music_video_batch(batch_file=str(plan.source), max_concurrent_songs=max_concurrent_songs,
                              output_dir=str(output_dir.resolve()) if output_dir else None,
                              cpu_slots=cpu_slots, deployment=deployment, return_state=True)
    report = state.result(raise_on_failure=False)
    if not isinstance(report, BatchReport):  # the flow itself broke before making a report
        if debug and isinstance(report, BaseException):
            raise report
        console.print(f"[bold red]error:[/] batch run {state.name}: {state.message}")
        raise typer.Exit(code=1)
    console.print(_summary_table(report))
    for song in report.failed:  # unwrapped, so the reason can be read and copied whole
        console.print(f"[bold red]failed:[/] {song.title} — {song.reason}")
    warn([f"{song.title}: {warning}" for song in report.songs for warning in song.warnings])
    console.print(report.headline())
    raise typer.Exit(code=1 if report.failed else 0)


def serve(
    batch_file: Annotated[Path, typer.Argument(help="Batch file: YAML, JSON or CSV.")],
    cron: Annotated[str, typer.Option("--cron", help="When to run, as cron: '0 9 * * *' = every day at 09:00.")],
    timezone: Annotated[str, typer.Option(help="IANA time zone of the cron schedule, e.g. Europe/Berlin.")] = "UTC",
    name: Annotated[Optional[str], typer.Option("--name", help="Deployment name (default: the batch's name).")] = None,
    max_concurrent_songs: Annotated[int, typer.Option(min=1, help="Songs generated at once per song server.")] = 1,
    output_dir: Annotated[Optional[Path], typer.Option("--output-dir", "-o", help="Put every song's outputs here (overrides the file).")] = None,
    deployment: Annotated[Optional[str], typer.Option("--deployment", help=DEPLOYMENT_HELP)] = None,
) -> None:
    """Run a batch on a schedule: registers a deployment and serves its runs until Ctrl-C (pauses the schedule)."""
    plan = _load(batch_file, output_dir)
    from prefect.client.schemas.schedules import CronSchedule
    from pydantic import ValidationError

    try:
        CronSchedule(cron=cron, timezone=timezone)
    except (ValidationError, ValueError) as exc:
        console.print(f"[bold red]error:[/] --cron {cron!r} / --timezone {timezone!r}: "
                      f"{' '.join(str(exc).split())[:200]}")
        raise typer.Exit(code=1) from None
    from prefect.schedules import Cron

    from mvflow.flows.batch import music_video_batch

    parameters = {"batch_file": str(plan.source), "max_concurrent_songs": max_concurrent_songs,
                  "output_dir": str(output_dir.resolve()) if output_dir else None, "deployment": deployment}
    console.print(f"[bold]mvflow[/] serving batch [cyan]{plan.name}[/] ({len(plan.songs)} songs) on "
                  f"'{cron}' ({timezone}); the file is re-read at every run. Ctrl-C stops.")
    served = name or plan.name
    signal.signal(signal.SIGTERM, _exit_on_sigterm)  # until Prefect's runner installs its own
    try:
        music_video_batch.serve(name=served, schedule=Cron(cron, timezone=timezone), parameters=parameters,
                                tags=["mvflow", f"batch:{plan.name}"],
                                description=f"mvflow batch {plan.source} on '{cron}' ({timezone})")
    finally:
        _pause(f"{music_video_batch.name}/{served}")


def _exit_on_sigterm(*_args: object) -> None:
    """SIGTERM before the runner is up still ends in `finally` (and so pauses the schedule)."""
    sys.exit(0)


def _pause(deployment: str) -> None:
    """Pause the served schedule on the way out. Prefect 3.8's own pause-on-SIGTERM never runs
    (its handler drops the coroutine that would pause), and a schedule nobody serves would
    pile up late runs."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.pause_deployment(client.read_deployment_by_name(deployment).id)
    except Exception as exc:  # noqa: BLE001 - shutting down: report, never mask the original exit
        console.print(f"[yellow]warning:[/] could not pause {deployment}: {exc}")
        return
    console.print(f"stopped; the schedule of {deployment} is paused")


def register(app: typer.Typer) -> None:
    """Add `batch` and `serve` to the mvflow command."""
    app.command()(batch)
    app.command()(serve)
