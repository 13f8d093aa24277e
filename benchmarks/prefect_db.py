"""SQLite or PostgreSQL as the Prefect database: how much do parallel writes cost on each?

    python benchmarks/prefect_db.py --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/prefect
    python benchmarks/prefect_db.py                      # SQLite only

For each database a fresh `prefect server start` (see local_prefect.py) is started, then:
  1. flow runs: N flow runs created at once through the API (what N scheduled batches or
     N `mvflow make` processes starting together do);
  2. task runs: one flow that submits M no-op tasks to a thread pool at once (what a batch's
     song threads do, with far less work in between);
  3. batch: `mvflow batch` of 5 short offline songs (the real thing, compute included);
  4. parallel batches: K `mvflow batch` processes of 3 songs started together (a channel
     with several schedules firing at 09:00), sharing the songs-local limit.
1 and 2 are repeated and the best and median are printed. SQLite serialises writes, so
its numbers grow with the parallelism; the machine is shared, so compare within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from local_prefect import client_env, prefect_server  # noqa: E402

TASKS_FLOW = '''
import sys
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

@task
def noop(i: int) -> int:
    return i

@flow(task_runner=ThreadPoolTaskRunner(max_workers=16))
def many(n: int) -> None:
    noop.map(range(n)).wait()

many(int(sys.argv[1]))
'''

BATCH = {"name": "db-bench", "defaults": {"duration": 5, "resolution": "128x72", "fps": 8, "transcriber": "local"},
         "songs": [{"title": f"Db {i}", "caption": caption, "lyrics": f"[Verse]\nSong number {i} is here\n"}
                   for i, caption in enumerate(["calm piano", "synth pop", "lofi beat", "rock anthem", "jazz trio"])]}


async def create_flow_runs(api_url: str, count: int) -> float:
    """Seconds to create `count` flow runs concurrently."""
    from prefect.client.orchestration import PrefectClient
    from prefect.flows import Flow

    bench = Flow(fn=lambda: None, name="db-bench")
    async with PrefectClient(api_url) as client:
        await client.create_flow(bench)
        started = time.perf_counter()
        await asyncio.gather(*(client.create_flow_run(bench, name=f"run-{i}") for i in range(count)))
        return time.perf_counter() - started


def run_tasks_flow(api_url: str, count: int, folder: Path) -> float:
    script = folder / "many_tasks.py"
    script.write_text(TASKS_FLOW)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(count)], env=client_env(api_url), check=True,
                   capture_output=True, timeout=900)
    return time.perf_counter() - started


def batch_command(folder: Path, name: str, songs: list[dict]) -> list[str]:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({**BATCH, "name": name, "songs": songs}))
    return [str(Path(sys.executable).parent / "mvflow"), "batch", str(path), "-o", str(folder / name)]


def run_batches(api_url: str, folder: Path, batches: int, songs: int) -> float:
    """Seconds until `batches` concurrent `mvflow batch` processes of `songs` songs have all finished."""
    commands = [batch_command(folder, f"batch-{k}", [{**song, "title": f"{song['title']} {k}"}
                                                     for song in BATCH["songs"][:songs]]) for k in range(batches)]
    started = time.perf_counter()
    processes = [subprocess.Popen(cmd, env=client_env(api_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                 for cmd in commands]
    if any(process.wait(timeout=1800) for process in processes):
        raise RuntimeError("a benchmark batch failed")
    return time.perf_counter() - started


def spread(values: list[float]) -> str:
    return f"best {min(values):6.2f} s, median {statistics.median(values):6.2f} s"


def measure(label: str, database_url: str | None, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="mvflow-db-") as tmp, prefect_server(database_url=database_url) as url:
        folder = Path(tmp)
        runs = [asyncio.run(create_flow_runs(url, args.flow_runs)) for _ in range(args.repeat)]
        tasks = [run_tasks_flow(url, args.tasks, folder) for _ in range(args.repeat)]
        batch = run_batches(url, folder, 1, 5) if not args.skip_batch else float("nan")
        parallel = run_batches(url, folder, args.parallel_batches, 3) if args.parallel_batches else float("nan")
    print(f"{label:<10} {args.flow_runs} flow runs at once: {spread(runs)} | "
          f"{args.tasks} parallel task runs: {spread(tasks)} | 5-song batch: {batch:6.1f} s | "
          f"{args.parallel_batches} batches of 3 at once: {parallel:6.1f} s", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", help="postgresql+asyncpg:// URL of an empty database")
    parser.add_argument("--flow-runs", type=int, default=16)
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-batch", action="store_true")
    parser.add_argument("--parallel-batches", type=int, default=3, help="0 to skip")
    args = parser.parse_args()
    measure("sqlite", None, args)
    if args.postgres:
        measure("postgresql", args.postgres, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
