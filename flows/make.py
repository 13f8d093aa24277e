"""The `mvflow` flow: one video from what `mvflow make` takes, checked exactly like `mvflow make` first.

It is what the `make` deployment runs (prefect.yaml: `mvflow/make`): a run started from the
dashboard's form, by `run_deployment` or by a fan-out batch (mvflow.flows.fanout) carries a
`VideoSpec` — the fields of `mvflow make`, spelled as in a batch file. `flow_params` turns it
into the pipeline's inputs with the same checks (mvflow.inputs) and settings precedence as the
command, so a bad field fails the run in one line before any work. Prefect's own parameter
validation is off (`validate_parameters=False`) so that even an unknown field reads like
`mvflow make`'s error, not a pydantic dump.

The run then makes the video with `make_video`, like `music_video`, and leaves its outcome for
the batch that waits for it (mvflow.flows.outcome). A failed song fails the run with its one-line
reason as the state message.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.context import FlowRunContext
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed, State
from pydantic import BaseModel

from mvflow.errors import SpecError
from mvflow.flows.music_video import results_folder, run_tags, tag_flow_run
from mvflow.flows.outcome import made_video, write_outcome
from mvflow.flows.spec import VideoSpec, default_title, flow_params, spec_from
from mvflow.flows.steps import StepRunner


def spec_fields(spec: Any) -> dict[str, Any]:
    """The fields of a spec however it arrived: a VideoSpec (a Python caller) or JSON (the API, the form)."""
    if isinstance(spec, BaseModel):
        return spec.model_dump(exclude_none=True)
    if not isinstance(spec, dict):
        raise SpecError(f"spec must be a mapping of mvflow make fields (caption, lyrics, title, ...), "
                        f"not {type(spec).__name__}")
    return spec


def _run_name() -> str:
    """'music-video: <title>', the title as `mvflow make` would choose it (the caption's start, or the idea)."""
    from prefect.runtime import flow_run

    spec = flow_run.parameters.get("spec")
    fields = spec if isinstance(spec, dict) else {}
    title = fields.get("title") or fields.get("idea") or default_title(
        str(fields.get("caption") or fields.get("description") or ""))
    return f"music-video: {str(title)[:80]}"


@flow(name="mvflow", flow_run_name=_run_name, log_prints=True, validate_parameters=False)
def make_from_spec(spec: VideoSpec, batch: str | None = None) -> State:
    """Make one music video from `mvflow make`'s fields (`spec`); `batch` names the batch it belongs to.

    Fails in one line, before any work, on a field `mvflow make` would refuse.
    """
    logger = get_run_logger()
    try:
        params = flow_params(spec_from(spec_fields(spec)))
    except SpecError as exc:
        logger.error("bad request: %s", exc)
        return Failed(message=f"bad request: {exc}")
    extra = [f"batch:{batch}"] if batch else []
    tag_flow_run(["mvflow", *run_tags(params["request"], params["render_options"], *extra)])
    title = params["title"] or params["idea"].idea  # an idea's songwriter names the song later
    runner = StepRunner(results_folder(params["output_root"]), label=title)
    outcome = made_video(1, title, params, runner, *extra)
    write_outcome(outcome, params["output_root"], FlowRunContext.get().flow_run.id)
    if outcome.status == "failed":
        logger.error("%r failed: %s", outcome.title, outcome.reason)
        # no data: Prefect resolves a failed state's data as the exception it raised (a SongOutcome there
        # printed a TypeError in the worker's log); the outcome is in the output folder (write_outcome)
        return Failed(message=outcome.reason)
    return Completed(message=f"{outcome.title!r} {'cached' if outcome.status == 'cached' else 'made'}: "
                             f"{outcome.video}", data=outcome)
