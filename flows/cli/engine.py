"""`mvflow engine ...`: the built-in ACE-Step-compatible server.

`mvflow engine serve --port 8001` answers the ACE-Step 1.5 REST API with the built-in
engine behind it: integrations (and mvflow's own `--engine acestep`) can be built and
tested without a GPU. The fault flags make it misbehave on purpose, for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mvflow.cli.common import console

engine_app = typer.Typer(help="The built-in ACE-Step-compatible server.", no_args_is_help=True,
                         add_completion=False, pretty_exceptions_enable=False)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@engine_app.callback()
def engine() -> None:
    """The built-in ACE-Step-compatible server (a group, so `serve` stays a subcommand)."""


@engine_app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8001,
    api_key: Annotated[str | None, typer.Option(
        "--api-key", envvar="ACESTEP_API_KEY", show_default=False,
        help="Require this key (Authorization: Bearer KEY). Default: $ACESTEP_API_KEY, else no auth.")] = None,
    audio_dir: Annotated[Path | None, typer.Option(
        help="Folder for generated audio, the only one /v1/audio serves (default: a temp folder).")] = None,
    queue_size: Annotated[int, typer.Option(min=1, help="Jobs that may wait; more answer 429.")] = 200,
    faults: Annotated[bool, typer.Option("--faults", help="Enable POST /_faults to change faults at runtime.")] = False,
    fail_submit_500: Annotated[int, typer.Option(min=0, help="Fault: the next N submits answer 500.")] = 0,
    fail_submit_429: Annotated[int, typer.Option(min=0, help="Fault: the next N submits answer 429.")] = 0,
    fail_jobs: Annotated[int, typer.Option(min=0, help="Fault: the next N jobs end with status 2.")] = 0,
    fail_without_error: Annotated[bool, typer.Option("--fail-without-error",
                                                     help="Fault: failed jobs give no error text.")] = False,
    job_delay: Annotated[float, typer.Option(min=0, help="Fault: every job waits SECONDS first.")] = 0.0,
    forget_submits: Annotated[int, typer.Option(min=0, help="Fault: forget the next N task ids.")] = 0,
    drop_connections: Annotated[int, typer.Option(min=0, help="Fault: drop the next N connections.")] = 0,
    lm: Annotated[bool, typer.Option("--lm/--no-lm", help="Answer the LM routes (/format_input, /v1/create_sample) "
                                     "with the rule-based stand-in; --no-lm: like a server started without its LM.")] = True,
) -> None:
    """Serve the ACE-Step 1.5 API with the built-in engine (no GPU needed)."""
    from mvflow.song.devserver.jobs import FaultPlan
    from mvflow.song.devserver.server import default_audio_dir
    from mvflow.song.devserver.server import serve as run_server

    plan = FaultPlan(fail_submit_500=fail_submit_500, fail_submit_429=fail_submit_429, fail_jobs=fail_jobs,
                     fail_without_error=fail_without_error, job_delay=job_delay, forget_submits=forget_submits,
                     drop_connections=drop_connections)
    folder = (audio_dir or default_audio_dir()).resolve()
    armed = {k: v for k, v in plan.model_dump().items() if v}
    console.print(f"[bold]ACE-Step-compatible server[/] (mvflow built-in engine) on http://{host}:{port}")
    console.print(f"  audio folder {folder}; auth {'on (key set)' if api_key else 'off'}; queue {queue_size}; "
                  f"LM {'stand-in on' if lm else 'off'}"
                  + (f"; faults {armed}" if armed else "") + ("; POST /_faults enabled" if faults else ""))
    if host not in LOOPBACK and not api_key:
        console.print("[yellow]warning:[/] listening beyond this machine without --api-key")
    run_server(host=host, port=port, api_key=api_key, audio_dir=folder, queue_maxsize=queue_size, faults=plan,
               admin=faults, lm=lm)


def register(app: typer.Typer) -> None:
    """Add the `engine` group (`mvflow engine serve`) to the mvflow command."""
    app.add_typer(engine_app, name="engine", help="The built-in ACE-Step-compatible server (mvflow engine serve).")
