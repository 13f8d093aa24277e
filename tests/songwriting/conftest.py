"""Songwriting tests run with no songwriter configured by the machine: no OpenAI key or base URL, no songwriter key."""

from __future__ import annotations

import pytest

SONGWRITER_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MVFLOW_SONGWRITER_API_KEY", "ACESTEP_API_KEY")


def pytest_configure(config):
    config.addinivalue_line("markers", "server_config(**kwargs): how the test's built-in ACE-Step server starts")


@pytest.fixture(autouse=True)
def no_songwriter_env(monkeypatch):
    for name in SONGWRITER_ENV:
        monkeypatch.delenv(name, raising=False)
