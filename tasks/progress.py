"""Progress of long steps, shown twice: in the terminal and as a Prefect progress artifact.

Steps call `step_progress(step)` to get a reporter; the CLI registers a terminal listener.
The Prefect artifact is updated at most every few percent, so it costs nothing per frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

Listener = Callable[[str, float, str], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def add_listener(listener: Listener) -> None:
    """Register a callback(step, fraction 0..1, description) for terminal progress display."""
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        if listener in _listeners:
            _listeners.remove(listener)


class StepProgress:
    """Reports a step's progress to listeners and to a Prefect progress artifact (when in a run)."""

    def __init__(self, step: str, description: str = "", artifact_every: float = 0.05) -> None:
        self.step = step
        self.description = description or step
        self._artifact_id = None
        self._last_artifact = -1.0
        self._every = artifact_every

    def __call__(self, done: float, total: float) -> None:
        fraction = 0.0 if total <= 0 else min(1.0, max(0.0, done / total))
        with _lock:
            listeners = list(_listeners)
        for listener in listeners:
            listener(self.step, fraction, self.description)
        if fraction - self._last_artifact >= self._every or (fraction >= 1.0 > self._last_artifact):
            self._last_artifact = fraction
            self._update_artifact(fraction)

    def _update_artifact(self, fraction: float) -> None:
        from prefect.context import TaskRunContext

        if TaskRunContext.get() is None:  # plain function call outside Prefect
            return
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        percent = round(fraction * 100, 1)
        if self._artifact_id is None:
            self._artifact_id = create_progress_artifact(progress=percent, description=self.description)
        else:
            update_progress_artifact(self._artifact_id, progress=percent)
