"""Rate limits for the cloud APIs: every call to Gemini, OpenAI or ElevenLabs takes a slot first.

Each provider has a Prefect global concurrency limit, `api-<provider>`, with `<provider>_burst`
slots that free themselves at `<provider>_calls_per_second` (the limit's slot_decay_per_second):
Prefect's rate-limit mode. The limit lives in the Prefect server, so 50 songs on 10 workers share
one budget per provider and do not trip its rate limit; a call waits for a slot instead. Settings
(mvflow.settings) choose both numbers per provider; a rate of 0 turns the limit off. Every process
sets the limit from its settings before its first call (the last one to start wins).

Outside a Prefect run (`mvflow transcribe` and `mvflow thumbnail` call providers directly) nothing
is limited: there is one caller, and no Prefect server to ask.
"""

from __future__ import annotations

import threading

#: Providers whose calls are rate limited (their settings are `<provider>_calls_per_second`, `<provider>_burst`).
RATE_LIMITED = ("gemini", "openai", "elevenlabs")

_set_here: dict[str, tuple[int, float]] = {}
_lock = threading.Lock()


def limit_name(provider: str) -> str:
    return f"api-{provider}"


def _in_prefect_run() -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return TaskRunContext.get() is not None or FlowRunContext.get() is not None


def api_call_slot(provider: str) -> None:
    """Wait for a slot of the provider's rate limit (in a Prefect run, when its rate is not 0)."""
    if provider not in RATE_LIMITED or not _in_prefect_run():
        return
    from mvflow.settings import load_settings

    settings = load_settings()
    rate = getattr(settings, f"{provider}_calls_per_second")
    if not rate:
        return
    from prefect.concurrency.sync import rate_limit

    name = limit_name(provider)
    _ensure_limit(name, getattr(settings, f"{provider}_burst"), rate)
    rate_limit(name, occupy=1, strict=True)


def _ensure_limit(name: str, burst: int, rate: float) -> None:
    """Create or update the limit to (burst, rate), once per process and values (strict waits need it)."""
    with _lock:
        if _set_here.get(name) == (burst, rate):
            return
        from prefect.client.orchestration import get_client

        with get_client(sync_client=True) as client:
            client.upsert_global_concurrency_limit_by_name(name, burst, slot_decay_per_second=rate)
        _set_here[name] = (burst, rate)
