"""The in-process ACE-Step-compatible server that several test files share (with fault switches)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx

from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import start_in_thread


@contextlib.contextmanager
def running_server(audio_dir: Path, key: str) -> Iterator[SimpleNamespace]:
    """A server on 127.0.0.1 with /_faults enabled, stopped when the block ends."""
    url, stop = start_in_thread(api_key=key, audio_dir=audio_dir, admin=True)
    try:
        yield SimpleNamespace(url=url, audio_dir=audio_dir)
    finally:
        stop()


def clear_faults(server: SimpleNamespace, key: str) -> None:
    """Switch every fault off again (tests share one server per module)."""
    headers = {"Authorization": f"Bearer {key}"}
    httpx.post(f"{server.url}/_faults", json=FaultPlan().model_dump(), headers=headers).raise_for_status()
