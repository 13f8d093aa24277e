"""Run `mvflow make` as a user would, in its own process group, and kill -9 it at a chosen moment.

The services it talks to run in the test process on 127.0.0.1: the built-in ACE-Step server
(it counts every accepted /release_task in /v1/stats), OpenAI's and Gemini's stand-ins. A
`Gate` holds a stub's answers until the test has seen the request arrive and killed the run,
so "kill during transcription" means exactly that, not "kill after some seconds".
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.gemini_server import Answer, GeminiStub, Seen
from tests.support.stt_servers import OpenAISttServer, Recorded
from tests.support.stub_http import Reply

MVFLOW = str(Path(sys.executable).parent / "mvflow")


class Gate:
    """While armed, a stub request waits here (up to a minute) until the test opens the gate."""

    def __init__(self) -> None:
        self.armed = False
        self.arrived = threading.Event()
        self._open = threading.Event()

    def arm(self) -> None:
        self.arrived.clear()
        self._open.clear()
        self.armed = True

    def pass_through(self) -> None:
        if self.armed:
            self.arrived.set()
            self._open.wait(60)

    def open(self) -> None:
        self.armed = False
        self._open.set()


class GatedOpenAI(OpenAISttServer):
    """OpenAI's transcription stand-in whose answers can be held back by a Gate."""

    def __init__(self, api_key: str, words: list[str]) -> None:
        super().__init__(api_key, words)
        self.gate = Gate()

    def serve(self, request: Recorded) -> Reply:
        self.gate.pass_through()
        return super().serve(request)


class GatedGemini(GeminiStub):
    """Gemini's image stand-in whose answers can be held back by a Gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = Gate()

    def answer(self, seen: Seen) -> Answer:
        self.gate.pass_through()
        return super().answer(seen)


def wait_for(condition: Callable[[], Any], timeout: float, what: str, proc: subprocess.Popen | None = None) -> Any:
    """Poll `condition` every 5 ms until it is truthy; fail if the run ended first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the run ended (rc {proc.returncode}) before {what}:\n{err[-3000:]}")
        time.sleep(0.005)
    if proc is not None:
        kill_group(proc)
        raise AssertionError(f"timed out waiting for {what}; the run said:\n{proc.stderr_text[-3000:]}")
    raise AssertionError(f"timed out waiting for {what}")


def kill_group(proc: subprocess.Popen) -> None:
    """kill -9 the run and every process it started (ffmpeg encoders, a temporary Prefect server)."""
    os.killpg(proc.pid, signal.SIGKILL)
    _, proc.stderr_text = proc.communicate(timeout=30)


def file_state(path: Path) -> tuple[str, int]:
    """(sha256, mtime_ns): a file that was not rewritten keeps both."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def finished_files(folder: Path, pattern: str) -> list[Path]:
    """Files matching `pattern` under `folder`, without temp files (pathlib's glob matches dot files)."""
    return [p for p in folder.glob(pattern) if p.is_file() and not p.name.startswith(".")]


def partial_files(root: Path) -> list[Path]:
    """Temporary files of atomic writes (.<name>.<...>.part<suffix>) anywhere under `root`."""
    return [p for p in root.rglob(".*.part*") if p.is_file() and ".prefect-results" not in p.parts]


@dataclass
class MakeCommand:
    """`mvflow make` with fixed arguments and environment, started in a new process group."""

    args: list[str]
    env: dict[str, str]
    cwd: Path
    runs: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> subprocess.Popen:
        proc = subprocess.Popen([MVFLOW, "make", *self.args], cwd=self.cwd, env=self.env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        self.runs.append(proc)
        return proc

    def run(self, timeout: float = 300) -> subprocess.CompletedProcess:
        proc = self.start()
        out, err = proc.communicate(timeout=timeout)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def acestep_stats(url: str, key: str) -> dict:
    """The server's job counts: `total` is every /release_task it accepted."""
    answer = httpx.get(f"{url}/v1/stats", headers={"Authorization": f"Bearer {key}"})
    answer.raise_for_status()
    return answer.json()["data"]["jobs"]


def set_faults(url: str, key: str, **faults: Any) -> None:
    httpx.post(f"{url}/_faults", json=faults, headers={"Authorization": f"Bearer {key}"}).raise_for_status()
