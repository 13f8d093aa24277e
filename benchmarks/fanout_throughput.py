"""Fan-out batches: songs per minute with 1 and 2 Prefect workers, next to the in-process batch.

    python benchmarks/fanout_throughput.py                    # 6 songs of 6 s, 256x144 @ 12 fps
    python benchmarks/fanout_throughput.py --songs 8 --workers 1 2 3

One local stack for the whole run: PostgreSQL from PyPI (`mvflow.postgres`), `prefect server start`
on it, the `make` deployment from prefect.yaml on a process work pool. Then the same batch (offline
engine, lyrics timed by local whisper, nothing cached: a fresh output folder each time) is made:

- in-process: `mvflow batch songs.yaml` (every song a thread of one flow run);
- fan-out with N workers: `mvflow batch songs.yaml --deployment mvflow/make`, with N
  `prefect worker start --limit 1` processes (each takes one flow run at a time), for each N asked.

Workers start (and are seen by the server) before the clock starts, and stop after. Prints the wall
time and songs per minute of each. All on one machine: workers share its cores, so the second worker
helps while the first one waits (process start-up, polling, the song-server limit) and the batch's
speed-up is bounded by the cores. The load average is printed: the machine may be shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from batch_throughput import song_arguments, songs  # noqa: E402
from local_prefect import client_env, deploy_make, kill_tree, prefect_server, start_worker  # noqa: E402

from mvflow import postgres  # noqa: E402

MVFLOW = str(Path(sys.executable).parent / "mvflow")


def run_batch(batch: Path, out: Path, env: dict[str, str], deployment: str | None) -> float:
    args = [MVFLOW, "batch", str(batch), "-o", str(out), *(["--deployment", deployment] if deployment else [])]
    started = time.perf_counter()
    result = subprocess.run(args, env=env, cwd=batch.parent, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:])} failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def with_workers(count: int, env: dict[str, str], folder: Path, batch: Path) -> float:
    """Seconds to make the batch in fan-out mode with `count` workers (started and stopped around it)."""
    workers = [start_worker(env, f"bench-{count}-{i}", folder / f"worker-{count}-{i}",
                            folder / f"worker-{count}-{i}.log") for i in range(count)]
    try:
        time.sleep(5)  # every worker has registered and polls before the clock starts
        return run_batch(batch, folder / f"out-{count}-workers", env, "mvflow/make")
    finally:
        for worker in workers:
            kill_tree(worker)


def main() -> int:
    parser = song_arguments(__doc__, 6, 6.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    settings = {"duration": args.seconds, "resolution": args.resolution, "fps": args.fps, "transcriber": "local"}
    print(f"{args.songs} songs of {args.seconds:g} s at {args.resolution}@{args.fps}, offline engine, local whisper; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mvflow-fanout-") as tmp:
        folder = Path(tmp)
        database = postgres.start(folder / "pg")
        try:
            with prefect_server(database_url=database) as api_url:
                env = client_env(api_url)
                deploy_make(env, ROOT)
                batch = folder / "songs.yaml"
                batch.write_text(yaml.safe_dump({"name": "fanout", "defaults": settings,
                                                 "songs": songs(args.songs, folder)}))
                times = {"in-process": run_batch(batch, folder / "out-in-process", env, None)}
                for count in args.workers:
                    times[f"{count} worker{'s' * (count > 1)}"] = with_workers(count, env, folder, batch)
        finally:
            postgres.stop(folder / "pg")
    for label, seconds in times.items():
        print(f"{label:<12} {seconds:7.1f} s   {60 * args.songs / seconds:5.2f} songs/minute", flush=True)
    print(f"(load now {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
