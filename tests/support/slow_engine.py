"""A song engine for tests: the built-in one, made slow, recording when each generation ran.

`register()` adds it to the song engine registry (mvflow.song.engines.ENGINES) as "slow"; with
MVFLOW_TEST_INTERVALS set, every generation appends "start end" (epoch seconds) to that file, so
a test can check that no two songs generated at the same time — across processes too.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from mvflow.models import Song, SongRequest
from mvflow.song.builtin import LocalEngine

#: How long each generation sleeps first (MVFLOW_TEST_SLOW_SECONDS overrides).
SECONDS = 1.5


class SlowEngine(LocalEngine):
    """The built-in engine under another name (so its concurrency limit is `songs-slow`), sleeping first."""

    name = "slow"
    description = "the built-in engine, slowed down (tests only)"

    def generate(self, request: SongRequest, out_dir: Path) -> Song:
        start = time.time()
        time.sleep(float(os.environ.get("MVFLOW_TEST_SLOW_SECONDS", SECONDS)))
        song = super().generate(request.model_copy(update={"engine": "local"}), out_dir)
        record = os.environ.get("MVFLOW_TEST_INTERVALS")
        if record:
            with open(record, "a", encoding="utf-8") as fh:
                fh.write(f"{start} {time.time()}\n")
        return song.model_copy(update={"engine": "slow"})


ENGINE = SlowEngine()


def register() -> None:
    from mvflow.song.engines import ENGINES

    ENGINES.add("slow", "tests.support.slow_engine:ENGINE")


def intervals(path: Path) -> list[tuple[float, float]]:
    return sorted(tuple(map(float, line.split())) for line in path.read_text().splitlines() if line.strip())


def overlaps(spans: list[tuple[float, float]]) -> int:
    """How many consecutive (sorted) generations started before the previous one ended."""
    return sum(1 for (_, end), (start, _) in zip(spans, spans[1:]) if start < end)
