"""The ACE-Step client and engine against `mvflow engine serve`, over real HTTP on 127.0.0.1.

One server in its faithful default (upstream f30aee4, installed with diskcache, LM loaded; with
a key and the fault admin route) serves the module, and one with the later releases' API
(`latest`) serves what only those have; faults are reset after every test. Songs are 5-6 s so
the whole file stays fast with the real built-in engine. The behaviours issue 13 is about are in
test_acestep_upstream.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from mvflow.audio import decode_audio, write_wav
from mvflow.errors import (
    AceStepAuthError,
    AceStepDownloadError,
    AceStepError,
    AceStepJobFailed,
    AceStepLostTask,
    AceStepTimeout,
    is_transient,
)
from mvflow.models import SongRequest
from mvflow.song.acestep.client import AceStepClient
from mvflow.song.acestep.doctor import check_acestep
from mvflow.song.acestep.engine import complete_song, generate_acestep_song, poll_song, submit_song
from mvflow.song.devserver.behaviour import Behaviour
from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import free_socket, start_in_thread
from tests.support.acestep import keyed, leaked_uploads, module_server

KEY = "test-key-5f1c9e"
AUTH = {"Authorization": f"Bearer {KEY}"}
LYRICS = "[Verse]\nHello city lights tonight\nWe are running through the rain\n\n[Chorus]\nSing it loud and clear"
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retry_delay": 0.05, "lost_after": 0.6, "timeout": 60}
EXAMPLE_CAPTIONS = {json.loads(p.read_text())["caption"]
                    for p in Path(__file__).parents[2].joinpath("templates", "acestep_examples").glob("custom_*.json")}


server = module_server("acestep_audio", KEY)
latest_server = module_server("acestep_latest", KEY, Behaviour(upstream="latest"))
srv = keyed("server", KEY)  # the faithful default
latest = keyed("latest_server", KEY)  # the later releases' API


def faults(server, **changes) -> dict:
    response = httpx.post(f"{server.url}/_faults", json=changes, headers=AUTH)
    response.raise_for_status()
    return response.json()


def song_request(server, caption="upbeat synth pop", lyrics=LYRICS, duration=5.0, **options) -> SongRequest:
    return SongRequest(caption=caption, lyrics=lyrics, duration=duration, seed=3, engine="acestep",
                       engine_options={"api_url": server.url, **FAST, **options})


def client(server, key: str | None = KEY) -> AceStepClient:
    return AceStepClient(server.url, api_key=key)


def source_wav(path: Path, seconds: float = 4.0) -> Path:
    """A recognisable source for cover/repaint: a 440 Hz tone at 44.1 kHz stereo."""
    t = np.arange(int(seconds * 44100)) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_wav(path, np.stack([tone, tone], axis=1), 44100)
    return path


# ---- native mode -----------------------------------------------------------------------------------

def test_batch_saves_every_audio_and_the_song_is_the_picked_one(latest, tmp_path):
    song = generate_acestep_song(song_request(latest, batch_size=2, pick=2), tmp_path)
    assert sorted(p.name for p in tmp_path.glob("song_*")) == ["song_1.mp3", "song_2.mp3"]
    assert Path(song.audio.path).name == "song_2.mp3"
    assert [Path(f.path).name for f in song.extra_files] == ["song_1.mp3"]
    assert abs(song.duration - 5.0) < 0.15 and song.engine == "acestep"
    assert song.seed == song.seed_requested == 4  # seeds "3,4" sent and honoured: the second audio's seed
    assert (song.caption, song.lyrics) == ("upbeat synth pop", LYRICS)
    assert song.bpm is None and song.key_scale is None  # metas said "N/A"
    record = json.loads(Path(song.result.path).read_text())
    assert len(record["result"]) == 2 and record["result"][1]["dit_model"] == "mvflow-local"
    assert record["submitted"]["batch_size"] == 2 and record["picked"] == 2


def test_wire_format_is_the_contracts(srv):
    body = {"prompt": "pop", "lyrics": "", "audio_duration": 5, "batch_size": 1}
    submitted = httpx.post(f"{srv.url}/release_task", json=body, headers=AUTH).json()
    assert set(submitted) == {"data", "code", "error", "timestamp", "extra"} and submitted["code"] == 200
    assert submitted["data"]["status"] == "queued" and submitted["data"]["queue_position"] >= 1
    task_id = submitted["data"]["task_id"]
    for _ in range(200):
        item = httpx.post(f"{srv.url}/query_result", json={"task_id_list": [task_id]}, headers=AUTH).json()["data"][0]
        assert isinstance(item["status"], int) and isinstance(item["result"], str)
        if item["status"]:
            break
        time.sleep(0.05)
    entry = json.loads(item["result"])[0]
    assert item["status"] == 1 and entry["file"].startswith("/v1/audio?path=%2F")
    assert entry["metas"]["bpm"] == "N/A" and entry["lyrics"] == ""
    audio = httpx.get(srv.url + entry["file"], headers=AUTH)
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    unknown = httpx.post(f"{srv.url}/query_result", data={"task_id_list": '["nope"]'}, headers=AUTH).json()
    assert unknown["data"] == [{"task_id": "nope", "result": "[]", "status": 0}]


@pytest.mark.parametrize("fmt, magic", [("wav", b"RIFF"), ("flac", b"fLaC")])
def test_audio_formats(srv, tmp_path, fmt, magic):
    song = generate_acestep_song(song_request(srv, lyrics="", audio_format=fmt, thinking=False), tmp_path)
    assert Path(song.audio.path).suffix == f".{fmt}" and Path(song.audio.path).read_bytes()[:4] == magic


def test_progress_reports_the_servers_stages(srv, tmp_path):
    faults(srv, job_delay=0.3)
    seen: list[tuple[float, str]] = []
    generate_acestep_song(song_request(srv, lyrics=""), tmp_path, progress=lambda f, s: seen.append((f, s)))
    stages = [s for _, s in seen]
    assert "running" in stages and stages[-1] == "succeeded" and seen[-1][0] == 1.0
    assert all(0.0 <= f <= 1.0 for f, _ in seen)


# ---- LM-backed modes (the rule-based stand-in) ---------------------------------------------------

def test_format_mode_records_the_rewritten_caption_and_lyrics(srv, tmp_path):
    song = generate_acestep_song(song_request(srv, caption="Synth Pop, NIGHT , synth pop", lyrics="Hello there",
                                              use_format=True), tmp_path)
    assert song.caption == "synth pop, night" and song.lyrics == "[Verse]\nHello there"
    assert song.bpm and song.key_scale  # format mode fills the metas


def test_description_mode_sings_the_lyrics_the_server_wrote(srv, tmp_path):
    song = generate_acestep_song(song_request(srv, caption="", lyrics="",
                                              description="a cheerful song about spring"), tmp_path)
    assert "spring" in song.lyrics.lower() and "[Chorus]" in song.lyrics
    assert song.caption.startswith("upbeat pop")
    submitted = json.loads(Path(song.result.path).read_text())["submitted"]
    assert submitted["sample_query"] == "a cheerful song about spring" and "description" not in submitted


def test_random_mode_generates_a_server_example(srv, tmp_path):
    song = generate_acestep_song(song_request(srv, random_sample=True), tmp_path)
    assert song.caption in EXAMPLE_CAPTIONS and abs(song.duration - 5.0) < 0.15


def test_helper_routes(srv):
    with client(srv) as c:
        formatted = c.format_input("Rock, rock, LOUD", "walking home", {"bpm": 99})
        assert formatted["caption"] == "rock, loud" and formatted["bpm"] == 99
        assert "description" in c.create_random_sample("simple_mode")
        assert "caption" in c.create_random_sample("custom_mode")
        assert c.models() == ["mvflow-local"] and c.health()["status"] == "ok"
        assert {"jobs", "queue_size", "queue_maxsize", "avg_job_seconds"} <= set(c.stats())


def test_no_examples_is_an_in_band_error(tmp_path):
    url, stop = start_in_thread(audio_dir=tmp_path / "audio", examples_dir=tmp_path)
    try:
        raw = httpx.post(f"{url}/create_random_sample", json={}).json()
        assert raw["data"] is None and raw["code"] == 500 and raw["error"] == "No example data available"
        with AceStepClient(url) as c, pytest.raises(AceStepError, match="No example data available"):
            c.create_random_sample()
    finally:
        stop()


# ---- completion mode -------------------------------------------------------------------------------

def test_completion_mode(srv, tmp_path):
    song = complete_song(song_request(srv, api_mode="completion"), tmp_path)
    assert Path(song.audio.path).name == "song_1.mp3" and abs(song.duration - 5.0) < 0.15
    assert song.caption == "upbeat synth pop" and song.lyrics == LYRICS
    record = json.loads(Path(song.result.path).read_text())
    assert "omitted" in record["response"]["choices"][0]["message"]["audio"][0]["audio_url"]["url"]
    assert record["submitted"]["model"] == "acestep/mvflow-local"


def test_completion_mode_description_and_instrumental(srv, tmp_path):
    described = generate_acestep_song(song_request(srv, caption="", lyrics="", api_mode="completion",
                                                   description="a sad song about rain"), tmp_path / "d")
    assert "rain" in described.lyrics.lower() and "ballad" in described.caption
    instrumental = generate_acestep_song(song_request(srv, lyrics="", api_mode="completion"), tmp_path / "i")
    assert instrumental.lyrics == ""


def test_completion_failure_is_one_line_and_not_sent_again(srv, tmp_path):
    """A completion 500 carries the job's traceback: the job ran and failed, so it is permanent."""
    faults(srv, fail_jobs=1)
    with pytest.raises(AceStepJobFailed) as info:
        complete_song(song_request(srv, api_mode="completion"), tmp_path)
    assert str(info.value) == "ACE-Step could not generate the song: RuntimeError: injected fault: generation failed"
    assert not is_transient(info.value)


def test_completion_streaming_follows_the_event_sequence(srv):
    body = {"model": "acestep/x", "stream": True, "audio_config": {"duration": 3, "format": "mp3"},
            "messages": [{"role": "user", "content": "<prompt>lofi</prompt>"}]}
    with httpx.stream("POST", f"{srv.url}/v1/chat/completions", json=body, timeout=60) as response:
        events = [line[6:] for line in response.iter_lines() if line.startswith("data: ")]
    chunks = [json.loads(e) for e in events[:-1]]
    assert events[-1] == "[DONE]" and chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert any("audio" in c["choices"][0]["delta"] for c in chunks)


# ---- uploads: cover and repaint --------------------------------------------------------------------

def test_cover_uploads_the_source_to_a_server_with_the_fix(latest, tmp_path):
    src = source_wav(tmp_path / "src.wav")
    song = generate_acestep_song(song_request(latest, task_type="cover", src_audio=str(src),
                                              audio_cover_strength=0.5), tmp_path / "out")
    record = json.loads(Path(song.result.path).read_text())
    assert record["api_mode"] == "native" and record["uploads"] == ["src.wav"]
    assert record["submitted"]["task_type"] == "cover"
    assert abs(song.duration - 4.0) < 0.15  # a cover is as long as its source
    assert leaked_uploads(latest, KEY) == []


def test_repaint_changes_only_the_region(srv, tmp_path):
    src = source_wav(tmp_path / "src.wav", 4.0)
    song = generate_acestep_song(song_request(srv, duration=4.0, task_type="repaint", src_audio=str(src),
                                              repainting_start=1.0, repainting_end=2.5, audio_format="wav"),
                                 tmp_path / "out")
    before, after = decode_audio(src, 44100), decode_audio(song.audio.path, 44100)
    assert len(after) == len(before)
    outside = np.r_[0:44100, int(2.5 * 44100):len(before)]
    assert np.allclose(after[outside], before[outside], atol=1e-3)
    assert not np.allclose(after[int(1.2 * 44100):int(2.3 * 44100)], before[int(1.2 * 44100):int(2.3 * 44100)],
                           atol=1e-2)


def test_completion_mode_cover_sends_the_audio_inline(srv, tmp_path):
    src = source_wav(tmp_path / "src.wav")
    song = complete_song(song_request(srv, api_mode="completion", task_type="cover", src_audio=str(src)),
                         tmp_path / "out")
    record = json.loads(Path(song.result.path).read_text())
    part = record["submitted"]["messages"][0]["content"][1]
    assert part["type"] == "input_audio" and "omitted" in part["input_audio"]["data"]


def test_server_paths_outside_the_audio_folder_are_refused(srv):
    body = {"prompt": "x", "task_type": "cover", "src_audio_path": "/etc/passwd", "audio_duration": 3}
    response = httpx.post(f"{srv.url}/release_task", json=body, headers=AUTH)
    assert response.status_code == 400 and "not allowed" in response.json()["detail"]


def test_urlencoded_submit_is_a_plain_500_at_f30aee4_and_works_later(srv, latest):
    form = {"prompt": "x", "audio_duration": "2", "batch_size": "1", "ai_token": KEY}
    broken = httpx.post(f"{srv.url}/release_task", data=form)
    assert broken.status_code == 500 and broken.text == "Internal Server Error"
    fixed = httpx.post(f"{latest.url}/release_task", data=form, headers=AUTH)  # body tokens no longer count
    assert fixed.status_code == 200 and fixed.json()["data"]["task_id"]


# ---- auth ----------------------------------------------------------------------------------------------

def test_auth_rules(srv):
    def post(path, **kw):
        return httpx.post(srv.url + path, **kw)
    assert post("/query_result", json={"task_id_list": []}).json()["detail"] == \
        "Missing ai_token or Authorization header"
    assert post("/query_result", json={"task_id_list": [], "ai_token": "bad"}, headers=AUTH).json()["detail"] == \
        "Invalid ai_token"
    assert post("/query_result", json={"task_id_list": [], "ai_token": KEY}).status_code == 200
    assert httpx.get(f"{srv.url}/v1/stats", headers={"Authorization": KEY}).status_code == 200  # bare key
    assert httpx.get(f"{srv.url}/v1/stats", headers={"Authorization": "Bearer no"}).json()["detail"] == \
        "Invalid API key"
    assert httpx.get(f"{srv.url}/v1/audio", params={"path": "/x", "ai_token": KEY}).json()["detail"] == \
        "Missing Authorization header"
    assert httpx.get(f"{srv.url}/health").status_code == 200 and httpx.get(f"{srv.url}/v1/models").status_code == 200


@pytest.mark.parametrize("key, message", [(None, "ACE-Step needs an API key (401): set ACESTEP_API_KEY"),
                                          ("wrong", "ACE-Step rejected the API key (401): set ACESTEP_API_KEY")])
def test_a_missing_or_wrong_key_is_one_clear_line_without_retry(srv, monkeypatch, tmp_path, key, message):
    if key:
        monkeypatch.setenv("ACESTEP_API_KEY", key)
    else:
        monkeypatch.delenv("ACESTEP_API_KEY")
    with pytest.raises(AceStepAuthError) as info:
        generate_acestep_song(song_request(srv), tmp_path)
    assert str(info.value).startswith(message) and not is_transient(info.value)


def test_the_key_is_never_logged_or_written(srv, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    generate_acestep_song(song_request(srv, lyrics=""), tmp_path / "native")
    complete_song(song_request(srv, lyrics="", api_mode="completion"), tmp_path / "completion")
    assert KEY not in caplog.text
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


# ---- downloads ---------------------------------------------------------------------------------------

def test_download_outside_the_audio_folder_is_403_and_a_missing_file_404(srv, tmp_path):
    with client(srv) as c:
        with pytest.raises(AceStepDownloadError, match="403: Access denied"):
            c.download("/v1/audio?path=%2Fetc%2Fpasswd", tmp_path / "a.mp3")
        missing = "/v1/audio?path=" + str(srv.audio_dir / "gone.mp3").replace("/", "%2F")
        with pytest.raises(AceStepDownloadError, match="404: Audio file not found"):
            c.download(missing, tmp_path / "b.mp3")
    assert not list(tmp_path.iterdir())  # nothing half-written


# ---- faults --------------------------------------------------------------------------------------------

def test_queue_full_429_is_retried_on_submit(srv, tmp_path):
    faults(srv, fail_submit_429=2)
    song = generate_acestep_song(song_request(srv, lyrics=""), tmp_path)
    assert song.audio.size > 0


def test_real_queue_full_answers_429(tmp_path):
    url, stop = start_in_thread(audio_dir=tmp_path, queue_maxsize=1, faults=FaultPlan(job_delay=0.8))
    body = {"prompt": "x", "audio_duration": 2, "batch_size": 1}
    try:
        with AceStepClient(url) as c:
            c.submit(body)
            while c.stats()["jobs"]["running"] == 0:
                time.sleep(0.02)
            c.submit(body)  # waits in the queue (size 1)
            refused = httpx.post(f"{url}/release_task", json=body)
            assert refused.status_code == 429 and refused.json() == {"detail": "Server busy: queue is full"}
            assert c.submit(body, retries=8, delay=0.2)  # gets in once the queue drains
    finally:
        stop()


def test_500_with_a_text_body_is_transient_and_the_retry_works(srv, tmp_path):
    faults(srv, fail_submit_500=1)
    request = song_request(srv, lyrics="")
    with pytest.raises(httpx.HTTPStatusError) as info:
        submit_song(request, tmp_path)
    assert is_transient(info.value) and "answered 500: Internal Server Error" in str(info.value)
    job = submit_song(request, tmp_path)  # what the Prefect retry does
    assert poll_song(job, request, tmp_path).audio.size > 0


def test_status_2_with_the_servers_error(latest, tmp_path):
    faults(latest, fail_jobs=1)
    with pytest.raises(AceStepJobFailed, match=r"failed: RuntimeError: injected fault: generation failed$"):
        generate_acestep_song(song_request(latest), tmp_path)


def test_status_2_without_an_error_field(srv, tmp_path):
    """The default install (diskcache at f30aee4) never says why; the LM is loaded, so it is not blamed."""
    faults(srv, fail_jobs=1)
    with pytest.raises(AceStepJobFailed) as info:
        generate_acestep_song(song_request(srv), tmp_path)
    assert "the server gave no reason (servers installed with diskcache never do)" in str(info.value)
    assert "LM" not in str(info.value)


def test_a_lost_task_is_resubmitted_once(srv, tmp_path):
    faults(srv, forget_submits=1)
    song = generate_acestep_song(song_request(srv, lyrics=""), tmp_path)
    assert song.audio.size > 0
    assert json.loads((tmp_path / "submission.json").read_text())["task_id"] in Path(song.result.path).read_text()


def test_a_task_recorded_in_the_song_folder_is_polled_again_not_submitted_twice(srv, tmp_path):
    """A run killed after the server accepted the job but before Prefect stored the submit step's result."""
    total = lambda: httpx.get(f"{srv.url}/v1/stats", headers=AUTH).json()["data"]["jobs"]["total"]  # noqa: E731
    before = total()
    request = song_request(srv, lyrics="")
    first = submit_song(request, tmp_path)
    again = submit_song(request, tmp_path)
    assert again.task_id == first.task_id and total() == before + 1
    assert poll_song(again, request, tmp_path).audio.size > 0


def test_a_failed_task_is_forgotten_so_the_next_run_submits_again(srv, tmp_path):
    faults(srv, fail_jobs=1)
    request = song_request(srv, lyrics="")
    failed = submit_song(request, tmp_path)
    with pytest.raises(AceStepJobFailed):
        poll_song(failed, request, tmp_path)
    assert not (tmp_path / "submission.json").exists()
    assert submit_song(request, tmp_path).task_id != failed.task_id


def test_a_task_lost_twice_is_reported(srv, tmp_path):
    faults(srv, forget_submits=2)
    with pytest.raises(AceStepLostTask, match="does not know task .* any more"):
        generate_acestep_song(song_request(srv, lyrics=""), tmp_path)


def test_a_restart_forgets_queued_jobs(srv, tmp_path):
    faults(srv, job_delay=2.0)
    blocker = httpx.post(f"{srv.url}/release_task", json={"prompt": "x", "audio_duration": 2, "batch_size": 1},
                         headers=AUTH).json()["data"]["task_id"]
    while httpx.get(f"{srv.url}/v1/stats", headers=AUTH).json()["data"]["jobs"]["running"] == 0:
        time.sleep(0.02)
    request = song_request(srv, lyrics="")
    job = submit_song(request, tmp_path)  # queued behind the blocker
    faults(srv, forget_now=True)
    with pytest.raises(AceStepLostTask, match="does not know task"):
        poll_song(job, request, tmp_path)
    assert blocker != job.task_id


def test_the_client_deadline(srv, tmp_path):
    faults(srv, job_delay=3.0)
    with pytest.raises(AceStepTimeout, match=r"did not finish within 1 s \(last stage: (running|queued)\)"):
        generate_acestep_song(song_request(srv, lyrics="", timeout=1.0), tmp_path)


def test_dropped_connections_while_polling_are_tolerated(srv, tmp_path):
    request = song_request(srv, lyrics="")
    job = submit_song(request, tmp_path)
    faults(srv, drop_connections=2)
    assert poll_song(job, request, tmp_path).audio.size > 0


def test_a_dropped_submit_is_transient(srv, tmp_path):
    faults(srv, drop_connections=1)
    with pytest.raises(httpx.TransportError) as info:
        submit_song(song_request(srv, lyrics=""), tmp_path)
    assert is_transient(info.value)


def test_bodies_the_server_cannot_read(srv):
    def post(**kw):
        return httpx.post(f"{srv.url}/release_task", **kw)
    bad_json = post(content=b"{nope", headers={**AUTH, "Content-Type": "application/json"})
    assert bad_json.status_code == 500 and bad_json.headers["content-type"].startswith("text/plain")
    assert post(content=b"{nope", headers=AUTH).status_code == 400
    assert post(content=b"[1]", headers=AUTH).json()["detail"] == "JSON payload must be an object"
    unsupported = post(content=b"hello", headers={**AUTH, "Content-Type": "text/plain"})
    assert unsupported.status_code == 415 and "Unsupported Content-Type: text/plain" in unsupported.json()["detail"]


# ---- doctor and the command ----------------------------------------------------------------------------

def test_doctor(srv, monkeypatch):
    assert all(c.ok for c in check_acestep(srv.url))
    wrong = check_acestep(srv.url, api_key="wrong")
    assert [c.ok for c in wrong] == [True, True, False] and "rejected the API key" in wrong[2].detail
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    [down] = check_acestep(f"http://127.0.0.1:{port}")
    assert not down.ok and "cannot reach" in down.detail and "mvflow engine serve" in down.detail


def test_engine_serve_command(tmp_path):
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    code = "from mvflow.cli.engine import engine_app; engine_app()"
    env = {**os.environ, "ACESTEP_API_KEY": KEY}
    proc = subprocess.Popen([sys.executable, "-c", code, "serve", "--port", str(port), "--audio-dir",
                             str(tmp_path), "--fail-jobs", "1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"{url}/v1/stats").status_code == 401  # --api-key from ACESTEP_API_KEY
        assert httpx.post(f"{url}/_faults", json={}).status_code == 404  # admin route only with --faults
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0].decode()
    assert "ACE-Step-compatible server" in output and KEY not in output
    assert ("upstream f30aee4, results diskcache, LM on, uploads broken (500), seeds ignored"
            in " ".join(output.split()))  # the faithful default, said at start-up


def test_engine_serve_refuses_a_switch_value_it_does_not_know():
    from typer.testing import CliRunner

    from mvflow.cli.engine import engine_app

    result = CliRunner().invoke(engine_app, ["serve", "--upstream", "1.4"])
    assert result.exit_code == 2 and "choose f30aee4 or latest" in result.output
