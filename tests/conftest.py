"""Shared fixtures: one Prefect test harness per session (it builds a fresh database, ~15 s)."""

from __future__ import annotations

import os

import pytest

# Keep tests off any real Prefect server and out of the user's Prefect home.
os.environ.pop("PREFECT_API_URL", None)


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """Run in an empty directory with no mvflow config file or MVFLOW_* variables."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in list(os.environ):
        if name.startswith("MVFLOW_"):
            monkeypatch.delenv(name)
    return tmp_path
