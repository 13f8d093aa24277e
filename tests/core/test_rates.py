"""Cloud API rate limits (mvflow.rates): a Prefect limit per provider whose slots decay at the configured rate."""

from __future__ import annotations

import time

from prefect import flow

from mvflow import rates


def test_calls_in_a_run_wait_for_the_providers_rate(prefect_harness, no_config, monkeypatch):
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("MVFLOW_OPENAI_CALLS_PER_SECOND", "2")
    monkeypatch.setenv("MVFLOW_OPENAI_BURST", "1")

    @flow
    def three_calls() -> float:
        started = time.perf_counter()
        for _ in range(3):
            rates.api_call_slot("openai")
        return time.perf_counter() - started

    elapsed = three_calls()
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name("api-openai")
    assert (limit.limit, limit.slot_decay_per_second) == (1, 2.0)
    assert elapsed >= 0.8  # one call at once, two per second: the 2nd and 3rd waited ~0.5 s each


def test_outside_a_run_or_at_rate_zero_nothing_waits(prefect_harness, no_config, monkeypatch):
    monkeypatch.setenv("MVFLOW_GEMINI_CALLS_PER_SECOND", "0")
    monkeypatch.setattr(rates, "_set_here", {})  # limits earlier tests' runs set in this process do not count

    @flow
    def unlimited() -> None:
        for _ in range(5):
            rates.api_call_slot("gemini")

    started = time.perf_counter()
    rates.api_call_slot("openai")  # `mvflow transcribe` calls providers outside any run
    unlimited()
    assert "api-gemini" not in rates._set_here and time.perf_counter() - started < 20
