"""How one video of a batch went, whether it ran in a thread of the batch or as its own flow run on a worker.

`made_video` runs `make_video` and turns whatever happens into a `SongOutcome` (a failure is
recorded, never raised), so the in-process batch and the `mvflow` flow that a fan-out batch
starts per song (mvflow.flows.make) report a song the same way. A song run on a worker leaves
its outcome in `<output_root>/.mvflow-runs/<flow run id>.json` (`write_outcome`): the output
folder is the storage every worker and the batch share, so the batch reads each song's steps,
length and video from there (`read_outcome`) after the run ends.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Literal

from prefect import tags
from pydantic import BaseModel, Field, ValidationError

from mvflow.errors import fault_line
from mvflow.files import write_text_atomic
from mvflow.flows.music_video import make_video, run_tags, video_folder
from mvflow.flows.steps import StepRunner
from mvflow.manifest import StepRun, lyric_warnings

#: Folder under an output root holding the outcome of each song run a worker made.
OUTCOMES_FOLDER = ".mvflow-runs"


class SongOutcome(BaseModel):
    """How one song of a batch went; `reason` is one line naming the failed step."""

    number: int
    title: str
    status: Literal["done", "cached", "failed"]
    seconds: float
    length: float | None = Field(None, description="The song's length in seconds")
    video: str | None = None
    out_dir: str
    steps: list[StepRun] = Field(default_factory=list)
    reason: str | None = None
    warnings: list[str] = Field(default_factory=list, description="Lyric lines the video cannot show, and why")
    worker: str | None = Field(None, description="The Prefect worker that ran it (fan-out mode)")
    flow_run: str | None = Field(None, description="Dashboard URL of its own flow run (fan-out mode)")

    def step_times(self) -> str:
        """'song 1.2s · lyrics cached · ...': wall time of each step this run, or that it came from cache."""
        return " · ".join(f"{s.name} {'cached' if s.status == 'cached' else f'{s.seconds:.1f}s'}"
                          for s in self.steps)


def failure_reason(step: str | None, exc: BaseException) -> str:
    """One line: the step that failed and why (a user-fixable error's own message, else its type too)."""
    line = fault_line(exc)[:300]
    return f"{step}: {line}" if step else line


def worker_name() -> str | None:
    """The Prefect worker that started this process's flow run (workers set PREFECT__WORKER_NAME), if any."""
    return os.environ.get("PREFECT__WORKER_NAME") or None


def made_video(number: int, title: str, params: dict[str, Any], runner: StepRunner, *extra_tags: str) -> SongOutcome:
    """One video's whole pipeline; any failure becomes the outcome instead of stopping the caller.

    `title` names the song until it is made (an idea's songwriter names it: then the plan's title)."""
    out_dir = str(video_folder(params["output_root"], params["title"], params.get("idea")))
    started = time.perf_counter()
    try:
        with tags(*run_tags(params["request"], params["render_options"], *extra_tags)):
            run = make_video(runner, **params)
    except Exception as exc:  # noqa: BLE001 - one song's failure is recorded, never raised
        return SongOutcome(number=number, title=title, status="failed", out_dir=out_dir,
                           seconds=time.perf_counter() - started, steps=runner.steps,
                           reason=failure_reason(runner.failed_step, exc), worker=worker_name())
    return SongOutcome(number=number, title=run.video.title, out_dir=out_dir,
                       status="cached" if run.all_cached else "done", seconds=time.perf_counter() - started,
                       length=run.video.song.duration, video=run.video.video.path, steps=run.steps,
                       warnings=lyric_warnings(run.video), worker=worker_name())


def outcome_path(output_root: str | Path, flow_run_id: Any) -> Path:
    return Path(output_root) / OUTCOMES_FOLDER / f"{flow_run_id}.json"


def write_outcome(outcome: SongOutcome, output_root: str | Path, flow_run_id: Any) -> Path:
    """Leave the outcome where the batch that started this run reads it (atomic: never half a file)."""
    path = outcome_path(output_root, flow_run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, outcome.model_dump_json(indent=1) + "\n")
    return path


def read_outcome(output_root: str | Path, flow_run_id: Any) -> SongOutcome | None:
    """The outcome a song run left, or None (it died first, or the output folder is not shared with us)."""
    try:
        return SongOutcome.model_validate_json(outcome_path(output_root, flow_run_id).read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None
