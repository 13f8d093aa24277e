"""Output folders, atomic writes and the caching/retry rules every step follows.

Prefect never looks at files, so the rules live here: outputs go in folders named by a
hash of the step's inputs (different inputs never share a path), files are written to a
temporary name and renamed (a crash never leaves a half file that looks finished), and
only transient faults are retried.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.tasks import exponential_backoff
from pydantic import BaseModel

from tasks.models import FileArtifact

#: The cache policy of every step: same inputs and same task code -> cached result.
STEP_CACHE_POLICY = INPUTS + TASK_SOURCE


def _env_number(name: str, default: float, kind: type = float) -> Any:
    """A retry setting from the environment (read once, when the steps are defined); bad values are one line."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise SystemExit(f"error: {name}={raw!r} is not a number") from None
    if value < 0:
        raise SystemExit(f"error: {name} must be 0 or more, not {raw}")
    return value


#: Retry settings shared by every step (transient faults only, see is_transient): MVFLOW_RETRIES
#: retries (default 3), waiting MVFLOW_RETRY_DELAY seconds (default 2) before the first, doubling,
#: with jitter. Tests make them small; a flaky network may want them larger.
RETRY_DELAY_S: float = _env_number("MVFLOW_RETRY_DELAY", 2.0)
STEP_RETRY_OPTIONS: dict[str, Any] = {
    "retries": _env_number("MVFLOW_RETRIES", 3, int),
    "retry_delay_seconds": exponential_backoff(backoff_factor=RETRY_DELAY_S),
    "retry_jitter_factor": 0.5,
}


class PermanentError(RuntimeError):
    """A fault retrying cannot fix (bad input, wrong key). Its message is shown to the user as is."""


class DiskFullError(PermanentError):
    """A write failed because the disk (or the process's file size limit) is full.

    Permanent: retrying at once cannot help. The temporary file is removed, so nothing
    half-written is left looking finished, and files written before stay as they were.
    """


#: errno values meaning "no room": no space, quota exceeded, file size limit (RLIMIT_FSIZE).
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
#: What a child process (ffmpeg) prints for the same conditions.
_NO_ROOM_TEXT = ("No space left on device", "Disk quota exceeded", "File too large")


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc` says the disk is full: an OSError's errno, or a tool's message saying so."""
    if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
        return True
    return any(text in str(exc) for text in _NO_ROOM_TEXT)


def disk_full_error(path: Path, exc: BaseException) -> DiskFullError:
    """One line: which file could not be written, the free space left, and the fix."""
    try:
        free = f"{shutil.disk_usage(path.parent).free / 1024 / 1024:.0f} MB free"
    except OSError:
        free = "free space unknown"
    said = [text for text in _NO_ROOM_TEXT if text in str(exc)]  # what a tool (ffmpeg) printed
    reason = os.strerror(exc.errno) if isinstance(exc, OSError) and exc.errno else (said or ["no space left"])[0]
    return DiskFullError(f"disk full: could not write {path} ({reason}; {free} in {path.parent}); "
                         "free some space and run again")


def _network_error_types() -> tuple[type[BaseException], ...]:
    """httpx's network errors, plus httpx2's (google-genai 3.x sends through that fork when present)."""
    found: list[type[BaseException]] = [httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError]
    try:
        import httpx2
    except ImportError:
        return tuple(found)
    return (*found, httpx2.TransportError)


_NETWORK_ERRORS = _network_error_types()


def _status_code(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries: httpx (.response), openai (.status_code), google-genai (.code)."""
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code
    status = getattr(exc, "status_code", None)
    if status is None and type(exc).__module__.startswith("google.genai"):
        status = getattr(exc, "code", None)
    return status if isinstance(status, int) else None


def is_transient(exc: BaseException) -> bool:
    """True for faults worth retrying: timeouts, dropped connections, HTTP 408, 429 and 5xx."""
    if isinstance(exc, PermanentError):
        return False
    if isinstance(exc, _NETWORK_ERRORS):
        return True
    status = _status_code(exc)
    if status is not None:
        return status in (408, 429) or status >= 500
    return isinstance(exc, (TimeoutError, ConnectionError))


#: The longest pause a server may ask for (HTTP Retry-After, Gemini's RetryInfo) before a step's retry.
MAX_RETRY_AFTER_S = 120.0


def retry_only_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook signature
    """Prefect retry_condition_fn: retry a failed run only when its exception is transient.

    Prefect calls it only while retries are left, just before scheduling the retry, so a
    server's own "retry after N s" is honoured here (see wait_retry_after).
    """
    try:
        state.result()
    except Exception as exc:  # noqa: BLE001 - we classify, not handle
        if not is_transient(exc):
            return False
        wait_retry_after(exc)
        return True
    return False


def wait_retry_after(exc: BaseException, sleep: Callable[[float], None] = time.sleep) -> float:
    """Pause as long as the failed call's server asked (`exc.retry_after`, seconds; capped at
    MAX_RETRY_AFTER_S); the step's own backoff then follows. Returns the seconds waited."""
    after = getattr(exc, "retry_after", None)
    if not isinstance(after, (int, float)) or after <= 0:
        return 0.0
    wait = min(float(after), MAX_RETRY_AFTER_S)
    _retry_logger().warning("the server asked to retry after %g s; waiting %g s before the retry", after, wait)
    sleep(wait)
    return wait


def _retry_logger() -> logging.Logger | logging.LoggerAdapter:
    """The task run's logger (shown on the terminal and in the dashboard) inside a run, else a plain one."""
    try:
        from prefect.logging import get_run_logger

        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a run (MissingContextError)
        return logging.getLogger("mvflow.retry")


def slugify(text: str, fallback: str = "song", max_len: int = 60) -> str:
    """Folder-safe name: ascii, lower case, dashes ('Night Drive!' -> 'night-drive')."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", ascii_text).strip("-").lower()[:max_len].strip("-")
    return slug or fallback


def inputs_hash(*parts: Any, length: int = 12) -> str:
    """Stable short hash of a step's inputs (pydantic models, dicts, strings...)."""

    def encode(obj: Any) -> Any:
        if isinstance(obj, BaseModel):
            return obj.model_dump(mode="json")
        if isinstance(obj, Path):
            return str(obj)
        return obj

    blob = json.dumps([encode(p) for p in parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def step_dir(out_dir: Path | str, step: str, *inputs: Any) -> Path:
    """The folder for one step's outputs, named by the hash of its inputs: <out_dir>/<step>-<hash>."""
    folder = Path(out_dir) / f"{step}-{inputs_hash(*inputs)}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _process_umask() -> int:
    """The umask, read once at import (setting it back at once; import is single-threaded)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Finished files get the mode a plain open() would give them (mkstemp's temp files are 0600).
FILE_MODE = 0o666 & ~_process_umask()


#: This machine in temp-file names, so a clean-up never judges another machine's writer by a local pid.
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:16] or "host"


def _temp_pattern(final: Path) -> re.Pattern[str]:
    """Names atomic_path gives the temp files of `final`: .<stem>.<host>-<pid>-<random>.part<suffix>."""
    return re.compile(rf"\.{re.escape(final.stem)}\.{_HOST}-(\d+)-[^/]*\.part{re.escape(final.suffix)}")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temps(final: Path | str) -> list[Path]:
    """Delete temp files of earlier writes of `final` whose writer died mid-write (kill -9, power cut).

    A writer that is still running (another process making the same file) keeps its temp file.
    """
    final = Path(final)
    pattern = _temp_pattern(final)
    removed = []
    for path in final.parent.glob(f".{glob.escape(final.stem)}.*"):
        match = pattern.fullmatch(path.name)
        if match and not _process_alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def atomic_path(final: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `final`; rename it over `final` only if the block succeeds.

    The temp name carries this process's id, so the next write of `final` can tell the
    leftovers of a killed writer from a live one's file and remove them.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(final)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{final.stem}.{_HOST}-{os.getpid()}-", suffix=f".part{final.suffix}",
                                   dir=final.parent)
    except OSError as exc:
        raise (disk_full_error(final, exc) if is_disk_full(exc) else exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, final)
    except Exception as exc:
        if is_disk_full(exc) and not isinstance(exc, DiskFullError):
            raise disk_full_error(final, exc) from exc
        raise
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes_atomic(path: Path | str, data: bytes) -> FileArtifact:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return FileArtifact.from_path(path)


def write_text_atomic(path: Path | str, text: str) -> FileArtifact:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path | str, obj: Any) -> FileArtifact:
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    return write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def all_intact(files: list[FileArtifact]) -> bool:
    """True when every file still exists with the sha256 recorded when its step made it."""
    return all(f.is_intact() for f in files)
