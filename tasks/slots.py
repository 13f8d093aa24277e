"""Prefect concurrency slots that a killed process does not keep forever.

A slot of a global concurrency limit is held through a lease the holder keeps renewing.
When the holder is killed (SIGKILL, OOM, power cut) the lease is left to expire, and
only a full Prefect server's "repossessor" service gives the slot back. The temporary
server that `mvflow` starts when no PREFECT_API_URL is set runs no such service and keeps
its leases in memory, so it dies with the killed run: the slot then stays taken in the
database and every later song waits forever.

So every slot taken on this machine leaves a holder record, `<PREFECT_HOME>/mvflow-slots/
<limit id>.<lease id>.json`, locked (flock) for as long as the holder lives. The kernel drops
the lock when the process dies, however it dies. Before waiting for a slot, a process looks
for records whose lock is free — their holder is dead — and gives their slots back: through
the lease when the server still knows it, else (the lease died with a temporary server) by
taking one slot off the count. Holders on other machines are left to the server's lease expiry.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

log = logging.getLogger("mvflow.slots")


def records_root() -> Path:
    from prefect.settings import PREFECT_HOME

    return Path(PREFECT_HOME.value()) / "mvflow-slots"


def _uses_temporary_server() -> bool:
    """True when this process talks to a temporary Prefect server of its own (no PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL

    return not PREFECT_API_URL.value()


def _limit_id(name: str) -> UUID:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_global_concurrency_limit_by_name(name).id


@contextlib.contextmanager
def holder_record(limit_id: UUID, lease_id: UUID, name: str) -> Iterator[None]:
    """A locked record of a held lease; locked before it appears under its final name, removed on release."""
    folder = records_root()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".holder-", dir=folder)
    fcntl.flock(fd, fcntl.LOCK_EX)
    final = folder / f"{limit_id}.{lease_id}.json"
    try:
        os.write(fd, json.dumps({"limit": name, "lease_id": str(lease_id), "pid": os.getpid(),
                                 "host": socket.gethostname(), "temporary_server": _uses_temporary_server(),
                                 "since": time.time()}).encode())
        os.replace(tmp, final)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(final)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.close(fd)


def _dead_holders(limit_id: UUID) -> Iterator[dict]:
    """Records of the limit whose holder process is gone (its lock is free); each is removed once yielded."""
    for path in sorted(records_root().glob(f"{limit_id}.*.json")):
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue  # alive
        try:
            if not path.exists() or os.stat(path).st_ino != os.fstat(fd).st_ino:
                continue  # released (or replaced) meanwhile
            try:
                record = json.loads(os.read(fd, 4096) or b"{}")
            except ValueError:
                record = {}
            yield record
            path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def reclaim_dead_holders(name: str) -> int:
    """Give back the slots of `name` held by processes of this machine that died; how many."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    if not records_root().is_dir():
        return 0
    freed = 0
    with get_client(sync_client=True) as client:
        for record in _dead_holders(_limit_id(name)):
            lease_id = record.get("lease_id")
            try:
                client.renew_concurrency_lease(UUID(lease_id), 60)  # 404 when the server no longer knows it
                client.release_concurrency_slots_with_lease(UUID(lease_id))
            except (PrefectHTTPStatusError, ValueError, TypeError):
                if not record.get("temporary_server", True):
                    continue  # a full server's repossessor frees expired leases itself
                held = max(time.time() - float(record.get("since") or 0), 1.0)  # the API wants occupancy > 0
                client.release_concurrency_slots([name], 1, held)  # the lease died with its temporary server
            freed += 1
            _logger().warning("freed the %r slot of a run that died (pid %s on %s)", name, record.get("pid"),
                              record.get("host"))
    return freed


def _logger() -> logging.Logger | logging.LoggerAdapter:
    """The Prefect run logger inside a run (so the dashboard shows it), else this module's."""
    from prefect.exceptions import MissingContextError
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except MissingContextError:
        return log


@contextlib.contextmanager
def crash_safe_slot(name: str, lease_duration: float) -> Iterator[None]:
    """Hold one slot of the (existing) limit `name`, recorded so a crash never keeps it."""
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease

    _reclaim_quietly(name)
    taken = acquire_concurrency_slots_with_lease([name], 1, lease_duration=lease_duration, strict=True)
    with held(name, taken, lease_duration):
        yield


def try_slot(name: str, lease_duration: float):  # noqa: ANN201 - Prefect's lease response, or None
    """One slot of the (existing) limit `name` if one is free right now, else None (never waits).

    One request, granted or refused (423) as a whole: no timeout can fire while a slot is being granted.
    Hold what it returns with `held`.
    """
    import httpx
    from prefect.concurrency._sync import acquire_concurrency_slots_with_lease
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError

    _reclaim_quietly(name)
    try:
        return acquire_concurrency_slots_with_lease([name], 1, lease_duration=lease_duration, strict=True,
                                                    max_retries=0)
    except ConcurrencySlotAcquisitionError as exc:  # Prefect wraps the server's refusal (423 Locked)
        refusal = exc.__cause__
        if isinstance(refusal, httpx.HTTPStatusError) and refusal.response.status_code == 423:
            return None
        raise


@contextlib.contextmanager
def held(name: str, taken, lease_duration: float) -> Iterator[None]:  # noqa: ANN001 - Prefect's lease response
    """Keep a taken slot's lease alive (recorded for crash recovery) for the block, then release it."""
    from prefect.concurrency._leases import maintain_concurrency_lease
    from prefect.concurrency._sync import release_concurrency_slots_with_lease

    try:
        with holder_record(taken.limits[0].id, taken.lease_id, name), \
                maintain_concurrency_lease(taken.lease_id, lease_duration, raise_on_lease_renewal_failure=True):
            yield
    finally:
        release_concurrency_slots_with_lease(taken.lease_id)


def _reclaim_quietly(name: str) -> None:
    try:
        reclaim_dead_holders(name)
    except Exception as exc:  # noqa: BLE001 - a failed clean-up must not fail the song; the wait reports it
        _logger().warning("could not check %r for slots of runs that died: %s", name, exc)
