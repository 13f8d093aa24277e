"""Running one video's steps: submit each Prefect task, verify a cache hit's files, time it.

Prefect never looks at files: a cached step whose files were deleted or changed would hand
the next step stale paths. `StepRunner.resolve` therefore checks every result's own files
(`StepResult.own_files()`, exists + sha256) after a cache hit and re-runs that step with
refresh_cache when they are not intact. Every step returns a `mvflow.models.StepResult`, so
this check cannot be skipped by a result that forgot to say what its files are.

The runner also names task runs after the song (the dashboard says which song a run belongs
to), applies the retry settings in force (mvflow.retries.step_retry_options), and, in a
batch, caps CPU-heavy steps and queues songs for their song server.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect import Task
from prefect.futures import PrefectFuture
from prefect.logging import get_run_logger

from mvflow.files import all_intact
from mvflow.manifest import StepRun
from mvflow.models import SongRequest, StepResult
from mvflow.progress import step_finished
from mvflow.retries import step_retry_options
from mvflow.song import song_limit_name, song_slot


@dataclass
class _Pending:
    name: str
    provider: str
    task: Task
    kwargs: dict[str, Any]
    future: PrefectFuture
    started: float
    uses_cpu: bool
    finished: list[float] = field(default_factory=list)


def _literal(text: str) -> str:
    """`text` safe inside a Prefect run-name template (which is str.format-ed with the parameters)."""
    return text.replace("{", "{{").replace("}", "}}")


class StepRunner:
    """Submits one video's steps and verifies their files when they resolve.

    `label` (the song's title) goes into every task run name, so the dashboard says which
    song a run belongs to. `cpu_slots`, when given, caps how many CPU-heavy steps of all
    songs run at once: a slot is taken before a step is submitted and given back when it ends.
    `song_queues` (limit name -> semaphore sized like the limit) make a batch's songs queue
    in-process before asking the server for a slot: the server answers a refused slot with
    a growing Retry-After (up to 30 s), while a local hand-over is immediate.
    """

    def __init__(self, result_storage: Path, label: str | None = None,
                 cpu_slots: threading.Semaphore | None = None,
                 song_queues: dict[str, threading.Semaphore] | None = None) -> None:
        self.result_storage = result_storage
        self.label = label
        self.cpu_slots = cpu_slots
        self.song_queues = song_queues or {}
        self.steps: list[StepRun] = []
        self.failed_step: str | None = None

    def _configured(self, task: Task, provider: str, refresh: bool = False) -> Task:
        options: dict[str, Any] = {"result_storage": self.result_storage, **step_retry_options()}
        if self.label:
            options["task_run_name"] = _literal(f"{task.name}: {self.label} [{provider}]")
        if refresh:
            options["refresh_cache"] = True
        return task.with_options(**options)

    def _slot(self, uses_cpu: bool) -> threading.Semaphore | nullcontext:
        """A CPU slot for a step that needs one (as a context manager)."""
        return self.cpu_slots if self.cpu_slots is not None and uses_cpu else nullcontext()

    @contextmanager
    def song_turn(self, request: SongRequest) -> Iterator[SongRequest]:
        """Wait for this process's turn at the song server (if queued locally), then for a server slot;
        yields the request aimed at the server whose slot it got (a pool has several)."""
        queue = self.song_queues.get(song_limit_name(request))
        with queue if queue is not None else nullcontext(), song_slot(request) as aimed:
            yield aimed

    def submit(self, name: str, provider: str, task: Task, refresh: bool = False, uses_cpu: bool = True,
               **kwargs: Any) -> _Pending:
        if self.cpu_slots is not None and uses_cpu:
            self.cpu_slots.acquire()  # given back by _release when the step ends, not when submit returns
        pending = _Pending(name, provider, task, kwargs, None, time.perf_counter(), uses_cpu)  # type: ignore[arg-type]
        try:
            pending.future = self._configured(task, provider, refresh).submit(**kwargs)
        except BaseException:
            self._release(pending)
            raise
        pending.future.add_done_callback(lambda _f: self._finished(pending))
        return pending

    def _finished(self, pending: _Pending) -> None:
        pending.finished.append(time.perf_counter())
        self._release(pending)

    def _release(self, pending: _Pending) -> None:
        if self.cpu_slots is not None and pending.uses_cpu:
            self.cpu_slots.release()

    def resolve(self, pending: _Pending) -> Any:
        """The step's result; re-run with refresh_cache when a cached result's files are gone."""
        try:
            return self._verified(pending)
        except BaseException:
            self.failed_step = self.failed_step or pending.name
            raise

    def _verified(self, pending: _Pending) -> Any:
        pending.future.wait()
        state = pending.future.state
        result = state.result()
        if not isinstance(result, StepResult):
            raise TypeError(f"step {pending.name} returned {type(result).__name__}, not a StepResult: "
                            "its files could not be verified after a cache hit")
        status = "cached" if state.name == "Cached" else "ran"
        # A step that just ran wrote and hashed its files; only a cache hit can point at stale ones.
        if status == "cached" and not all_intact(result.own_files()):
            get_run_logger().warning("%s: cached files missing or changed on disk; re-running", pending.name)
            with self._slot(pending.uses_cpu):
                result = self._configured(pending.task, pending.provider, refresh=True)(**pending.kwargs)
            status = "re-ran"
        end = time.perf_counter() if status == "re-ran" or not pending.finished else pending.finished[0]
        self.steps.append(StepRun(name=pending.name, status=status, seconds=end - pending.started,
                                  provider=pending.provider))
        step_finished(pending.name)
        return result

    def run(self, name: str, provider: str, task: Task, refresh: bool = False, uses_cpu: bool = True,
            **kwargs: Any) -> Any:
        return self.resolve(self.submit(name, provider, task, refresh, uses_cpu, **kwargs))
