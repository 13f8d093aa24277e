"""Progress of long steps, shown twice: in the terminal and as a Prefect progress artifact.

Steps call `step_progress(step)` to get a reporter; the CLI registers a terminal listener.
The Prefect artifact is updated at most every few percent, so it costs nothing per frame.

A whole video's progress is a third view: `video_progress(title)` (entered by the flow around
one video's pipeline) keeps a progress artifact of that video, moved on as each step ends and,
during the long ones (render, ACE-Step), as their own reports arrive. The reports find it
through a context variable, which Prefect copies into the threads that run the tasks, so the
songs of a batch made side by side never move each other's bars.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

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
        video = _current_video.get()
        if video is not None:
            video.step(self.step, fraction)
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


#: Share of a whole video each step stands for (the render is the long one without a GPU).
VIDEO_STEPS = {"song": 0.3, "lyrics": 0.15, "thumbnail": 0.1, "render": 0.45}


class VideoProgress:
    """One video's progress artifact: each step counts its share of VIDEO_STEPS as far as it got."""

    def __init__(self, title: str, artifact_every: float = 0.05, renders: int = 1) -> None:
        from prefect.artifacts import create_progress_artifact

        self.title = title
        self.renders = max(1, renders)
        self._fractions: dict[str, float] = {}
        self._every = artifact_every
        self._shown = 0.0
        self._lock = threading.Lock()
        self._artifact_id = create_progress_artifact(
            progress=0.0, description=f"{title}: song, then lyrics and cover, then the render")

    def step(self, name: str, fraction: float) -> None:
        """`name` got `fraction` (0..1) of the way; unknown steps (song-submit) move nothing."""
        if self._share(name) == 0.0:
            return
        with self._lock:
            self._fractions[name] = max(self._fractions.get(name, 0.0), min(1.0, fraction))
            total = sum(self._share(step) * done for step, done in self._fractions.items())
            if total - self._shown < self._every and not (total >= 0.999 > self._shown):
                return
            self._shown = total
        self._update(total)

    def _share(self, name: str) -> float:
        """The step's share of the video: a render step ("render", "render-short", ...) has its part
        of the render's, so a run with several outputs is not at 100 % after the first one."""
        if name == "render" or name.startswith("render-"):
            return VIDEO_STEPS["render"] / self.renders
        return VIDEO_STEPS.get(name, 0.0)

    def _update(self, total: float) -> None:
        from prefect.artifacts import update_progress_artifact

        update_progress_artifact(self._artifact_id, progress=round(min(total, 1.0) * 100, 1))


_current_video: ContextVar[VideoProgress | None] = ContextVar("mvflow_video_progress", default=None)


@contextmanager
def video_progress(title: str, renders: int = 1) -> Iterator[VideoProgress]:
    """Track one video's progress (in a flow run) for the block; step reports inside it move its bar.
    `renders`: how many outputs are rendered (each render step has its part of the render's share)."""
    video = VideoProgress(title, renders=renders)
    token = _current_video.set(video)
    try:
        yield video
    finally:
        _current_video.reset(token)


def step_finished(name: str) -> None:
    """A step of the current video ended (ran or came from the cache): its whole share counts."""
    video = _current_video.get()
    if video is not None:
        video.step(name, 1.0)
