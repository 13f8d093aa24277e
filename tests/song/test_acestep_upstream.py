"""Issue 13: ACE-Step as real servers behave, against `mvflow engine serve` in its faithful default.

The default server behaves like upstream ACE-Step 1.5 at commit f30aee4 installed with diskcache
(uploads answer 500, seeds are ignored, failures carry no reason, results outlive restarts, the
LM's length replaces the request's in simple mode, 48 kHz, a cover as long as its source); the
variants are the switches a real install differs by: `latest` (the later releases' API), a server
installed without diskcache (`memory`) and one without its LM (`nolm`). First the server's own
behaviour over raw HTTP, then what mvflow's client makes of each.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from mvflow.audio import decode_audio, ffmpeg_exe, write_wav
from mvflow.errors import (
    AceStepGatewayTimeout,
    AceStepGenerationTimeout,
    AceStepJobFailed,
    AceStepLmUnavailable,
    AceStepLostTask,
    AceStepUnsupported,
    is_transient,
)
from mvflow.models import SongRequest
from mvflow.song.acestep.client import AceStepClient
from mvflow.song.acestep.doctor import check_acestep
from mvflow.song.acestep.engine import generate_acestep_song, poll_song, submit_song
from mvflow.song.acestep.server_info import lm_status
from mvflow.song.devserver.behaviour import Behaviour
from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import start_in_thread
from tests.support.acestep import (
    jobs,
    keyed,
    leaked_uploads,
    module_server,
    running_server,
    set_faults,
    wait_idle,
)

KEY = "upstream-key-2b7d"
AUTH = {"Authorization": f"Bearer {KEY}"}
LYRICS = "[Verse]\nHello city lights tonight\nWe are running through the rain"
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retry_delay": 0.05, "lost_after": 0.6, "timeout": 60,
        "stalled_after": 0.4, "gateway_retry_delay": 0.05}


default_server = module_server("acestep_default", KEY)
latest_server = module_server("acestep_latest", KEY, Behaviour(upstream="latest"))
memory_server = module_server("acestep_memory", KEY, Behaviour(result_store="memory"))
nolm_server = module_server("acestep_nolm", KEY, Behaviour(lm=False))
srv = keyed("default_server", KEY)
latest = keyed("latest_server", KEY)
memory = keyed("memory_server", KEY)
nolm = keyed("nolm_server", KEY)


def song_request(server, caption="synth pop", lyrics=LYRICS, duration=4.0, **options) -> SongRequest:
    return SongRequest(caption=caption, lyrics=lyrics, duration=duration, seed=3, engine="acestep",
                       engine_options={"api_url": server.url, **FAST, **options})


def submit_raw(server, **body) -> str:
    answer = httpx.post(f"{server.url}/release_task", json={"audio_duration": 3, "batch_size": 1, **body},
                        headers=AUTH)
    answer.raise_for_status()
    return answer.json()["data"]["task_id"]


def query_raw(server, task_id: str) -> dict:
    return httpx.post(f"{server.url}/query_result", json={"task_id_list": [task_id]}, headers=AUTH).json()["data"][0]


def finished_raw(server, task_id: str, limit: float = 60.0) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        item = query_raw(server, task_id)
        if item["status"] in (1, 2):
            return item
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


def source_wav(path: Path, seconds: float = 3.0) -> Path:
    t = np.arange(int(seconds * 44100)) / 44100
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    write_wav(path, np.stack([tone, tone], axis=1), 44100)
    return path


def sample_rate(path: Path) -> int:
    probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True)
    return int(re.search(r"(\d+) Hz", probe.stderr).group(1))


def record_of(song) -> dict:
    return json.loads(Path(song.result.path).read_text())


# ==== the development server behaves like upstream (raw HTTP) ================================================

def test_uploads_answer_500_and_leave_their_temp_file_until_a_switch_fixes_them(srv, latest):
    before = leaked_uploads(srv, KEY)
    broken = httpx.post(f"{srv.url}/release_task", files={"src_audio": ("a.wav", b"RIFF")},
                        data={"prompt": "x", "task_type": "cover"}, headers=AUTH)
    assert broken.status_code == 500 and broken.headers["content-type"].startswith("text/plain")
    assert len(leaked_uploads(srv, KEY)) == len(before) + 1  # f30aee4 never removes it
    fixed = httpx.post(f"{latest.url}/release_task", files={"src_audio": ("a.wav", b"RIFF")},
                       data={"prompt": "x", "audio_duration": "3", "batch_size": "1"}, headers=AUTH)
    assert fixed.status_code == 200 and fixed.json()["data"]["task_id"]


def test_seeds_are_ignored_and_the_reported_seed_is_not_one_asked_for_until_later_releases(srv, latest):
    old = json.loads(finished_raw(srv, submit_raw(srv, prompt="x", seed="3,4", use_random_seed=False,
                                                  batch_size=2))["result"])
    assert old[0]["seed_value"] != "3,4" and len(old[0]["seed_value"].split(",")) == 2
    new = json.loads(finished_raw(latest, submit_raw(latest, prompt="x", seed="3,4", use_random_seed=False,
                                                     batch_size=2))["result"])
    assert new[0]["seed_value"] == "3,4"


def test_the_disk_cache_outlives_a_restart_and_the_memory_install_does_not(tmp_path):
    for behaviour, remembers in ((Behaviour(), True), (Behaviour(result_store="memory"), False)):
        audio = tmp_path / behaviour.result_store
        url, stop = start_in_thread(audio_dir=audio, faults=FaultPlan(), behaviour=behaviour)
        server = type("S", (), {"url": url})
        done = submit_raw(server, prompt="x")
        finished_raw(server, done)
        httpx.post(f"{url}/_faults", json={"job_delay": 30}).raise_for_status()
        running = submit_raw(server, prompt="x")
        queued = submit_raw(server, prompt="x")
        while json.loads(query_raw(server, running)["result"])[0].get("stage") != "running":
            time.sleep(0.05)
        stop()
        url, stop = start_in_thread(audio_dir=audio, port=int(url.rsplit(":", 1)[1]), behaviour=behaviour)
        try:
            after = {name: query_raw(server, task) for name, task in
                     (("done", done), ("running", running), ("queued", queued))}
        finally:
            stop()
        assert after["queued"] == {"task_id": queued, "result": "[]", "status": 0}  # queued jobs are gone
        if remembers:
            assert after["done"]["status"] == 1
            stale = json.loads(after["running"]["result"])[0]
            assert after["running"]["status"] == 0 and stale["stage"] == "running"  # no one works on it
        else:
            assert after["done"]["status"] == after["running"]["status"] == 0
            assert after["done"]["result"] == after["running"]["result"] == "[]"


def test_failures_carry_no_error_in_the_disk_cache_but_do_later_and_without_diskcache(srv, latest, memory):
    shapes = {}
    for name, server in (("default", srv), ("latest", latest), ("memory", memory)):
        set_faults(server, KEY, fail_jobs=1)
        shapes[name] = json.loads(finished_raw(server, submit_raw(server, prompt="x"))["result"])[0]
    assert shapes["default"] == {**shapes["default"], "status": 2, "stage": "failed"}
    assert "error" not in shapes["default"]
    assert shapes["latest"]["error"].strip().endswith("RuntimeError: injected fault: generation failed")
    assert shapes["memory"]["error"].startswith("Traceback") and shapes["memory"]["metas"] == {}


def test_without_diskcache_the_result_is_the_smaller_shape(memory):
    entry = json.loads(finished_raw(memory, submit_raw(memory, prompt="x", lyrics="[Verse]\nhi there",
                                                       sample_query="a sad song about rain"))["result"])[0]
    assert entry["prompt"] == "" and entry["lyrics"] == "[Verse]\nhi there"  # metas.caption, the original input
    assert not {"seed_value", "lm_model", "dit_model", "generation_info"} & set(entry)
    assert set(entry["metas"]) == {"bpm", "duration", "genres", "keyscale", "timesignature"}


def test_without_the_lm_its_jobs_fail_and_format_input_is_503(nolm):
    for needs in ({"thinking": True}, {"sample_query": "a song about rain"}, {"use_format": True}):
        assert finished_raw(nolm, submit_raw(nolm, prompt="x", **needs))["status"] == 2
    assert finished_raw(nolm, submit_raw(nolm, prompt="x"))["status"] == 1
    refused = httpx.post(f"{nolm.url}/format_input", json={"prompt": "x"}, headers=AUTH)
    assert refused.status_code == 503 and "ACESTEP_INIT_LLM=true" in refused.json()["detail"]


def test_audio_is_48_khz_a_cover_is_as_long_as_its_source_and_simple_mode_picks_its_length(latest, tmp_path):
    entry = json.loads(finished_raw(latest, submit_raw(latest, prompt="x", audio_format="wav"))["result"])[0]
    wav = tmp_path / "a.wav"
    wav.write_bytes(httpx.get(latest.url + entry["file"], headers=AUTH).content)
    assert sample_rate(wav) == 48000
    with source_wav(tmp_path / "src.wav", 3.0).open("rb") as fh:
        cover = httpx.post(f"{latest.url}/release_task", files={"src_audio": ("src.wav", fh)}, headers=AUTH,
                           data={"prompt": "x", "task_type": "cover", "audio_duration": "9", "batch_size": "1"})
    entry = json.loads(finished_raw(latest, cover.json()["data"]["task_id"])["result"])[0]
    assert entry["metas"]["duration"] == 9.0  # metas echo the request ...
    mp3 = tmp_path / "cover.mp3"
    mp3.write_bytes(httpx.get(latest.url + entry["file"], headers=AUTH).content)
    assert abs(len(decode_audio(mp3, 8000)) / 8000 - 3.0) < 0.1  # ... the audio is the source's length
    described = json.loads(finished_raw(latest, submit_raw(latest, sample_query="a happy song about summer",
                                                           audio_duration=2))["result"])[0]
    assert described["metas"]["duration"] > 10  # the LM's length, not the 2 s asked


# ==== 1. uploads to a server that cannot take them ===========================================================

def test_a_cover_for_an_old_server_goes_through_completion_mode_and_uploads_nothing(srv, tmp_path):
    before, total = leaked_uploads(srv, KEY), jobs(srv, KEY)["total"]
    src = source_wav(tmp_path / "src.wav")
    song = generate_acestep_song(song_request(srv, task_type="cover", src_audio=str(src)), tmp_path / "out")
    assert record_of(song)["api_mode"] == "completion" and abs(song.duration - 3.0) < 0.1
    assert any("it answers every upload with 500" in w for w in song.warnings)
    assert leaked_uploads(srv, KEY) == before and jobs(srv, KEY)["total"] == total + 1
    assert not (tmp_path / "out" / "submission.json").exists()


def test_a_server_that_looks_new_but_rejects_the_upload_is_asked_once(tmp_path, monkeypatch):
    monkeypatch.setenv("ACESTEP_API_KEY", KEY)
    with running_server(tmp_path / "audio", KEY, Behaviour(upstream="latest", uploads="broken")) as server:
        src = source_wav(tmp_path / "src.wav")
        song = generate_acestep_song(song_request(server, task_type="repaint", src_audio=str(src),
                                                  repainting_start=1.0, repainting_end=2.0), tmp_path / "out")
        assert record_of(song)["api_mode"] == "completion" and abs(song.duration - 3.0) < 0.1
        assert len(leaked_uploads(server, KEY)) == 1  # one upload, never retried


def test_a_style_reference_completion_mode_cannot_carry_is_one_line_before_any_upload(srv, tmp_path):
    before = leaked_uploads(srv, KEY)
    ref = source_wav(tmp_path / "ref.wav")
    with pytest.raises(AceStepUnsupported) as info:
        generate_acestep_song(song_request(srv, reference_audio=str(ref)), tmp_path / "out")
    assert "music continuation" in str(info.value) and "\n" not in str(info.value)
    assert leaked_uploads(srv, KEY) == before


# ==== 2. a server restarted while the job runs ===============================================================

def test_a_running_task_whose_server_restarted_is_lost_and_submitted_again_once(srv, tmp_path):
    set_faults(srv, KEY, job_delay=1.5)
    request = song_request(srv, lyrics="")
    job = submit_song(request, tmp_path)
    while json.loads(query_raw(srv, job.task_id)["result"])[0].get("stage") != "running":
        time.sleep(0.05)
    set_faults(srv, KEY, forget_now=True, job_delay=0.0)  # the restart: memory gone, the disk cache stays
    stale = query_raw(srv, job.task_id)
    assert stale["status"] == 0 and json.loads(stale["result"])[0]["stage"] == "running"
    with pytest.raises(AceStepLostTask, match="the server runs nothing"):
        poll_song(job, request, tmp_path)
    assert not (tmp_path / "submission.json").exists()  # forgotten, so the next submit really submits
    song = generate_acestep_song(request, tmp_path)
    assert record_of(song)["task_id"] != job.task_id and song.audio.size > 0


# ==== 3. seeds ===============================================================================================

def test_the_reported_seed_is_recorded_and_an_ignored_seed_is_said(srv, latest, tmp_path):
    old = generate_acestep_song(song_request(srv, lyrics=""), tmp_path / "old")
    assert old.seed_requested == 3 and old.seed not in (None, 3) and old.seed_honoured is False
    assert any("did not use the requested seed 3" in w for w in old.warnings)
    new = generate_acestep_song(song_request(latest, lyrics=""), tmp_path / "new")
    assert new.seed == new.seed_requested == 3 and new.seed_honoured is True and not new.warnings
    completion = generate_acestep_song(song_request(srv, lyrics="", api_mode="completion"), tmp_path / "c")
    assert completion.seed is None and completion.seed_requested == 3 and completion.seed_honoured is None


# ==== 4. completion-mode failures ============================================================================

def test_a_completion_needing_the_missing_lm_is_permanent_and_sent_once(nolm, tmp_path):
    total = jobs(nolm, KEY)["total"]
    with pytest.raises(AceStepLmUnavailable) as info:
        generate_acestep_song(song_request(nolm, api_mode="completion"), tmp_path)  # --thinking by default
    assert "LM is not loaded" in str(info.value) and "ACESTEP_INIT_LLM=true" in str(info.value)
    assert not is_transient(info.value) and jobs(nolm, KEY)["total"] == total + 1


def test_the_servers_own_504_is_never_sent_again(tmp_path, monkeypatch):
    monkeypatch.setenv("ACESTEP_API_KEY", KEY)
    with running_server(tmp_path / "audio", KEY, generation_timeout=0.5) as server:
        set_faults(server, KEY, job_delay=1.5)
        with pytest.raises(AceStepGenerationTimeout) as info:
            generate_acestep_song(song_request(server, lyrics="", api_mode="completion"), tmp_path / "out")
        assert "job keeps running on the server" in str(info.value) and not is_transient(info.value)
        assert jobs(server, KEY)["total"] == 1 and jobs(server, KEY)["running"] == 1  # still generating
        wait_idle(server, KEY)
        assert jobs(server, KEY)["succeeded"] == 1


def test_a_proxys_504_is_retried_with_backoff(srv, tmp_path):
    total = jobs(srv, KEY)["total"]
    set_faults(srv, KEY, proxy_504=2)
    song = generate_acestep_song(song_request(srv, lyrics="", api_mode="completion"), tmp_path / "ok")
    assert song.audio.size > 0 and jobs(srv, KEY)["total"] == total + 1  # the proxy kept the first two
    set_faults(srv, KEY, proxy_504=5)
    with pytest.raises(AceStepGatewayTimeout, match="answered 504 Gateway Timeout 2 time"):
        generate_acestep_song(song_request(srv, lyrics="", api_mode="completion", gateway_retries=1),
                              tmp_path / "gone")


# ==== 5. failures name the LM only when it is the cause ======================================================

def test_status_2_names_the_lm_only_when_the_lm_is_missing(srv, nolm, memory, tmp_path):
    with pytest.raises(AceStepLmUnavailable, match="the server's LM is not loaded: --thinking need it"):
        generate_acestep_song(song_request(nolm, lyrics=""), tmp_path / "a")
    set_faults(srv, KEY, fail_jobs=1)  # the LM is loaded: the failure is something else
    with pytest.raises(AceStepJobFailed) as info:
        generate_acestep_song(song_request(srv, lyrics=""), tmp_path / "b")
    assert "gave no reason" in str(info.value) and "LM" not in str(info.value)
    set_faults(nolm, KEY, fail_jobs=1)  # no LM, but a --no-thinking job failed for another reason
    with pytest.raises(AceStepJobFailed) as info:
        generate_acestep_song(song_request(nolm, lyrics="", thinking=False), tmp_path / "c")
    assert "LM" not in str(info.value) and not isinstance(info.value, AceStepLmUnavailable)
    set_faults(memory, KEY, fail_jobs=1)  # without diskcache the traceback is there: its last line is quoted
    with pytest.raises(AceStepJobFailed, match="failed: RuntimeError: injected fault: generation failed$"):
        generate_acestep_song(song_request(memory, lyrics=""), tmp_path / "d")


def test_the_lm_check_works_on_old_and_new_servers(srv, nolm, latest):
    with AceStepClient(srv.url, api_key=KEY) as client:
        assert lm_status(client).available is True
    with AceStepClient(nolm.url, api_key=KEY) as client:
        status = lm_status(client)
        assert status.available is False and "/format_input" in status.how
    with AceStepClient(latest.url, api_key=KEY) as client:
        assert lm_status(client).line() == "loaded (from /health)"


# ==== 6. result shapes =======================================================================================

def test_without_diskcache_the_song_is_the_requests(memory, tmp_path):
    song = generate_acestep_song(song_request(memory, thinking=False), tmp_path)
    assert (song.caption, song.lyrics) == ("synth pop", LYRICS) and song.seed is None
    assert song.seed_honoured is None and song.vocals_expected


def test_a_described_song_without_diskcache_keeps_its_vocals_to_be_transcribed(memory, srv, tmp_path):
    described = dict(caption="", lyrics="", description="a cheerful song about spring", thinking=False)
    song = generate_acestep_song(song_request(memory, **described), tmp_path / "memory")
    assert song.lyrics == "" and song.vocals_expected  # unknown, to be transcribed: not an instrumental
    assert song.caption == "a cheerful song about spring"  # not the empty caption the server gave
    assert any("did not report the lyrics its LM wrote" in w for w in song.warnings)
    full = generate_acestep_song(song_request(srv, **described), tmp_path / "diskcache")
    assert "spring" in full.lyrics.lower() and full.caption and full.vocals_expected


def test_a_song_asked_to_have_vocals_in_which_none_were_found_says_so():
    from mvflow.manifest import run_warnings
    from mvflow.models import MusicVideo, Song, SyncedLyrics

    def video(expected: bool, lines: list) -> MusicVideo:
        return MusicVideo.model_construct(song=Song.model_construct(warnings=["w"], vocals_expected=expected),
                                          lyrics=SyncedLyrics(lines=lines, source="instrumental"))
    assert run_warnings(video(True, [])) == ["w", "the song was asked to have vocals, but no sung lyrics were "
                                                  "found in it: the video shows none"]
    assert run_warnings(video(False, [])) == ["w"]


# ==== 7. substitutions, batches in completion mode, doctor ===================================================

def test_simple_mode_length_and_an_unknown_model_are_warned(srv, tmp_path):
    song = generate_acestep_song(song_request(srv, caption="", lyrics="", description="a calm song about snow",
                                              model="acestep-v15-xl-turbo"), tmp_path)
    assert song.duration > 10
    assert any("instead of the 4 s asked (in simple mode (-d) the server's LM chooses the length)" in w
               for w in song.warnings)
    assert any("has no model 'acestep-v15-xl-turbo' (it has mvflow-local)" in w for w in song.warnings)
    assert any("generated with model 'mvflow-local'" in w for w in song.warnings)


def test_completion_mode_makes_every_audio_of_a_batch(srv, tmp_path):
    total = jobs(srv, KEY)["total"]
    song = generate_acestep_song(song_request(srv, lyrics="", api_mode="completion", batch_size=2, pick=2), tmp_path)
    assert Path(song.audio.path).name == "song_2.mp3" and [Path(f.path).name for f in song.extra_files] == \
        ["song_1.mp3"]
    assert jobs(srv, KEY)["total"] == total + 2 and song.seed_requested == 4
    bodies = [r["submitted"] for r in record_of(song)["requests"]]
    assert [b["seed"] for b in bodies] == [3, 4] and {b["batch_size"] for b in bodies} == {1}


def test_doctor_reports_the_lm_the_inventory_and_fails_on_a_rejected_key(srv, nolm, latest):
    rows = {c.name: c for c in check_acestep(nolm.url, api_key=KEY)}
    assert not rows["acestep: LM"].ok and "not loaded" in rows["acestep: LM"].detail
    assert not rows["acestep: LM"].required
    rows = {c.name: c for c in check_acestep(latest.url, api_key=KEY, required=True)}
    assert rows["acestep: LM"].ok and rows["acestep: LM"].detail.startswith("loaded (from /health)")
    assert rows["acestep: inventory"].detail == \
        "DiT mvflow-local (loaded, default); LM acestep-5Hz-lm-0.6B (loaded)"
    assert rows["acestep: server"].detail.endswith("(later release)")
    rows = {c.name: c for c in check_acestep(srv.url, api_key=KEY)}
    assert rows["acestep: inventory"].ok and "not offered" in rows["acestep: inventory"].detail
    wrong = check_acestep(srv.url, api_key="wrong", required=True)
    assert [c.name for c in wrong] == ["acestep: server", "acestep: models", "acestep: auth"]
    assert not wrong[2].ok and wrong[2].required and "rejected the API key" in wrong[2].detail


# ==== the newer API (later releases), feature-detected =======================================================

@pytest.mark.parametrize("fmt, suffix", [("opus", ".opus"), ("aac", ".aac"), ("wav32", ".wav")])
def test_newer_audio_formats_on_a_later_release(latest, tmp_path, fmt, suffix):
    song = generate_acestep_song(song_request(latest, lyrics="", audio_format=fmt), tmp_path)
    assert Path(song.audio.path).suffix == suffix and abs(song.duration - 4.0) < 0.15
    if fmt == "wav32":
        assert Path(song.audio.path).read_bytes()[20:22] in (b"\x03\x00", b"\xfe\xff")  # IEEE float PCM


@pytest.mark.parametrize("options, asked", [
    ({"audio_format": "opus"}, "--audio-format opus"),
    ({"task_type": "repaint", "src_audio": "SRC", "repaint_mode": "conservative"}, "--repaint-mode/--repaint-strength"),
    ({"lora": "/adapters/style.safetensors:0.5"}, "--lora"),
])
def test_newer_features_on_an_old_server_are_one_line_before_any_job(srv, tmp_path, options, asked):
    total = jobs(srv, KEY)["total"]
    options = {k: str(source_wav(tmp_path / "src.wav")) if v == "SRC" else v for k, v in options.items()}
    for mode in ("native", "completion"):
        with pytest.raises(AceStepUnsupported) as info:
            generate_acestep_song(song_request(srv, api_mode=mode, **options), tmp_path / mode)
        assert f"{asked} need a later ACE-Step 1.5 release" in str(info.value)
    assert jobs(srv, KEY)["total"] == total


def test_repaint_modes_keep_more_or_less_of_the_source(latest, tmp_path):
    src = source_wav(tmp_path / "src.wav", 3.0)
    region = slice(int(1.1 * 8000), int(1.9 * 8000))
    source = decode_audio(src, 8000)[region]
    kept = {}
    for mode in ("conservative", "aggressive"):
        song = generate_acestep_song(song_request(latest, lyrics="", duration=3.0, task_type="repaint",
                                                  src_audio=str(src), repainting_start=1.0, repainting_end=2.0,
                                                  repaint_mode=mode, audio_format="wav"), tmp_path / mode)
        assert record_of(song)["submitted"]["repaint_mode"] == mode
        made = decode_audio(song.audio.path, 8000)[region]
        kept[mode] = float(np.corrcoef(made, source)[0, 1])
    assert kept["conservative"] > 0.7 and kept["aggressive"] < kept["conservative"] - 0.3, kept


def test_a_lora_adapter_is_loaded_before_the_song_and_warned_of_after(latest, tmp_path):
    adapter = tmp_path / "style.safetensors"
    adapter.write_bytes(b"lora weights")
    song = generate_acestep_song(song_request(latest, lyrics="", lora=f"{adapter}:0.6"), tmp_path / "a")
    assert f"**LoRA:** {adapter} (scale 0.6)" in record_of(song)["result"][0]["generation_info"]
    status = httpx.get(f"{latest.url}/v1/lora/status", headers=AUTH).json()["data"]
    assert status["lora_loaded"] and status["use_lora"] and status["lora_scale"] == 0.6
    plain = generate_acestep_song(song_request(latest, lyrics=""), tmp_path / "b")
    assert any("LoRA style switched on for every job" in w for w in plain.warnings)
    missing = song_request(latest, lyrics="", lora=str(tmp_path / "missing.safetensors"))
    with pytest.raises(Exception, match="LoRA path not found"):
        generate_acestep_song(missing, tmp_path / "c")
    httpx.post(f"{latest.url}/v1/lora/unload", headers=AUTH).raise_for_status()


def test_doctor_exits_1_when_the_server_in_use_rejects_the_key(srv, monkeypatch, no_config):
    from typer.testing import CliRunner

    from mvflow.cli import app

    monkeypatch.setenv("ACESTEP_API_KEY", "wrong-key")
    refused = CliRunner().invoke(app, ["doctor", "--api-url", srv.url])
    assert refused.exit_code == 1 and "rejected the API key" in refused.output
    monkeypatch.setenv("ACESTEP_API_KEY", KEY)
    accepted = CliRunner().invoke(app, ["doctor", "--api-url", srv.url])
    assert accepted.exit_code == 0, accepted.output
    assert "acestep: LM" in accepted.output and "loaded (/format_input answered)" in accepted.output
