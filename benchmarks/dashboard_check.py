"""Check against a real dashboard: start `prefect server start`, run a small batch, read it all back.

    python benchmarks/dashboard_check.py            # exit 0 when every check passes
    python benchmarks/dashboard_check.py --keep     # leave the server up to look at it in a browser

Starts the server on a free 127.0.0.1 port (fresh PREFECT_HOME, telemetry off), runs
`mvflow batch` on 3 short offline songs (one made to fail in its lyrics step) as a separate
process, then reads back through the Prefect API: the batch flow run (name, tags, Failed
state naming the bad song), one task run per step named after its song, the tags, the
table / markdown / progress artifacts, the song server's concurrency limit and the log
lines — and that the dashboard's UI answers. Takes ~1-2 minutes here.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from local_prefect import client_env, prefect_server  # noqa: E402
from prefect.client.schemas.filters import (  # noqa: E402
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.sorting import FlowRunSort, LogSort, TaskRunSort  # noqa: E402

from mvflow.files import slugify  # noqa: E402

BATCH = {
    "name": "dashboard-check",
    "defaults": {"duration": 5, "resolution": "128x72", "fps": 8, "transcriber": "local", "output_dir": "out"},
    "songs": [
        {"title": "Rain", "caption": "calm piano, rain", "lyrics": "[Verse]\nRain is falling down\n"},
        {"title": "Broken", "caption": "lofi beat", "lyrics": "[Verse]\nThis one fails\n",
         "whisper_model": "/nonexistent-whisper-model"},
        {"title": "Summit", "caption": "epic rock anthem"},
    ],
}


class Checks:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'} {what}{f' — {detail}' if detail else ''}")


def run_batch(api_url: str, folder: Path) -> subprocess.CompletedProcess:
    path = folder / "dashboard-check.yaml"
    path.write_text(yaml.safe_dump(BATCH))
    started = time.perf_counter()
    result = subprocess.run([str(Path(sys.executable).parent / "mvflow"), "batch", str(path)], cwd=folder,
                            env=client_env(api_url), capture_output=True, text=True, timeout=900)
    print(f"mvflow batch: exit {result.returncode} in {time.perf_counter() - started:.1f} s")
    return result


@dataclass
class ReadBack:
    """What the Prefect API holds for one batch run."""

    run: Any
    tasks: list
    artifacts: list
    logs: list
    limit: int | None


async def read_back(api_url: str, name: str) -> ReadBack | None:
    """The batch's flow run, its task runs, artifacts and logs, and the songs-local limit, from the API."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    async with PrefectClient(api_url) as client:
        # prefect 3.8's server refuses the client's default sort=None: always give a sort
        runs = await client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["music_video_batch"])),
                                           sort=FlowRunSort.START_TIME_DESC, limit=50)
        run = next((r for r in runs if r.name == f"batch: {name}"), None)
        if run is None:
            return None
        by_run = FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        return ReadBack(
            run=run,
            tasks=await client.read_task_runs(flow_run_filter=by_run, sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                                              limit=200),
            artifacts=await _artifacts_of(client, run.id),
            logs=await _logs_of(client, run.id),
            limit=(await client.read_global_concurrency_limit_by_name("songs-local")).limit,
        )


async def _artifacts_of(client, flow_run_id) -> list:  # noqa: ANN001 - PrefectClient, UUID
    """Every artifact of a flow run. The client's read_artifacts sends null flow/task-run filters, which
    3.8's server refuses, and empty ones, which drop artifacts made outside a task: so post the body raw."""
    from prefect.client.schemas.objects import Artifact

    body = {"artifacts": {"flow_run_id": {"any_": [str(flow_run_id)]}}, "sort": "ID_DESC", "limit": 200, "offset": 0}
    response = await client._client.post("/artifacts/filter", json=body)
    response.raise_for_status()
    return [Artifact.model_validate(item) for item in response.json()]


async def _logs_of(client, flow_run_id) -> list:  # noqa: ANN001 - PrefectClient, UUID
    """Every log line of a flow run and its tasks, page by page (the API gives at most 200 at a time)."""
    logs: list = []
    while True:
        page = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])),
                                      sort=LogSort.TIMESTAMP_ASC, limit=200, offset=len(logs))
        logs += page
        if len(page) < 200:
            return logs


def check_api(api_url: str, checks: Checks, batch: dict, statuses: dict[str, str]) -> None:
    """Check what the API holds for `batch` (the batch file's content); `statuses`: title -> done/failed."""
    found = asyncio.run(read_back(api_url, batch["name"]))
    checks.check(f"flow run 'batch: {batch['name']}'", found is not None)
    if found is None:
        return
    _check_flow_run(found.run, batch["name"], statuses, checks)
    _check_task_runs(found.tasks, batch, statuses, checks)
    _check_artifacts(found.artifacts, batch["name"], statuses, checks)
    checks.check("concurrency limit songs-local exists at 1", found.limit == 1, f"limit {found.limit}")
    finished = sum(f"/{len(statuses)}] " in log.message for log in found.logs)
    checks.check("a log line per finished song", finished == len(statuses), f"{finished}")


def _check_flow_run(run, name: str, statuses: dict[str, str], checks: Checks) -> None:  # noqa: ANN001
    failed = [title for title, status in statuses.items() if status == "failed"]
    checks.check("flow run tagged", {"mvflow", f"batch:{name}"} <= set(run.tags), str(run.tags))
    expected = run.state.is_failed() and all(title in run.state.message for title in failed) if failed \
        else run.state.is_completed()
    checks.check("flow run state says which songs failed", expected, run.state.message)


def _check_task_runs(tasks: list, batch: dict, statuses: dict[str, str], checks: Checks) -> None:
    states = {t.name: t.state.type.value for t in tasks}
    resolution = batch["defaults"]["resolution"]
    for title, status in statuses.items():
        wanted = {f"generate_song: {title} [local]": "COMPLETED"}
        if status == "done":
            wanted[f"render_video: {title} [{resolution}]"] = "COMPLETED"
        else:
            wanted[f"transcribe_lyrics: {title} [local]"] = "FAILED"
        for task_name, state in wanted.items():
            checks.check(f"task run {task_name!r} {state.lower()}", states.get(task_name) == state,
                         states.get(task_name, "missing"))
    tags = {"engine:local", "style:classic", f"batch:{batch['name']}"}
    checks.check("every task run tagged engine/style/batch", bool(tasks) and all(tags <= set(t.tags) for t in tasks))


def _check_artifacts(artifacts: list, name: str, statuses: dict[str, str], checks: Checks) -> None:
    by_key = {a.key: a for a in artifacts if a.key}
    table = by_key.get(f"batch-{name}")
    rows = (json.loads(table.data) if isinstance(table.data, str) else table.data) if table else []
    checks.check("batch table artifact with a row per song", {r["song"]: r["status"] for r in rows} == statuses,
                 str([(r["song"], r["status"], r["reason"]) for r in rows]))
    for title in (t for t, status in statuses.items() if status == "done"):
        key = f"music-video-{slugify(title)}"
        data = by_key[key].data if key in by_key else ""
        checks.check(f"markdown artifact {key} with cover, paths, timings",
                     "data:image/jpeg;base64," in data and ".mp4" in data and "| render |" in data)
    progress = sum(a.type == "progress" for a in artifacts)
    checks.check("progress artifacts (the batch's, the renders')", progress > len(statuses) // 2, f"{progress}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", action="store_true", help="keep the server running until Ctrl-C")
    args = parser.parse_args()
    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="mvflow-dashboard-") as tmp, prefect_server() as api_url:
        print(f"prefect server up at {api_url.removesuffix('/api')}")
        result = run_batch(api_url, Path(tmp))
        checks.check("mvflow batch exits 1 (one song failed)", result.returncode == 1,
                     "" if result.returncode == 1 else result.stderr[-800:])
        checks.check("summary names the failed song and why", "failed: Broken — lyrics:" in result.stderr)
        checks.check("dashboard UI answers", httpx.get(api_url.removesuffix("/api") + "/", timeout=10).status_code
                     == 200)
        check_api(api_url, checks, BATCH, {"Rain": "done", "Broken": "failed", "Summit": "done"})
        if args.keep:
            print(f"dashboard: {api_url.removesuffix('/api')} (Ctrl-C stops)")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    print("dashboard check:", "PASSED" if not checks.failed else f"{checks.failed} check(s) FAILED")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
