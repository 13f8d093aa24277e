"""A video's progress artifact: each step's share, and a run with several outputs (full, short, square)
that is not at 100 % until every render is done; the terminal gets a bar per output."""

from __future__ import annotations

import pytest

from mvflow import progress
from mvflow.progress import StepProgress, VideoProgress


@pytest.fixture
def shown(monkeypatch) -> list[float]:
    """The percentages the video's artifact would show (no Prefect server needed)."""
    values: list[float] = []
    monkeypatch.setattr("prefect.artifacts.create_progress_artifact", lambda **_: "artifact-id")
    monkeypatch.setattr(VideoProgress, "_update", lambda self, total: values.append(round(total, 3)))
    return values


def test_one_output_reaches_the_whole_video_when_its_render_ends(shown):
    video = VideoProgress("Song", artifact_every=0.0)
    for step in ("song", "lyrics", "thumbnail", "render"):
        video.step(step, 1.0)
    assert shown[-1] == 1.0


def test_several_outputs_share_the_render_and_end_at_100_only_after_the_last(shown):
    video = VideoProgress("Song", artifact_every=0.0, renders=3)
    for step in ("song", "lyrics", "thumbnail", "render"):
        video.step(step, 1.0)
    assert shown[-1] == pytest.approx(0.55 + 0.45 / 3, abs=0.001)
    video.step("render-short", 0.5)
    assert shown[-1] < 1.0
    video.step("render-short", 1.0)
    video.step("render-square", 1.0)
    assert shown[-1] == 1.0
    video.step("song-submit", 1.0)  # not a share of its own
    assert len(shown) == 7


def test_each_outputs_render_reports_under_its_own_step_name():
    from mvflow.render.outputs import render_step_name

    seen: list[tuple[str, float]] = []

    def listener(step: str, fraction: float, description: str) -> None:
        seen.append((step, fraction))

    progress.add_listener(listener)
    try:
        for output in ("full", "short"):
            StepProgress(render_step_name(output), f"rendering {output}")(1, 1)
    finally:
        progress.remove_listener(listener)
    assert seen == [("render", 1.0), ("render-short", 1.0)]
