"""One host per task hub: a renewed 15 s blob lease on ``host.lock`` with owner metadata."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from pathlib import Path

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

log = logging.getLogger("harvest.devhost")
LEASE_SECONDS = 15
RENEW_EVERY = 5.0


class HostLockError(RuntimeError):
    pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    with contextlib.suppress(OSError):
        for line in status.read_text().splitlines():
            if line.startswith("State:"):
                return "Z" not in line.split()[1]
    return True


class HostLock:
    def __init__(self, container: ContainerClient, task_hub: str) -> None:
        self.blob = container.get_blob_client("host.lock")
        self.task_hub = task_hub
        self.lease: BlobLeaseClient | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def acquire(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.blob.upload_blob(b"", overwrite=False)
        lease = BlobLeaseClient(self.blob)
        try:
            await lease.acquire(lease_duration=LEASE_SECONDS)
        except HttpResponseError as exc:
            if exc.status_code != 409:
                raise
            props = await self.blob.get_blob_properties()
            owner_host = props.metadata.get("hostname", "?")
            owner_pid = int(props.metadata.get("pid", "0") or 0)
            if owner_host == socket.gethostname() and owner_pid and not pid_alive(owner_pid):
                log.warning("taking over task hub %s from dead host pid %d", self.task_hub, owner_pid)
                await lease.break_lease(lease_break_period=0)
                await lease.acquire(lease_duration=LEASE_SECONDS)
            else:
                raise HostLockError(
                    f"task hub '{self.task_hub}' is already served by another host "
                    f"(hostname {owner_host}, pid {owner_pid}); stop it first or use another task hub"
                ) from None
        await self.blob.set_blob_metadata({"hostname": socket.gethostname(), "pid": str(os.getpid())},
                                          lease=lease)
        self.lease = lease
        self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="host lock renewal")

    async def _renew(self) -> None:
        while self.lease is not None:
            await asyncio.sleep(RENEW_EVERY)
            try:
                await self.lease.renew()
            except Exception:
                log.exception("could not renew the host lock lease")

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self.lease is not None:
            with contextlib.suppress(HttpResponseError):
                await self.lease.release()
        self.lease = None
