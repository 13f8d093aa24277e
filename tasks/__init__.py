"""mvflow's steps. Importing this package sets Prefect defaults before Prefect loads:
telemetry off (mvflow sends no traffic anywhere but the services the user configured), and a
longer start-up allowance for the temporary local Prefect server, whose 20 s default is too
short on a busy 2-core machine (a user's own setting still wins)."""

import os as _os

_os.environ.setdefault("DO_NOT_TRACK", "1")
_os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
_os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
