"""How much memory is available: MemAvailable, and cgroup v1/v2 limits read from a fake /proc and /sys tree."""

from __future__ import annotations

from pathlib import Path

import pytest

from mvflow import memory

GB = 2**30


@pytest.fixture
def fake_system(tmp_path, monkeypatch):
    """An empty /proc and /sys/fs/cgroup under tmp_path, used by mvflow.memory instead of the real ones."""
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    cgroup.mkdir()
    monkeypatch.setattr(memory, "_PROC", proc)
    monkeypatch.setattr(memory, "_CGROUP", cgroup)
    return proc, cgroup


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_meminfo_alone(fake_system):
    proc, _ = fake_system
    write(proc / "meminfo", "MemTotal:  24000000 kB\nMemFree:  1000000 kB\nMemAvailable:  8388608 kB\n")
    assert memory.available_bytes() == 8 * GB


def test_a_cgroup_v2_limit_binds_counting_inactive_file_cache_as_free(fake_system):
    proc, cgroup = fake_system
    write(proc / "meminfo", "MemAvailable:  20971520 kB\n")  # 20 GB on the host
    write(proc / "self" / "cgroup", "0::/worker.slice/job\n")
    job = cgroup / "worker.slice" / "job"
    write(job / "memory.max", f"{4 * GB}\n")
    write(job / "memory.current", f"{3 * GB}\n")
    write(job / "memory.stat", f"anon {2 * GB}\nfile {GB}\ninactive_file {GB // 2}\n")
    write(cgroup / "worker.slice" / "memory.max", "max\n")
    assert memory.available_bytes() == GB + GB // 2


def test_a_parents_tighter_limit_binds_too(fake_system):
    proc, cgroup = fake_system
    write(proc / "self" / "cgroup", "0::/a/b\n")
    write(cgroup / "a" / "b" / "memory.max", "max\n")
    write(cgroup / "a" / "b" / "memory.current", f"{GB}\n")
    write(cgroup / "a" / "memory.max", f"{2 * GB}\n")
    write(cgroup / "a" / "memory.current", f"{GB + GB // 4}\n")
    assert memory.available_bytes() == 3 * GB // 4  # no meminfo here: the cgroup alone answers


def test_cgroup_v1_and_its_no_limit_value(fake_system):
    proc, cgroup = fake_system
    write(proc / "meminfo", "MemAvailable:  20971520 kB\n")
    write(proc / "self" / "cgroup", "4:memory:/docker/abc\n1:cpu:/docker/abc\n")
    box = cgroup / "memory" / "docker" / "abc"
    write(box / "memory.limit_in_bytes", f"{2 * GB}\n")
    write(box / "memory.usage_in_bytes", f"{GB}\n")
    write(box / "memory.stat", f"cache 100\ntotal_inactive_file {GB // 4}\n")
    assert memory.available_bytes() == GB + GB // 4
    write(box / "memory.limit_in_bytes", "9223372036854771712\n")  # v1's "no limit"
    assert memory.available_bytes() == 20 * GB


def test_a_container_whose_cgroup_path_is_not_under_the_mount_reads_the_mount_root(fake_system):
    proc, cgroup = fake_system
    write(proc / "self" / "cgroup", "0::/kubepods/pod1/ctr\n")  # the container sees its cgroup as the root
    write(cgroup / "memory.max", f"{GB}\n")
    write(cgroup / "memory.current", f"{GB // 2}\n")
    assert memory.available_bytes() == GB // 2


def test_nothing_known_is_none(fake_system):
    assert memory.available_bytes() is None


@pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs Linux /proc")
def test_this_machine_reports_something_plausible():
    available = memory.available_bytes()
    total = int(next(line for line in Path("/proc/meminfo").read_text().splitlines()
                     if line.startswith("MemTotal:")).split()[1]) * 1024
    assert available is not None and 0 < available <= total
    assert memory.usable_cpus() >= 1
