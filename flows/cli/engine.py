"""`mvflow engine ...`: the built-in ACE-Step-compatible server.

`mvflow engine serve --port 8001` answers the ACE-Step 1.5 REST API with the built-in
engine behind it: integrations (and mvflow's own `--engine acestep`) can be built and
tested without a GPU. By default it behaves like upstream at commit f30aee4 installed with
diskcache, defects included; `--upstream latest` serves the later releases' API, and the
switches below change one behaviour at a time (mvflow.song.devserver.behaviour). The fault
flags make it misbehave on purpose, for tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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
    skip_line_rate: Annotated[float, typer.Option(
        min=0, max=1, help="Every take leaves each lyric line out with this probability (seeded by the take).")] = 0.0,
    upstream: Annotated[str, typer.Option(
        help="The upstream ACE-Step API to imitate: f30aee4 (defects included) or latest.")] = "f30aee4",
    result_store: Annotated[str, typer.Option(
        help="diskcache (results outlive a restart; failures give no reason) or memory (an install without "
             "diskcache: smaller result shape, a restart forgets every job).")] = "diskcache",
    results_dir: Annotated[Path | None, typer.Option(
        help="Folder of the disk cache of results (default: beside the audio folder).")] = None,
    lm: Annotated[bool, typer.Option("--lm/--no-lm", help="Whether the LM is loaded (a rule-based stand-in): without "
                                     "it thinking, format, description, sample and analysis jobs fail and the LM "
                                     "routes (/format_input, /v1/create_sample) answer 503, as upstream's do.")] = True,
    uploads: Annotated[Optional[str], typer.Option(
        help="working or broken (500) multipart/urlencoded submits (default: as --upstream).")] = None,
    seeds: Annotated[Optional[str], typer.Option(
        help="honoured or ignored request seeds (default: as --upstream).")] = None,
) -> None:
    """Serve the ACE-Step 1.5 API with the built-in engine (no GPU needed), as upstream behaves."""
    from mvflow.song.devserver.jobs import FaultPlan
    from mvflow.song.devserver.server import ServerConfig, default_audio_dir
    from mvflow.song.devserver.server import serve as run_server

    plan = FaultPlan(fail_submit_500=fail_submit_500, fail_submit_429=fail_submit_429, fail_jobs=fail_jobs,
                     fail_without_error=fail_without_error, job_delay=job_delay, forget_submits=forget_submits,
                     drop_connections=drop_connections, skip_line_rate=skip_line_rate)
    behaviour = _behaviour(upstream, result_store, lm, uploads, seeds)
    folder = (audio_dir or default_audio_dir()).resolve()
    armed = {k: v for k, v in plan.model_dump().items() if v}
    console.print(f"[bold]ACE-Step-compatible server[/] (mvflow built-in engine) on http://{host}:{port}")
    console.print(f"  {behaviour.summary()}")
    console.print(f"  audio folder {folder}; auth {'on (key set)' if api_key else 'off'}; queue {queue_size}"
                  + (f"; faults {armed}" if armed else "") + ("; POST /_faults enabled" if faults else ""))
    if host not in LOOPBACK and not api_key:
        console.print("[yellow]warning:[/] listening beyond this machine without --api-key")
    run_server(host, port, ServerConfig(api_key=api_key, audio_dir=folder, queue_maxsize=queue_size, faults=plan,
                                        admin=faults, behaviour=behaviour, results_dir=results_dir))


def _behaviour(upstream: str, result_store: str, lm: bool, uploads: str | None, seeds: str | None):  # noqa: ANN202
    """The Behaviour the switches ask for; a value that is not a choice is one line naming the choices."""
    from mvflow.song.devserver.behaviour import Behaviour

    for name, value, choices in (("--upstream", upstream, ("f30aee4", "latest")),
                                 ("--result-store", result_store, ("diskcache", "memory")),
                                 ("--uploads", uploads, ("working", "broken", None)),
                                 ("--seeds", seeds, ("honoured", "ignored", None))):
        if value not in choices:
            raise typer.BadParameter(f"{value!r}; choose {' or '.join(c for c in choices if c)}", param_hint=name)
    return Behaviour(upstream=upstream, result_store=result_store, lm=lm, uploads=uploads, seeds=seeds)


def register(app: typer.Typer) -> None:
    """Add the `engine` group (`mvflow engine serve`) to the mvflow command."""
    app.add_typer(engine_app, name="engine", help="The built-in ACE-Step-compatible server (mvflow engine serve).")
