"""Fan-out batches: every song is its own flow run of the `make` deployment, made by whichever worker takes it.

`fan_out` submits each song of a validated batch with Prefect's `run_deployment` without waiting
(tagged with the batch and linked to the batch's run as its sub-run), then waits for all of them
by reading their states through the API. The song's spec is the batch entry with every setting
written out (mvflow.flows.spec.portable_spec), so a worker makes the video the batch validated,
and the run checks it again like `mvflow make` (mvflow.flows.make). An idempotency key per batch
run and song means a retried batch run never submits a song twice; a new batch run submits every
song again, and finished songs come back from the step cache (shared output folder) in seconds.

Each song's outcome is the one its run left in the shared output folder (mvflow.flows.outcome);
a run that ended without leaving one (it crashed, was cancelled, or its folder is not readable
here) is reported from its final state. One failing song never stops the others.

A worker that dies takes its song run with it, and nothing would ever end that run, so the batch
would wait forever. Song runs therefore send heartbeats every HEARTBEAT_SECONDS (set per run
through the job variables) and the batch makes sure an automation exists that marks a run tagged
`mvflow` Crashed after MISSED_HEARTBEATS missed beats — Prefect's documented recipe for "zombie"
runs. The batch then reports that song as failed, and a re-run finishes it from its cached steps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING
from uuid import UUID

from prefect.context import FlowRunContext
from prefect.logging import get_run_logger

from mvflow.files import slugify
from mvflow.flows.outcome import SongOutcome, read_outcome

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

    from mvflow.flows.batch import Batch, BatchProgress, BatchSong

#: Seconds between the heartbeats of a song run (Prefect's minimum is 30).
HEARTBEAT_SECONDS = 30
#: Heartbeats a song run may miss before the automation marks it Crashed.
MISSED_HEARTBEATS = 3
#: Name of the automation that ends the runs of dead workers.
CRASH_AUTOMATION = "mvflow: crash song runs whose worker stopped"
#: Seconds between two reads of the song runs' states.
POLL_SECONDS = 2.0


def fan_out(batch: Batch, deployment: str, progress: BatchProgress) -> list[SongOutcome]:
    """Submit every song as a run of `deployment`, wait for all, and return their outcomes in batch order."""
    logger = get_run_logger()
    ensure_crash_automation()
    runs = {song.number: submit_song_run(song, deployment, batch.name) for song in batch.songs}
    logger.info("batch %r: %d song runs of %s submitted; waiting for workers", batch.name, len(runs), deployment)
    finished = wait_for_runs(batch.songs, runs, progress)
    return [song_outcome(song, finished[song.number]) for song in batch.songs]


def submit_song_run(song: BatchSong, deployment: str, batch_name: str) -> FlowRun:
    """One song as a flow run of the deployment, returned at once (not waited for)."""
    from prefect.deployments import run_deployment

    context = FlowRunContext.get()
    parent = context.flow_run.id if context and context.flow_run else "no-run"
    request = song.params["request"]
    return run_deployment(
        deployment, parameters={"spec": song.spec, "batch": batch_name}, timeout=0,
        flow_run_name=f"music-video: {song.title}",
        tags=["mvflow", f"batch:{batch_name}", f"engine:{request.engine}"],
        idempotency_key=f"mvflow-batch-{parent}-song-{song.number}",
        job_variables={"env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}},
    )


def wait_for_runs(songs: list[BatchSong], runs: dict[int, FlowRun], progress: BatchProgress) -> dict[int, FlowRun]:
    """Read the runs' states until every one is final, logging each song as it ends."""
    from prefect.client.orchestration import get_client

    logger = get_run_logger()
    by_id = {run.id: number for number, run in runs.items()}
    titles = {song.number: song.title for song in songs}
    finished: dict[int, FlowRun] = {}
    with get_client(sync_client=True) as client:
        while len(finished) < len(runs):
            for run in _read_runs(client, [i for i, n in by_id.items() if n not in finished]):
                if run.state is not None and run.state.is_final():
                    number = by_id[run.id]
                    finished[number] = run
                    done = progress.one_more()
                    logger.info("[%d/%d] %r: %s%s", done, progress.total, titles[number], run.state.name,
                                f" — {run.state.message}" if run.state.message else "")
            if len(finished) < len(runs):
                time.sleep(POLL_SECONDS)
    return finished


def _read_runs(client, ids: Iterable[UUID]) -> list[FlowRun]:  # noqa: ANN001 - a sync PrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    ids = list(ids)
    return client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)), limit=len(ids))


def song_outcome(song: BatchSong, run: FlowRun) -> SongOutcome:
    """The song's outcome as its run recorded it, else as its final state tells it; linked to the run."""
    from prefect.utilities.urls import url_for

    output_root = song.params["output_root"]
    recorded = read_outcome(output_root, run.id)
    link = url_for(run)
    if recorded is not None:
        return recorded.model_copy(update={"number": song.number, "title": song.title, "flow_run": link})
    state = run.state
    seconds = run.total_run_time.total_seconds() if run.total_run_time else 0.0
    reason = f"the song's flow run ended {state.name}: {state.message or 'no message'}"
    if state.is_completed():  # completed, yet no outcome here: its output folder is not shared with this machine
        reason = f"made, but its outcome is not in {output_root} here: is the output folder shared?"
    return SongOutcome(number=song.number, title=song.title, status="failed", seconds=seconds,
                       out_dir=f"{output_root}/{slugify(song.title)}", reason=reason, flow_run=link)


def ensure_crash_automation(within_seconds: float | None = None) -> None:
    """Create the automation that marks an mvflow run Crashed when its heartbeats stop (once per server)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        if client.read_automations_by_name(CRASH_AUTOMATION):
            return
        client.create_automation(crash_automation(within_seconds or HEARTBEAT_SECONDS * MISSED_HEARTBEATS))
    get_run_logger().info("created the automation %r", CRASH_AUTOMATION)


def crash_automation(within_seconds: float):  # noqa: ANN201 - prefect.events.schemas.automations.AutomationCore
    """Prefect's zombie-run recipe, for runs tagged mvflow: a heartbeat, then neither another one nor a
    final state within `within_seconds`, and the run is set Crashed."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    return AutomationCore(
        name=CRASH_AUTOMATION,
        description="Song runs of mvflow batches send a heartbeat every "
                    f"{HEARTBEAT_SECONDS} s; a run whose worker died stops, and is marked Crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            match_related=ResourceSpecification({"prefect.resource.id": "prefect.tag.mvflow",
                                                 "prefect.resource.role": "tag"}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=within_seconds),
        ),
        actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                    message=f"no heartbeat for {within_seconds:.0f} s: its worker stopped")],
    )
