"""Start a real `prefect server start` (dashboard + API) on a free loopback port, for checks and benchmarks.

The server gets its own PREFECT_HOME (a temporary folder unless given) and telemetry off
(DO_NOT_TRACK, PREFECT_SERVER_ANALYTICS_ENABLED=false): nothing leaves 127.0.0.1.

    with prefect_server() as api_url:           # SQLite in a temp PREFECT_HOME
        env = client_env(api_url)               # for subprocesses: mvflow, prefect CLI, workers
    with prefect_server(database_url="postgresql+asyncpg://...") as api_url: ...
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

#: Environment that keeps Prefect (server and clients) from phoning home.
NO_TELEMETRY = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def client_env(api_url: str, **extra: str) -> dict[str, str]:
    """The current environment pointed at `api_url`, telemetry off."""
    return {**os.environ, **NO_TELEMETRY, "PREFECT_API_URL": api_url, **extra}


def prefect_cli() -> str:
    return str(Path(sys.executable).parent / "prefect")


def wait_healthy(api_url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited with status {process.returncode}")
        try:
            if httpx.get(f"{api_url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"prefect server at {api_url} not healthy after {timeout:.0f} s")


@contextmanager
def prefect_server(home: Path | None = None, database_url: str | None = None, timeout: float = 180,
                   log: Path | None = None) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1:<free port>; yield its API URL; stop it (SIGTERM) after."""
    with tempfile.TemporaryDirectory(prefix="mvflow-prefect-") as tmp:
        port = free_port()
        env = {**os.environ, **NO_TELEMETRY, "PREFECT_HOME": str(home or tmp),
               "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port),
               "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false"}
        env.pop("PREFECT_API_URL", None)
        if database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        out = open(log or Path(tmp) / "server.log", "w")  # noqa: SIM115 - closed below
        process = subprocess.Popen([prefect_cli(), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        api_url = f"http://127.0.0.1:{port}/api"
        try:
            wait_healthy(api_url, process, timeout)
            yield api_url
        finally:
            stop(process)
            out.close()


def stop(process: subprocess.Popen, grace: float = 20) -> None:
    """SIGTERM the process group (the server's workers too), SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
