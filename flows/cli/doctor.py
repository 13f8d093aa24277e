"""`mvflow doctor`: which engines and providers are usable here, and why not (mvflow.doctor runs the checks)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.markup import escape

from mvflow.cli.common import console


def doctor(
    api_url: Annotated[Optional[str], typer.Option(help="ACE-Step server to check (default: the configured one).")] = None,
) -> None:
    """Check which engines and providers are usable here, and why not. Keys are shown only as set/unset.

    Exits 1 when a required check fails (ffmpeg, the configured codec, the settings, Prefect, and the
    ACE-Step server, its models and its key when ACE-Step is the configured engine or --api-url is given).
    """
    from mvflow.doctor import run_checks

    ok = True
    for check in run_checks(api_url):
        mark = "[green]ok[/]" if check.ok else "[red]--[/]"
        ok = ok and (check.ok or not check.required)
        console.print(f"{mark} {escape(check.name):<28} {escape(check.detail)}")
    raise typer.Exit(code=0 if ok else 1)


def register(app: typer.Typer) -> None:
    """Add `doctor` to the mvflow command."""
    app.command()(doctor)
