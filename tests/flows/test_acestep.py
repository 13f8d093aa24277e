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


TAKE_LYRICS = ("[Verse]\nHello city lights tonight\nWe are running through the rain\n\n"
               "[Chorus]\nSing it loud and clear\nNever look back again")


def dashboard_markdown(title: str) -> str:
    """The run's markdown artifact, read back from the Prefect API (what the dashboard shows)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[title])))
    return found[-1].data


@pytest.mark.parametrize("mode", ["native", "completion"])
def test_the_best_take_is_the_one_whose_vocals_carry_every_line(prefect_harness, keyed, tmp_path, mode, capsys):
    """Three takes of real audio: the first leaves out lines 2-3, the third line 1 (the server's skip_lines),
    the second sings them all. The lyric timing of each take finds the gaps; the second take is the song."""
    from mvflow.flows.music_video import music_video

    httpx.post(f"{keyed}/_faults", json={"skip_lines": [[2, 3], [], [1]]},
               headers={"Authorization": f"Bearer {KEY}"}).raise_for_status()
    request = SongRequest(caption="synth pop", lyrics=TAKE_LYRICS, duration=16, bpm=120, seed=5, engine="acestep",
                          engine_options={"api_url": keyed, **FAST, "takes": 3, "api_mode": mode})
    done = music_video(request=request, title=f"Takes {mode}", output_root=str(tmp_path), render_options=OPTIONS)
    song = done.video.song
    scores = {take.number: take.score for take in song.takes}
    assert [n for n, score in scores.items() if score.chosen] == [2]
    assert song.audio == song.takes[1].audio and {f.path for f in song.extra_files} >= {
        song.takes[0].audio.path, song.takes[2].audio.path}  # every take is kept
    assert scores[1].skipped == ["We are running through the rain", "Sing it loud and clear"]
    assert scores[2].skipped == [] and scores[3].skipped == ["Hello city lights tonight"]
    assert [line.text for line in done.video.lyrics.lines] == [
        "Hello city lights tonight", "We are running through the rain", "Sing it loud and clear",
        "Never look back again"]
    manifest = json.loads(Path(done.manifest).read_text())
    assert manifest["song"]["seed_requested"] == 6  # take 2 asked for seed 5 + 1
    if mode == "native":  # the default server reports seeds of its own choosing
        assert manifest["song"]["seed_honoured"] is False and manifest["song"]["seed"] == song.takes[1].seed
        assert any("did not use the requested seed 5" in w for w in manifest["warnings"])
    takes = manifest["song"]["takes"]
    assert [(t["take"], t["chosen"], len(t["skipped"])) for t in takes] == [(1, False, 2), (2, True, 0),
                                                                            (3, False, 1)]
    markdown = dashboard_markdown(f"music-video-takes-{mode}")
    assert "| 2 (chosen) |" in markdown and "`Hello city lights tonight`" in markdown
    from mvflow.cli.make import report_run

    capsys.readouterr()
    report_run(done)
    said = " ".join("".join(capsys.readouterr()).split())
    assert "take 1: 2/4 lines" in said and "take 2: 4/4 lines" in said and "(chosen)" in said
    if mode == "native":  # the default server ignores seeds, and says another one
        assert "warning: ACE-Step did not use the requested seed 5" in said


def test_a_pool_of_servers_shares_the_songs_and_skips_one_that_is_down(prefect_harness, keyed, tmp_path, caplog,
                                                                        monkeypatch):
    """Songs go to whichever server of a pool has a free slot; a server that is down is skipped with a warning."""
    import socket

    import yaml

    from mvflow.flows.batch import music_video_batch

    second, stop_second = start_in_thread(api_key=KEY, audio_dir=tmp_path / "second_audio", admin=True)
    with socket.socket() as sock:  # a port nothing listens on: a server that is down
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.chdir(tmp_path)
    songs = [{"title": f"Pool {n}", "caption": f"synth pop {n}", "seed": n} for n in range(1, 4)]
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump({"name": "pool", "songs": songs, "defaults": {
        "engine": "acestep", "api_url": [keyed, down, second], "thinking": False, "duration": 6,
        "resolution": "128x72", "fps": 8, "transcriber": "local", "output_dir": str(tmp_path / "out")}}))
    def jobs() -> list[int]:
        return [httpx.get(f"{url}/v1/stats", headers={"Authorization": f"Bearer {KEY}"}).json()["data"]["jobs"]
                ["total"] for url in (keyed, second)]

    try:
        before = jobs()
        state = music_video_batch(batch_file=str(path), return_state=True)
        made = [after - earlier for after, earlier in zip(jobs(), before)]
    finally:
        stop_second()
    report = state.result()
    assert [s.status for s in report.songs] == ["done"] * 3, [s.reason for s in report.songs]
    assert sum(made) == 3 and min(made) >= 1, made  # both servers that are up made songs
    assert f"song server {down[7:]} is down" in caplog.text
