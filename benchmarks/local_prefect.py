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


#: The work pool `prefect.yaml`'s deployments use.
POOL = "mvflow-process"


def deploy_make(env: dict[str, str], project_dir: Path) -> None:
    """Create the process work pool and deploy `mvflow/make` from prefect.yaml (as docs/operations.md says)."""
    env = {**env, "MVFLOW_PROJECT_DIR": str(project_dir)}
    for args in (["work-pool", "create", POOL, "--type", "process", "--overwrite"],
                 ["--no-prompt", "deploy", "--name", "make"]):
        result = subprocess.run([prefect_cli(), *args], cwd=project_dir, env=env, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise RuntimeError(f"prefect {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def start_worker(env: dict[str, str], name: str, cwd: Path, log: Path) -> subprocess.Popen:
    """`prefect worker start --pool mvflow-process --limit 1` in its own working directory and process group.

    It asks the server for work every second (the default is 15 s), so runs start without waiting.
    """
    cwd.mkdir(parents=True, exist_ok=True)
    out = open(log, "a")  # noqa: SIM115 - the worker writes to it for its whole life
    return subprocess.Popen([prefect_cli(), "worker", "start", "--pool", POOL, "--name", name, "--limit", "1"],
                            cwd=cwd, env={**env, "PREFECT_WORKER_QUERY_SECONDS": "1"}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)


def kill_tree(process: subprocess.Popen) -> None:
    """SIGKILL a worker and every process it started, as if its machine died."""
    import psutil

    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for proc in [psutil.Process(process.pid), *children] if process.poll() is None else children:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    process.wait()
