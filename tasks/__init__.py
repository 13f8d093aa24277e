"""mvflow's steps. Importing this package turns off Prefect's telemetry before Prefect loads:
mvflow sends no traffic anywhere but the services the user configured."""

import os as _os

_os.environ.setdefault("DO_NOT_TRACK", "1")
_os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
