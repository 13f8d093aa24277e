"""`mvflow doctor`: which engines and providers are usable here, and why not."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mvflow.cli.common import console


def doctor(
    api_url: Annotated[Optional[str], typer.Option(help="ACE-Step server to check (default: the configured one).")] = None,
) -> None:
    """Check which engines and providers are usable here, and why not. Keys are shown only as set/unset."""
    from mvflow.doctor import run_checks

    ok = True
    for check in run_checks(api_url):
        mark = "[green]ok[/]" if check.ok else "[red]--[/]"
        ok = ok and (check.ok or not check.required)
        console.print(f"{mark} {check.name:<28} {check.detail}")
    raise typer.Exit(code=0 if ok else 1)


def register(app: typer.Typer) -> None:
    """Add `doctor` to the mvflow command."""
    app.command()(doctor)
