"""mvflow's Prefect flows and CLI (composition only; the steps live in tasks/)."""

import tasks as _tasks  # noqa: F401 - turns Prefect telemetry off before Prefect is imported
