"""The fault suite: what real services do wrong, over real HTTP on 127.0.0.1.

For every fault the outcome is one of two: retried and completed, or failed with one clear
line (mvflow.errors.fault_line) — never a hang (every wait below ends by a deadline the test
checks) and never an unknown exception. The ACE-Step faults use the built-in server's fault
switches (mvflow.song.devserver.jobs.FaultPlan); the cloud ones the local OpenAI, ElevenLabs and
Gemini stand-ins with tests.support.stub_http's scripted faults. Faults already covered elsewhere
(tests/song/test_acestep_server.py, tests/lyrics/test_providers.py, tests/cover/test_gemini.py) are not
repeated here; README.md's reliability table lists them all.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from mvflow.audio import write_wav
from mvflow.cover import gemini
from mvflow.errors import ServiceError as ServiceError
from mvflow.errors import fault_line, is_known_fault, is_transient
from mvflow.lyrics import elevenlabs_provider, openai_provider
from mvflow.lyrics.cloud import retry_after_seconds
from mvflow.models import SongRequest
from mvflow.retries import wait_retry_after
from mvflow.song.acestep.engine import AceStepJob, generate_acestep_song, poll_song, submit_song
from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import start_in_thread
from tests.support.acestep import clear_faults, running_server
from tests.support.gemini_server import GeminiStub
from tests.support.stt_servers import ElevenLabsSttServer, OpenAISttServer
from tests.support.stub_http import Fault, silent_port

KEY = "fault-key-3d9a"
AUTH = {"Authorization": f"Bearer {KEY}"}
FAST = {"poll_interval": 0.05, "poll_max_interval": 0.2, "retry_delay": 0.05, "lost_after": 0.6, "timeout": 60,
        "stalled_after": 0.5}


def assert_one_line(exc: BaseException, *parts: str) -> str:
    """The fault is a known one and the user reads one line holding `parts`."""
    line = fault_line(exc)
    assert is_known_fault(exc), repr(exc)
    assert "\n" not in line and "Traceback" not in line, line
    for part in parts:
        assert part in line, line
    return line


# ---- ACE-Step -----------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("acestep_audio"), KEY) as running:
        yield running


@pytest.fixture
def srv(server, monkeypatch):
    monkeypatch.setenv("ACESTEP_API_KEY", KEY)
    yield server
    clear_faults(server, KEY)


def faults(url: str, **changes) -> None:
    httpx.post(f"{url}/_faults", json=changes, headers=AUTH).raise_for_status()


def song_request(url: str, **options) -> SongRequest:
    return SongRequest(caption="calm synth", lyrics="", duration=4.0, seed=3, engine="acestep",
                       engine_options={"api_url": url, **FAST, **options})


def test_submit_answer_slower_than_the_client_timeout_is_a_transient_timeout(srv, tmp_path):
    faults(srv.url, slow_requests=1, slow_seconds=3.0)
    start = time.monotonic()
    with pytest.raises(httpx.ReadTimeout) as caught:
        submit_song(song_request(srv.url, http_timeout=0.5), tmp_path)
    assert time.monotonic() - start < 2.5
    assert is_transient(caught.value)
    assert_one_line(caught.value, f"{srv.url} did not answer in time (ReadTimeout)", "still failing after")


def test_slow_polls_are_missed_polls_and_the_song_completes(srv, tmp_path):
    request = song_request(srv.url, http_timeout=0.5)
    job = submit_song(request, tmp_path)
    faults(srv.url, slow_requests=2, slow_seconds=1.5)
    assert poll_song(job, request, tmp_path).audio.size > 0


def test_polls_answering_500_are_missed_polls_and_the_song_completes(srv, tmp_path):
    request = song_request(srv.url)
    job = submit_song(request, tmp_path)
    faults(srv.url, fail_query_500=3)
    assert poll_song(job, request, tmp_path).audio.size > 0


def test_a_download_answering_500_is_retried_and_the_song_completes(srv, tmp_path):
    faults(srv.url, fail_download_500=2)
    song = generate_acestep_song(song_request(srv.url), tmp_path)
    assert song.audio.size > 0 and not list(tmp_path.glob(".*part*"))  # no temporary file left behind


def test_a_download_trickling_past_its_deadline_is_retried_and_the_song_completes(srv, tmp_path):
    faults(srv.url, trickle_downloads=1)
    start = time.monotonic()
    song = generate_acestep_song(song_request(srv.url, download_timeout=1.0), tmp_path)
    assert song.audio.size > 30 * 1024  # so the trickle (1 KiB every 0.1 s) could not have made it in 1 s
    assert time.monotonic() - start < 20
    assert not list(tmp_path.glob(".*part*"))


def test_a_download_that_never_gets_faster_is_one_transient_line(srv, tmp_path):
    request = song_request(srv.url, download_timeout=0.5)
    job = submit_song(request, tmp_path)
    faults(srv.url, trickle_downloads=3)
    with pytest.raises(TimeoutError) as caught:
        poll_song(job, request, tmp_path)
    assert_one_line(caught.value, "ACE-Step sent the audio too slowly: not complete after 0.5 s", "still failing")
    assert not list(tmp_path.glob("song_*")) and not list(tmp_path.glob(".*part*"))


def test_a_429_burst_longer_than_the_submit_retries_is_one_transient_line(srv, tmp_path):
    faults(srv.url, fail_submit_429=4)
    with pytest.raises(httpx.HTTPStatusError) as caught:
        submit_song(song_request(srv.url, submit_retries=2), tmp_path)
    assert is_transient(caught.value)
    assert_one_line(caught.value, "ACE-Step /release_task answered 429: Server busy: queue is full")
    faults(srv.url, fail_submit_429=0)


def test_a_server_that_never_answers_ends_by_the_deadlines(tmp_path, monkeypatch):
    monkeypatch.delenv("ACESTEP_API_KEY", raising=False)
    with silent_port() as url:
        request = song_request(url, http_timeout=0.4, timeout=1.5)
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout) as submit_fault:
            submit_song(request, tmp_path)
        assert time.monotonic() - start < 2.0
        assert_one_line(submit_fault.value, "did not answer in time")

        job = AceStepJob(task_id="t-1", api_url=url, payload={}, payload_sha256="0" * 64, request=request,
                         submitted_at=time.time())
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            poll_song(job, request, tmp_path)
        # Polls that time out are missed polls until the job's deadline, then the fault is raised.
        assert 1.5 <= time.monotonic() - start < 1.5 + 2 * 0.4 + 1.0


def test_a_restart_in_the_middle_of_polling_resubmits_and_completes(tmp_path, monkeypatch):
    """The server goes away while the job runs (polls are refused) and comes back on the same port: its
    disk cache still answers the job's last stage (status 0), but the server runs nothing, so the poll
    declares the task lost and submits it again once."""
    monkeypatch.setenv("ACESTEP_API_KEY", KEY)
    audio_dir = tmp_path / "audio"
    url, stop = start_in_thread(api_key=KEY, audio_dir=audio_dir, faults=FaultPlan(job_delay=2.0))
    port = int(url.rsplit(":", 1)[1])
    servers = {"stop": stop}
    first_task: list[str] = []

    def restart() -> None:
        submission = tmp_path / "song" / "submission.json"
        while not submission.exists():
            time.sleep(0.02)
        first_task.append(json.loads(submission.read_text())["task_id"])
        time.sleep(0.3)
        servers["stop"]()
        time.sleep(0.5)  # down: polls meet "connection refused"
        servers["stop"] = start_in_thread(api_key=KEY, audio_dir=audio_dir, port=port)[1]

    restarter = threading.Thread(target=restart)
    restarter.start()
    try:
        song = generate_acestep_song(song_request(url), tmp_path / "song")
    finally:
        restarter.join(30)
        servers["stop"]()
    record = json.loads(Path(song.result.path).read_text())
    assert song.audio.size > 0 and first_task and record["task_id"] != first_task[0]


# ---- cloud speech-to-text and Gemini ---------------------------------------------------------------------

OPENAI_KEY, ELEVEN_KEY, GEMINI_KEY = "sk-fault-1", "xi-fault-2", "gm-fault-3"
WORDS = ["hello"]


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    """Half a second of a tone: enough for the stand-ins to place a word on."""
    t = np.arange(8000) / 16000
    path = tmp_path_factory.mktemp("fault_audio") / "a.wav"
    write_wav(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    return path


@pytest.fixture(autouse=True)
def local_only(monkeypatch):
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")  # never Google


def openai_call(stub: OpenAISttServer, audio: Path):
    return openai_provider.openai_words(audio, api_key=OPENAI_KEY, base_url=stub.base_url)


def scribe_call(stub: ElevenLabsSttServer, audio: Path):
    return elevenlabs_provider.scribe_words(audio, api_key=ELEVEN_KEY, base_url=stub.base_url)


def gemini_call(stub: GeminiStub, tries: int = 1):
    policy = gemini.RetryPolicy(tries=tries, base_delay=0.01, max_delay=0.05)
    return gemini.gemini_image("a neon city", "16:9", api_key=GEMINI_KEY, base_url=stub.url, retry=policy)


SERVICES = {
    "openai": (lambda: OpenAISttServer(OPENAI_KEY, WORDS), openai_call, "OpenAI"),
    "elevenlabs": (lambda: ElevenLabsSttServer(ELEVEN_KEY, WORDS), scribe_call, "ElevenLabs"),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize(("fault", "expected"), [
    (Fault.malformed(), "(HTTP 502): answer is not JSON"),
    (Fault.truncated(), "cannot reach"),
    (Fault.reset(), "cannot reach"),
])
def test_stt_broken_answers_are_transient_one_liners_and_a_retry_completes(service, fault, expected, audio):
    make, call, name = SERVICES[service]
    with make() as stub:
        stub.inject(fault)
        with pytest.raises(Exception) as caught:  # noqa: PT011 - classified below
            call(stub, audio)
        assert is_transient(caught.value)
        assert_one_line(caught.value, name, expected)
        assert [w.text for w in call(stub, audio)] == WORDS  # what the step's retry does


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_stt_answer_slower_than_the_timeout_ends_in_time(service, audio, monkeypatch):
    make, call, name = SERVICES[service]
    module = openai_provider if service == "openai" else elevenlabs_provider
    monkeypatch.setattr(module, "REQUEST_TIMEOUT", 0.5)
    with make() as stub:
        stub.inject(Fault.slow(3.0))
        start = time.monotonic()
        with pytest.raises(TimeoutError) as caught:
            call(stub, audio)
        assert time.monotonic() - start < 2.5
        assert_one_line(caught.value, f"{name} did not answer in time")


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "7"}, 7.0), ({}, None)])
def test_stt_429_carries_the_servers_retry_after(service, headers, retry_after, audio):
    make, call, name = SERVICES[service]
    with make() as stub:
        stub.fail_next(429, "slow down", "rate_limit_exceeded", headers=headers)
        with pytest.raises(ServiceError) as caught:
            call(stub, audio)
    assert caught.value.status_code == 429 and caught.value.retry_after == retry_after
    assert_one_line(caught.value, f"{name} is rate limiting or failing (HTTP 429): slow down")


def test_retry_after_is_waited_before_the_steps_retry_and_capped():
    waits: list[float] = []
    assert wait_retry_after(ServiceError("busy", 429, 7.0), waits.append) == 7.0
    assert wait_retry_after(ServiceError("busy", 429, 9999.0), waits.append) == 120.0
    assert wait_retry_after(ServiceError("busy", 429), waits.append) == 0.0
    assert waits == [7.0, 120.0]
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after_seconds({"retry-after": "soon"}) is None


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault.malformed(), "answered something that is not JSON"),
    (Fault.truncated(), "cannot reach Gemini (RemoteProtocolError"),
    (Fault.reset(), "cannot reach Gemini"),
])
def test_gemini_broken_answers_are_retried_and_the_image_arrives(fault, expected):
    with GeminiStub() as stub:
        stub.inject(fault)
        with pytest.raises(gemini.GeminiUnavailable) as caught:
            gemini_call(stub)
        assert_one_line(caught.value, expected)
        stub.inject(fault)
        assert gemini_call(stub, tries=2).size[0] > 0  # the provider's own retry gets the image
        assert len(stub.requests) == 3


def test_gemini_answer_slower_than_the_timeout_ends_in_time(monkeypatch):
    monkeypatch.setattr(gemini, "REQUEST_TIMEOUT_S", 0.5)
    with GeminiStub() as stub:
        stub.inject(Fault.slow(3.0))
        start = time.monotonic()
        with pytest.raises(gemini.GeminiUnavailable) as caught:
            gemini_call(stub)
        assert time.monotonic() - start < 2.5
        assert_one_line(caught.value, "cannot reach Gemini (ReadTimeout")


def test_transient_errors_survive_pickling_with_their_retry_after():
    import pickle

    copy = pickle.loads(pickle.dumps(ServiceError("busy", 429, 3.0)))
    assert (str(copy), copy.status_code, copy.retry_after) == ("busy", 429, 3.0)


# ---- what the user reads ---------------------------------------------------------------------------------

def test_fault_lines_name_the_server_but_never_the_path_and_bugs_stay_bugs():
    from mvflow.flows.outcome import failure_reason

    request = httpx.Request("GET", "http://127.0.0.1:9/v1/audio?path=%2Fhome%2Fme%2Fsong.mp3")
    refused = httpx.ConnectError("[Errno 111] Connection refused", request=request)
    line = assert_one_line(refused, "cannot connect to http://127.0.0.1:9 ([Errno 111] Connection refused)")
    assert "song.mp3" not in line and "/v1/audio" not in line
    assert failure_reason("song", refused) == f"song: {line}"
    cut = httpx.RemoteProtocolError("peer closed connection", request=request)
    assert_one_line(cut, "the connection to http://127.0.0.1:9 broke before the answer was complete")
    bug = KeyError("entries")
    assert not is_known_fault(bug) and fault_line(bug) == "KeyError: 'entries'"


def test_transcribe_command_says_a_cloud_fault_was_not_retried(no_config, monkeypatch, audio):
    """`mvflow transcribe` calls the provider directly (no Prefect step, so no retries): its line says so."""
    from typer.testing import CliRunner

    from mvflow.cli import app

    with OpenAISttServer(OPENAI_KEY, WORDS) as stub:
        stub.inject(Fault.reset())
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        result = CliRunner().invoke(app, ["transcribe", str(audio), "--transcriber", "openai", "-o",
                                          str(no_config / "a.lrc")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.splitlines()[-1] == (f"error: cannot reach OpenAI at {stub.base_url}/: Connection error. "
                                              "(a temporary fault; try again later)")
    assert not (no_config / "a.lrc").exists()
