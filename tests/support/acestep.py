"""The in-process ACE-Step-compatible server that several test files share (with fault switches).

`running_server` starts `mvflow engine serve`'s app on 127.0.0.1 in a thread: by default the
faithful upstream f30aee4 behaviour (diskcache install, LM loaded); `behaviour` picks another
(`Behaviour(upstream="latest")`, `Behaviour(result_store="memory")`, `Behaviour(lm=False)` ...).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx

from mvflow.song.devserver.behaviour import Behaviour
from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import start_in_thread


@contextlib.contextmanager
def running_server(audio_dir: Path, key: str, behaviour: Behaviour | None = None,
                   **options: object) -> Iterator[SimpleNamespace]:
    """A server on 127.0.0.1 with /_faults enabled, stopped when the block ends."""
    url, stop = start_in_thread(api_key=key, audio_dir=audio_dir, admin=True, behaviour=behaviour, **options)
    try:
        yield SimpleNamespace(url=url, audio_dir=audio_dir, key=key)
    finally:
        stop()


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def clear_faults(server: SimpleNamespace, key: str) -> None:
    """Switch every fault off again (tests share one server per module)."""
    httpx.post(f"{server.url}/_faults", json=FaultPlan().model_dump(), headers=headers(key)).raise_for_status()


def set_faults(server: SimpleNamespace, key: str, **changes: object) -> dict:
    response = httpx.post(f"{server.url}/_faults", json=changes, headers=headers(key))
    response.raise_for_status()
    return response.json()


def jobs(server: SimpleNamespace, key: str) -> dict:
    """The server's job counts (/v1/stats)."""
    return httpx.get(f"{server.url}/v1/stats", headers=headers(key)).json()["data"]["jobs"]


def leaked_uploads(server: SimpleNamespace, key: str) -> list[str]:
    """Temporary upload files the server keeps that no job owns."""
    return httpx.get(f"{server.url}/_uploads", headers=headers(key)).json()["leaked"]


def wait_idle(server: SimpleNamespace, key: str, limit: float = 30.0) -> None:
    """Let jobs a test left behind finish, so the next test's job is not queued behind them."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        counts = jobs(server, key)
        if counts["queued"] == 0 and counts["running"] == 0:
            return
        time.sleep(0.05)


def module_server(folder: str, key: str, behaviour: Behaviour | None = None, **options: object):
    """A module-scoped pytest fixture: one server (`running_server`) for all the module's tests."""
    import pytest

    @pytest.fixture(scope="module")
    def server(tmp_path_factory):
        with running_server(tmp_path_factory.mktemp(folder), key, behaviour, **options) as running:
            yield running

    return server


def keyed(server_fixture: str, key: str):
    """A per-test fixture: the named module server with ACESTEP_API_KEY set, its faults cleared and its
    jobs finished afterwards (so the next test's job is not queued behind them)."""
    import pytest

    @pytest.fixture
    def use(request, monkeypatch):
        server = request.getfixturevalue(server_fixture)
        monkeypatch.setenv("ACESTEP_API_KEY", key)
        yield server
        clear_faults(server, key)
        wait_idle(server, key)

    return use
