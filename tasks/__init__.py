"""mvflow: one request in, one music video out, orchestrated by Prefect.

The package (this folder is `mvflow`; see pyproject.toml's package-dir and docs/architecture.md):

- the steps, one package each, its `__init__` holding the Prefect task(s):
  `song` (generate: `builtin` offline engine, `acestep` client; `devserver` is a development
  tool), `lyrics` (time the lyrics), `cover` (cover art), `render` (the video);
- what the steps share: `models` (types passed between steps), `errors` (every error and the
  line a user reads), `retries` (cache and retry rules), `files` (input-named folders, atomic
  writes), `settings` (flags > environment > config file > defaults; keys), `registry` (how a
  provider is chosen), `inputs` (user input checks), `audio`, `progress`, `slots`, `manifest`,
  `textbreak`, `doctor`;
- `mvflow.flows` (the flows; folder flows/), `mvflow.cli` (the `mvflow` command; flows/cli/),
  `mvflow.templates` (styles, prompts, examples; templates/).

Importing it sets Prefect defaults before Prefect loads: telemetry off (mvflow sends no traffic
anywhere but the services the user configured), and a longer start-up allowance for the
temporary local Prefect server, whose 20 s default is too short on a busy 2-core machine (a
user's own setting still wins).
"""

import os as _os

_os.environ.setdefault("DO_NOT_TRACK", "1")
_os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
_os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
