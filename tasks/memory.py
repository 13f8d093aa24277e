"""How much memory this process may still take, and how many CPUs it may run on.

A render's memory grows with its frame size (mvflow.render.limits estimates it); before a
render starts, the estimate is held against what is available here: the kernel's
MemAvailable (free memory plus what it can reclaim without swapping), or less when the
process runs in a container whose cgroup has a memory limit (the limit minus what the
cgroup already uses, counting its inactive file cache as reclaimable, as the kernel does
before it calls the OOM killer). Read when asked, never cached: memory comes and goes.
"""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_CGROUP = Path("/sys/fs/cgroup")


def available_bytes() -> int | None:
    """Bytes this process can still allocate without swapping, or None where the system does not say."""
    candidates = [n for n in (_meminfo_available(), _cgroup_headroom()) if n is not None]
    return min(candidates) if candidates else None


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which a container's cpuset narrows)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def _meminfo_available() -> int | None:
    try:
        text = (_PROC / "meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_headroom() -> int | None:
    """The tightest (limit - usage + inactive file cache) of this process's memory cgroup and its
    ancestors (a limit on a parent binds too); None when no cgroup sets a limit."""
    headrooms = [h for folder in _cgroup_folders() if (h := _headroom(folder)) is not None]
    return min(headrooms) if headrooms else None


def _cgroup_folders() -> list[Path]:
    """The memory cgroup folders of this process, innermost first (cgroup v2, or v1's memory controller).

    Inside a container the path in /proc/self/cgroup may not exist under the mount (the
    container sees its own cgroup as the root), so the mount's root is always included.
    """
    try:
        entries = (_PROC / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return []
    folders: list[Path] = []
    for entry in entries:
        _, controllers, path = entry.split(":", 2)
        if controllers == "":
            root = _CGROUP
        elif "memory" in controllers.split(","):
            root = _CGROUP / "memory"
        else:
            continue
        folder = root / path.lstrip("/")
        while folder != root and folder.is_relative_to(root):
            folders.append(folder)
            folder = folder.parent
        folders.append(root)
    return [folder for folder in folders if folder.is_dir()]


def _headroom(folder: Path) -> int | None:
    """A cgroup's remaining memory, v2 (memory.max) or v1 (memory.limit_in_bytes); None without a limit."""
    for limit_file, usage_file, inactive_key in (("memory.max", "memory.current", "inactive_file"),
                                                 ("memory.limit_in_bytes", "memory.usage_in_bytes",
                                                  "total_inactive_file")):
        limit, usage = _read_number(folder / limit_file), _read_number(folder / usage_file)
        if limit is None or usage is None:
            continue
        if limit >= 1 << 60:  # v1 writes "no limit" as a huge number (v2 as "max", read as None)
            return None
        return max(0, limit - usage + _stat(folder / "memory.stat", inactive_key))
    return None


def _read_number(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat(path: Path, key: str) -> int:
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return int(value)
    return 0
