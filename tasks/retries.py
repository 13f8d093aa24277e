"""The caching and retry rules every step follows (the Prefect side of mvflow.errors).

- Cache: `STEP_CACHE_POLICY` (same inputs and same task code -> the cached result). Prefect
  never looks at files, so the flow verifies a cache hit's files (mvflow.flows.steps).
- Retry: only transient faults (`mvflow.errors.is_transient`), with exponential backoff and
  jitter; a server's own Retry-After is waited first, capped. How many retries and the first
  pause are settings (`retries`, `retry_delay`: MVFLOW_RETRIES, MVFLOW_RETRY_DELAY or the config
  file), read when a step is submitted (`step_retry_options`), never at import.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.tasks import exponential_backoff

from mvflow.errors import is_transient

#: The cache policy of every step: same inputs and same task code -> cached result.
STEP_CACHE_POLICY = INPUTS + TASK_SOURCE

#: The retry options a step is declared with; the flow replaces them with the settings' values
#: (step_retry_options) when it submits the step.
DEFAULT_RETRIES = 3
DEFAULT_RETRY_DELAY_S = 2.0
#: The longest pause a server may ask for (HTTP Retry-After, Gemini's RetryInfo) before a step's retry.
MAX_RETRY_AFTER_S = 120.0


def retry_options(retries: int = DEFAULT_RETRIES, delay: float = DEFAULT_RETRY_DELAY_S) -> dict[str, Any]:
    """Prefect task options: `retries` retries of transient faults, the first after `delay` s, doubling."""
    return {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=delay),
        "retry_jitter_factor": 0.5,
        "retry_condition_fn": retry_only_transient,
    }


def step_retry_options() -> dict[str, Any]:
    """retry_options from the settings in force now (flags > environment > config file > defaults)."""
    from mvflow.settings import load_settings

    settings = load_settings()
    return retry_options(settings.retries, settings.retry_delay)


def retry_only_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook signature
    """Prefect retry_condition_fn: retry a failed run only when its exception is transient.

    Prefect calls it only while retries are left, just before scheduling the retry, so a
    server's own "retry after N s" is honoured here (see wait_retry_after).
    """
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we classify, not handle
        if not is_transient(exc):
            return False
        wait_retry_after(exc)
        return True
    return False


def wait_retry_after(exc: BaseException, sleep: Callable[[float], None] = time.sleep) -> float:
    """Pause as long as the failed call's server asked (`exc.retry_after`, seconds; capped at
    MAX_RETRY_AFTER_S); the step's own backoff then follows. Returns the seconds waited."""
    after = getattr(exc, "retry_after", None)
    if not isinstance(after, (int, float)) or after <= 0:
        return 0.0
    wait = min(float(after), MAX_RETRY_AFTER_S)
    _retry_logger().warning("the server asked to retry after %g s; waiting %g s before the retry", after, wait)
    sleep(wait)
    return wait


def _retry_logger() -> logging.Logger | logging.LoggerAdapter:
    """The task run's logger (shown on the terminal and in the dashboard) inside a run, else a plain one."""
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a run (MissingContextError)
        return logging.getLogger("mvflow.retry")
