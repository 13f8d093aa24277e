"""The music_video flow with --engine acestep against the built-in ACE-Step server over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from mvflow.models import RenderOptions, SongRequest
from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import start_in_thread
from tests.support.media import stream_durations

pytestmark = pytest.mark.e2e

KEY = "flow-key-81c2"
LYRICS = "[Verse]\nHello city lights tonight\nWe are running through the rain\n"
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retry_delay": 0.05, "lost_after": 1.0, "timeout": 120}
OPTIONS = RenderOptions(width=256, height=144, fps=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    url, stop = start_in_thread(api_key=KEY, audio_dir=tmp_path_factory.mktemp("acestep_audio"), admin=True)
    yield url
    stop()


@pytest.fixture
def keyed(monkeypatch, server):
    monkeypatch.setenv("ACESTEP_API_KEY", KEY)
    yield server
    httpx.post(f"{server}/_faults", json=FaultPlan().model_dump(),
               headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()


def run(url: str, root: Path, **options):
    from mvflow.flows.music_video import music_video

    request = SongRequest(caption="dream pop", lyrics=LYRICS, duration=14, bpm=120, seed=5, engine="acestep",
                          engine_options={"api_url": url, **FAST, **options})
    return music_video(request=request, title="Ace Song", output_root=str(root), render_options=OPTIONS)


def steps(run_result) -> dict[str, str]:
    return {s.name: s.status for s in run_result.steps}


def test_native_mode_makes_a_video_and_reuses_the_task_id(prefect_harness, keyed, tmp_path):
    first = run(keyed, tmp_path, audio_format="wav")
    assert steps(first) == {"song-submit": "ran", "song": "ran", "lyrics": "ran", "thumbnail": "ran",
                            "analysis": "ran", "render": "ran"}
    song = first.video.song
    assert song.engine == "acestep" and Path(song.audio.path).suffix == ".wav"
    result = json.loads(Path(song.result.path).read_text())
    assert result  # the server's full result is kept as the sidecar
    video_s, audio_s = stream_durations(Path(first.video.video.path), OPTIONS.fps)
    assert abs(video_s - song.duration) <= 0.1 and abs(audio_s - song.duration) <= 0.1
    assert [line.text for line in first.video.lyrics.lines] == ["Hello city lights tonight",
                                                                "We are running through the rain"]

    again = run(keyed, tmp_path, audio_format="wav", timeout=300)  # a longer deadline changes no audio
    assert steps(again)["song-submit"] == "cached"
    assert again.video.song.audio.sha256 == song.audio.sha256


def test_completion_mode_makes_a_video(prefect_harness, keyed, tmp_path):
    done = run(keyed, tmp_path, api_mode="completion")
    assert "song-submit" not in steps(done)
    assert Path(done.video.video.path).is_file()
    assert Path(done.video.song.audio.path).suffix == ".mp3"


def test_a_task_the_server_forgot_is_resubmitted_once(prefect_harness, keyed, tmp_path):
    httpx.post(f"{keyed}/_faults", json={"forget_submits": 1},
               headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()
    done = run(keyed, tmp_path)
    assert [s.name for s in done.steps][:2] == ["song-submit", "song-submit"]
    assert Path(done.video.video.path).is_file()


def test_after_a_failed_job_the_next_run_submits_again(prefect_harness, keyed, tmp_path):
    """The failed task is forgotten (its submission.json removed), so the cached submit is stale, not reused."""
    from mvflow.errors import AceStepJobFailed

    httpx.post(f"{keyed}/_faults", json={"fail_jobs": 1},
               headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()
    with pytest.raises(AceStepJobFailed):
        run(keyed, tmp_path)
    done = run(keyed, tmp_path)
    assert steps(done)["song-submit"] == "re-ran" and steps(done)["song"] == "ran"
    assert Path(done.video.video.path).is_file()
