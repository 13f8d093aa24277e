"""The `mvflow` command (`mvflow.cli`): a root app and one module per command group.

Thin: each command parses its options, builds the request, calls a flow or a step and prints
where the result is. Modules: `common` (console, --debug, one-line errors, progress bar),
`make`, `write` (a song plan from an idea, no video), `batch` (batch + serve), `render`,
`transcribe`, `thumbnail`, `engine` (the development server), `postgres` (PostgreSQL from PyPI for
the Prefect server), `doctor`, and the shared flags: `video_options` (make/batch/render) and
`song_options` (make/write). Every command module imports `common` only, and offers
`register(app)`; this module mounts them all.
"""

from __future__ import annotations

import typer

from mvflow.cli import batch, doctor, engine, make, postgres, render, thumbnail, transcribe, write
from mvflow.cli.common import DEBUG

app = typer.Typer(
    help="mvflow: one request in, one music video out ((idea -> song plan ->) song -> synced lyrics + cover -> "
    "MP4), orchestrated by Prefect. Run `mvflow make --demo` to try it offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

#: Command modules in the order `mvflow --help` lists them.
COMMANDS = (make, write, batch, render, transcribe, thumbnail, engine, postgres, doctor)
for _module in COMMANDS:
    _module.register(app)


class _NoTracebackForUserErrors:
    """Logging filter: Prefect logs a failed task with its traceback; for a known fault (a bad key or
    input, a server down, slow or rate limiting: mvflow.faults.is_known_fault) the one-line message is
    the whole story, so the terminal shows it without the trace. Bugs keep theirs."""

    def filter(self, record) -> bool:  # noqa: ANN001 - logging.LogRecord
        from mvflow.errors import is_known_fault

        if record.exc_info and record.exc_info[1] is not None and is_known_fault(record.exc_info[1]) \
                and not DEBUG["on"]:
            record.exc_info, record.exc_text = None, None
        return True


def _quiet_user_error_tracebacks() -> None:
    import logging

    for name in ("prefect.task_runs", "prefect.flow_runs"):
        logging.getLogger(name).addFilter(_NoTracebackForUserErrors())


def main() -> None:
    _quiet_user_error_tracebacks()
    app()


if __name__ == "__main__":
    main()
