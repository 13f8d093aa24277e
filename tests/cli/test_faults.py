"""Faults seen as a user sees them: the installed `mvflow make` in its own process, stderr read back.

A known fault (server down, rate limited) must end in retries and then either a finished video
or one `error:` line — never a Python traceback on the terminal. Retries are made fast through
MVFLOW_RETRIES / MVFLOW_RETRY_DELAY, the same settings a user has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mvflow.song.devserver.server import free_socket
from tests.support.stt_servers import OpenAISttServer

pytestmark = pytest.mark.e2e

TINY = ["--duration", "5", "--resolution", "320x180", "--fps", "10", "-o", "out"]


def mvflow(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run `mvflow` against the session's Prefect server, with fast retries and no keys but `env`'s."""
    from prefect.settings import PREFECT_API_URL

    clean = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and not k.startswith("MVFLOW_")}
    full = {**clean, "PREFECT_API_URL": PREFECT_API_URL.value(), "MVFLOW_RETRIES": "1",
            "MVFLOW_RETRY_DELAY": "0.1", "no_proxy": "127.0.0.1,localhost", **env}
    return subprocess.run([str(Path(sys.executable).parent / "mvflow"), *args], capture_output=True, text=True,
                          env=full, timeout=300)


def test_unreachable_song_server_is_retried_then_one_line(prefect_harness, no_config):
    sock = free_socket()  # bound but never listening: connections are refused
    port = sock.getsockname()[1]
    try:
        result = mvflow(["make", "-c", "calm synth", "--engine", "acestep", "--api-url",
                         f"http://127.0.0.1:{port}", *TINY])
    finally:
        sock.close()
    assert result.returncode == 1
    assert "Retry 1/1" in result.stderr  # the step was retried first
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot connect to http://127.0.0.1:{port} ([Errno 111] Connection refused): is "
                      "the server running, and is the URL right? (still failing after the step's retries; try "
                      "again later)"]


def test_rate_limited_transcriber_waits_retry_after_and_the_video_completes(prefect_harness, no_config):
    lyrics = no_config / "lyrics.txt"
    lyrics.write_text("[Verse]\nHello night\n")
    with OpenAISttServer("sk-cli-fault", ["Hello", "night"]) as stub:
        stub.fail_next(429, "Rate limit reached", "rate_limit_exceeded", headers={"Retry-After": "2"})
        result = mvflow(["make", "-c", "calm synth", "--lyrics", str(lyrics), "--transcriber", "openai", *TINY],
                        OPENAI_API_KEY="sk-cli-fault", OPENAI_BASE_URL=stub.base_url)
    assert result.returncode == 0, result.stderr
    assert "the server asked to retry after 2 s" in result.stderr and "Traceback" not in result.stderr
    first, second = stub.requests
    assert (first.status, second.status) == (429, 200) and second.received - first.received >= 2.0
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    assert mp4.suffix == ".mp4" and mp4.stat().st_size > 0


def test_overloaded_cover_service_is_retried_then_one_line(prefect_harness, no_config):
    from tests.support.gemini_server import GeminiStub

    with GeminiStub() as stub:
        stub.fail(503, times=50)
        result = mvflow(["make", "-c", "calm synth", "--cover-provider", "gemini", *TINY],
                        GEMINI_API_KEY="gm-cli-fault", MVFLOW_GEMINI_BASE_URL=stub.url)
        tries = len(stub.requests)
    assert result.returncode == 1
    assert tries == 8  # the provider's 4 tries, in each of the step's 2 runs (MVFLOW_RETRIES=1)
    assert "Traceback" not in result.stderr and "gm-cli-fault" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: Gemini model gemini-3.1-flash-image answered 503 UNAVAILABLE: scripted UNAVAILABLE "
                      "(still failing after the step's retries; try again later)"]
