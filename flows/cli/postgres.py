"""`mvflow postgres start|stop FOLDER`: a PostgreSQL server from PyPI for the Prefect server.

For batches on several workers (docs/operations.md): `start` prints the line that points
`prefect server start` at it. Needs `pip install "mvflow[postgres]"`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mvflow.cli.common import console, one_line_errors

postgres_app = typer.Typer(help="A PostgreSQL server (from PyPI) for Prefect's database.", no_args_is_help=True,
                           add_completion=False, pretty_exceptions_enable=False)
FOLDER = typer.Argument(help="Data folder of the server (created on first start), e.g. ~/.mvflow/postgres.")


@postgres_app.callback()
def postgres() -> None:
    """A PostgreSQL server (from PyPI) for Prefect's database."""


@postgres_app.command()
def start(folder: Annotated[Path, FOLDER]) -> None:
    """Start the server (it keeps running) and print the setting for `prefect server start`."""
    from mvflow import postgres as pg

    with one_line_errors():
        url = pg.start(folder)
    console.print(f"PostgreSQL is running in {folder}; start the Prefect server on it with:")
    console.print(f"export PREFECT_API_DATABASE_CONNECTION_URL='{url}'", markup=False, highlight=False, soft_wrap=True)


@postgres_app.command()
def stop(folder: Annotated[Path, FOLDER]) -> None:
    """Stop the server of FOLDER."""
    from mvflow import postgres as pg

    with one_line_errors():
        stopped = pg.stop(folder)
    console.print(f"stopped the PostgreSQL server in {folder}" if stopped else f"no PostgreSQL server runs in {folder}")


def register(app: typer.Typer) -> None:
    """Add `postgres start|stop` to the mvflow command."""
    app.add_typer(postgres_app, name="postgres")
