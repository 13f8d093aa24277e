"""What `/query_result` answers for a job, in the shapes real ACE-Step installs give (contract §5.3-5.4).

Upstream keeps two records of a job and answers from the first that has it:

* the disk cache (installed with diskcache, the pyproject default): written when the job starts
  running, at every progress step, and when it ends; entries expire after 7 days and survive a
  restart. So after a restart a finished job is still answered, and a job that was running keeps
  answering status 0 with its last stage until the one-hour rule (status 0 more than 3600 s after
  create_time) reports it as 2. Its failure entry has no error text at f30aee4
  (api_server.py:1162-1171), and the error at later releases (jobs/local_cache_updates.py);
* the in-memory job store (the only record without diskcache): a smaller success shape whose
  `prompt` is metas.caption and `lyrics` the request's original lyrics, without
  seed_value/lm_model/dit_model/generation_info (api_server.py:2385-2418), and failures carrying
  the whole traceback. It is lost on restart.

`ResultCache` is the disk cache (one JSON file per task); the functions build each shape.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mvflow.files import atomic_path

#: Disk cache entries last this long (upstream RESULT_EXPIRE_SECONDS).
RESULT_EXPIRE_S = 7 * 24 * 3600
#: A cached status 0 older than this (from create_time) is reported as 2 (upstream TASK_TIMEOUT_SECONDS).
STALE_AFTER_S = 3600
ENV = "development"


class ResultCache:
    """upstream's diskcache store of result entries, keyed by task id; survives restarts of the server."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _path(self, task_id: str) -> Path:
        return self.folder / f"{task_id}.json"

    def set(self, task_id: str, entries: list[dict]) -> None:
        record = {"expires": time.time() + RESULT_EXPIRE_S, "entries": entries}
        with atomic_path(self._path(task_id)) as tmp:
            tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")

    def get(self, task_id: str) -> list[dict] | None:
        """The entries stored for the task, or None (never stored, expired, or an id that is not a name)."""
        if not task_id or "/" in task_id or task_id.startswith("."):
            return None
        try:
            record = json.loads(self._path(task_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if record.get("expires", 0) < time.time():
            self._path(task_id).unlink(missing_ok=True)
            return None
        return record.get("entries") or []


def base_entry(status: int, create_time: int) -> dict[str, Any]:
    return {"file": "", "wave": "", "status": status, "create_time": create_time, "env": ENV}


def running_entry(create_time: int, progress: float, stage: str) -> dict[str, Any]:
    """The disk cache's entry while a job runs (and after a restart, until the hour is up)."""
    return {**base_entry(0, create_time), "progress": round(progress, 3), "stage": stage}


def store_entry(status: int, create_time: int, progress: float, stage: str, error: str | None) -> dict[str, Any]:
    """The in-memory store's entry for a job that has no success result: queued, running or failed."""
    return {**base_entry(status, create_time), "prompt": "", "lyrics": "", "metas": {},
            "progress": round(progress, 3), "stage": stage, "error": error}


def cached_failure(create_time: int, error: str | None, with_error: bool) -> dict[str, Any]:
    """The disk cache's entry for a failed job: no error text at f30aee4, the error at later releases."""
    entry = {**base_entry(2, create_time), "progress": 0.0, "stage": "failed"}
    return {**entry, "error": error} if with_error else entry


def cached_success(file: str, create_time: int, final: dict[str, Any], original: dict[str, str],
                   metas: dict[str, Any], extras: dict[str, str]) -> dict[str, Any]:
    """One audio of a succeeded job in the disk cache: final caption/lyrics on top, the user's in metas."""
    return {**base_entry(1, create_time), "file": file, "prompt": final["caption"], "lyrics": final["lyrics"],
            "metas": {**metas, "prompt": original["caption"], "lyrics": original["lyrics"]}, **extras,
            "progress": 1.0, "stage": "succeeded"}


def stored_success(file: str, create_time: int, lm_caption: str | None, original_lyrics: str,
                   metas: dict[str, Any]) -> dict[str, Any]:
    """One audio of a succeeded job from the in-memory store: `prompt` is metas.caption (the LM's
    caption when it wrote one, else empty) and `lyrics` the request's original lyrics."""
    return {**base_entry(1, create_time), "file": file, "prompt": lm_caption or "", "lyrics": original_lyrics,
            "metas": metas}


def query_item(task_id: str, entries: list[dict], last_log: str, now: float | None = None) -> dict[str, Any]:
    """A disk-cache answer: an empty list reads as failed, a status 0 older than an hour as failed."""
    if not entries:
        return {"task_id": task_id, "result": json.dumps(entries), "status": 2}
    status = entries[0].get("status")
    age = (now or time.time()) - float(entries[0].get("create_time") or 0)
    if status == 0 and age > STALE_AFTER_S:
        return {"task_id": task_id, "result": json.dumps(entries, ensure_ascii=False), "status": 2}
    return {"task_id": task_id, "result": json.dumps(entries, ensure_ascii=False),
            "status": int(status) if status is not None else 1, "progress_text": last_log}


def without_error(entries: list[dict]) -> list[dict]:
    """The entries with their error text removed (the fail_without_error fault)."""
    return [{k: v for k, v in entry.items() if k != "error"} for entry in entries]
