"""One host per task hub: a renewed 15 s blob lease on ``host.lock`` with owner metadata (host name, pid,
what runs it — ``harvest serve``, ``harvest run`` — and, once it serves, its URL), so another command can
say who holds the task hub and hand work to it (``read_holder``).

A host that can no longer prove it holds the lease stops at once: when a renewal is refused, or when the
lease may have run out (the process was paused past it, renewals kept failing), ``on_lost`` is called and
every later write through the store is refused (``LeaseLostError``). The lease id is also the fencing
token on storage: history blobs are leased with it (``InstanceStore.claim_history``), so the appends of a
host whose lease was taken over are refused by storage itself, even if it wakes up before noticing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobLeaseClient, ContainerClient

log = logging.getLogger("harvest.devhost")
LEASE_SECONDS = 15
RENEW_EVERY = 5.0
SAFETY_S = 2.0  # stop trusting the lease this long before it could have expired


class HostLockError(RuntimeError):
    """Another live host serves this task hub. The message is one line: who, until when, what to do;
    ``holder`` says who, for a caller that words it for its own user."""

    def __init__(self, message: str, holder: Holder | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True)
class Holder:
    """Who holds a task hub's lease, from ``host.lock``'s metadata."""

    hostname: str
    pid: int
    role: str | None = None  # what runs the host: "harvest serve", "harvest run", ...
    url: str | None = None  # where it serves HTTP (set once it listens)

    @property
    def here(self) -> bool:
        return self.hostname == socket.gethostname()

    @property
    def alive(self) -> bool:
        """False only when it is surely gone: a process of this machine that no longer exists."""
        return not (self.here and self.pid and not pid_alive(self.pid))

    def describe(self) -> str:
        """For example: `harvest serve` at http://127.0.0.1:7071 (pid 123)."""
        who = f"`{self.role}`" if self.role else "a local host"
        # a command's own host (`harvest run`) serves on a port of its own, only while it runs: not worth naming
        where = f" at {self.url}" if self.url and self.role in (None, "harvest serve") else ""
        on = "" if self.here else f" on {self.hostname}"
        return f"{who}{where} (pid {self.pid}{on})"

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Holder:
        pid = metadata.get("pid", "0")
        return cls(hostname=metadata.get("hostname", "?"), pid=int(pid) if pid.isdigit() else 0,
                   role=metadata.get("role") or None, url=metadata.get("url") or None)


async def read_holder(container: ContainerClient) -> Holder | None:
    """The live holder of the task hub's lease, None when nobody holds it (or its holder is surely dead: a
    process of this machine that is gone, e.g. killed with -9, whose lease has not run out yet)."""
    try:
        props = await container.get_blob_client("host.lock").get_blob_properties()
    except ResourceNotFoundError:
        return None
    if props.lease.state != "leased":
        return None
    holder = Holder.from_metadata(dict(props.metadata or {}))
    return holder if holder.alive else None


class LeaseLostError(RuntimeError):
    """This host no longer holds the task hub's lease: it must not write anything more."""


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
    def __init__(self, container: ContainerClient, task_hub: str,
                 on_lost: Callable[[str], None] | None = None, role: str | None = None) -> None:
        self.blob = container.get_blob_client("host.lock")
        self.task_hub = task_hub
        self.role = role
        self.lease: BlobLeaseClient | None = None
        self.on_lost = on_lost
        self.lost: str | None = None  # why the lease was lost, once it was
        self._valid_until = 0.0  # time.monotonic() until which the lease is surely ours
        self._renewer: asyncio.Task[None] | None = None

    @property
    def lease_id(self) -> str | None:
        return None if self.lease is None else self.lease.id

    @property
    def held(self) -> bool:
        return self.lease is not None and self.lost is None and time.monotonic() < self._valid_until

    def check(self) -> None:
        """Raise ``LeaseLostError`` unless the lease is surely still this host's (call before writing)."""
        if self.held:
            return
        if self.lost is None and self.lease is not None:
            self.lose("the lease may have expired (renewals failed or the process was paused)")
        raise LeaseLostError(f"task hub '{self.task_hub}': this host lost its lease ({self.lost})")

    def lose(self, why: str) -> None:
        if self.lost is not None:
            return
        self.lost = why
        log.error("task hub %s: lost the host lease: %s; this host stops running orchestrations",
                  self.task_hub, why)
        if self.on_lost is not None:
            self.on_lost(why)

    async def acquire(self) -> None:
        with contextlib.suppress(ResourceExistsError):
            await self.blob.upload_blob(b"", overwrite=False)
        lease = BlobLeaseClient(self.blob)
        started = time.monotonic()
        try:
            await lease.acquire(lease_duration=LEASE_SECONDS)
        except HttpResponseError as exc:
            if exc.status_code != 409:
                raise
            props = await self.blob.get_blob_properties()
            owner = Holder.from_metadata(dict(props.metadata or {}))
            if not owner.alive:
                log.warning("taking over task hub %s from dead host pid %d", self.task_hub, owner.pid)
                await lease.break_lease(lease_break_period=0)
                started = time.monotonic()
                await lease.acquire(lease_duration=LEASE_SECONDS)
            else:
                raise HostLockError(held_message(self.task_hub, owner.hostname, owner.pid), owner) from None
        self._valid_until = started + LEASE_SECONDS - SAFETY_S
        self.lease = lease
        await self.blob.set_blob_metadata(self._metadata(), lease=lease)
        self._renewer = asyncio.get_running_loop().create_task(self._renew(), name="host lock renewal")

    def _metadata(self, url: str | None = None) -> dict[str, str]:
        found = {"hostname": socket.gethostname(), "pid": str(os.getpid())}
        if self.role:
            found["role"] = self.role
        if url:
            found["url"] = url
        return found

    async def announce(self, url: str) -> None:
        """Record where this host serves HTTP, for other commands (``read_holder``)."""
        if self.lease is not None:
            await self.blob.set_blob_metadata(self._metadata(url), lease=self.lease)

    async def _renew(self) -> None:
        while self.lease is not None and self.lost is None:
            await asyncio.sleep(RENEW_EVERY)
            if time.monotonic() >= self._valid_until:
                self.lose("the lease ran out before it could be renewed (was the process paused?)")
                return
            started = time.monotonic()
            try:
                await self.lease.renew()
            except HttpResponseError as exc:
                if exc.status_code in (409, 412):  # taken over, broken or expired: not ours any more
                    self.lose(f"renewal refused ({getattr(exc, 'error_code', None) or exc.status_code})")
                    return
                log.warning("could not renew the host lease (will retry): %s", exc.message)
                continue
            except Exception as exc:  # storage unreachable: retry until the lease may have run out
                log.warning("could not renew the host lease (will retry): %s", exc)
                continue
            self._valid_until = started + LEASE_SECONDS - SAFETY_S

    async def release(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        if self.lease is not None and self.lost is None:
            with contextlib.suppress(HttpResponseError):
                await self.lease.release()
        self.lease = None


def held_message(task_hub: str, hostname: str, pid: int) -> str:
    """One line: who holds the task hub, until when, and what to do about it."""
    return (f"task hub '{task_hub}' is already served by another host (host {hostname}, pid {pid}; its lease "
            f"is renewed every {RENEW_EVERY:.0f} s and runs out {LEASE_SECONDS} s after that host stops): "
            "stop that host, or set HARVEST_TASK_HUB to use another task hub")
