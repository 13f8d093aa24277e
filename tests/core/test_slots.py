"""Crash-safe concurrency slots: a holder record counts as dead only once its process is gone."""

from __future__ import annotations

import subprocess
import sys
import uuid

import mvflow.slots as slots

HOLD = """
import sys, time, uuid
from pathlib import Path
import mvflow.slots as slots
slots.records_root = lambda: Path(sys.argv[1])
with slots.holder_record(uuid.UUID(sys.argv[2]), uuid.uuid4(), "songs-test"):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_holder_record_is_reclaimable_only_after_its_process_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(slots, "records_root", lambda: tmp_path)
    limit = uuid.uuid4()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path), str(limit)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert len(list(tmp_path.glob(f"{limit}.*.json"))) == 1
        assert list(slots._dead_holders(limit)) == []  # alive: its lock is taken
        assert list(slots._dead_holders(uuid.uuid4())) == []  # another limit's records are not looked at
    finally:
        holder.kill()
        holder.wait()
    dead = list(slots._dead_holders(limit))
    assert [(r["pid"], r["limit"]) for r in dead] == [(holder.pid, "songs-test")]
    assert list(tmp_path.glob("*.json")) == []  # the record is gone once reclaimed


def test_a_released_slot_leaves_no_record(tmp_path, monkeypatch):
    monkeypatch.setattr(slots, "records_root", lambda: tmp_path)
    with slots.holder_record(uuid.uuid4(), uuid.uuid4(), "songs-test"):
        assert len(list(tmp_path.glob("*.json"))) == 1
    assert list(tmp_path.iterdir()) == []
