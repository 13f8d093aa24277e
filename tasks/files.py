"""Files the steps write: folders named by their inputs, atomic writes, and what a killed writer left.

Prefect never looks at files, so the rules live here: outputs go in folders named by a
hash of the step's inputs (different inputs never share a path), and files are written to a
temporary name and renamed (a crash never leaves a half file that looks finished). The
caching and retry rules of the steps are in mvflow.retries; errors in mvflow.errors.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import socket
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mvflow.errors import DiskFullError, disk_full_error, is_disk_full
from mvflow.models import FileArtifact


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
