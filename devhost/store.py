"""Blob persistence for orchestration instances: state, append-only history, inbox, results.

Layout in container ``durable-<hub>``::

    instances/<id>/state.json               current status (block blob, metadata: runtimeStatus, createdTime)
    instances/<id>/history-<execution>.jsonl  one JSON line per episode (append blob)
    instances/<id>/inbox/<ts>-<uuid>.json   raised events / terminate / suspend / resume not yet applied
    instances/<id>/results/<execution>-<task>.json  activity results not yet in history

Fencing: with ``fence`` set (the host's ``HostLock``), every write first checks that this host still holds
the task hub's lease, and history blobs carry an infinite blob lease whose id is the host lease's id:
appends go with that lease id, so after another host claimed a history blob (``claim_history``, which
breaks the old lease) the appends of the host it took over from are refused by storage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
import uuid
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobLeaseClient, BlobServiceClient, ContainerClient

from .lock import HostLock, LeaseLostError

_SAFE = re.compile(r"[A-Za-z0-9_.\-]")
JSON = ContentSettings(content_type="application/json")


def container_name_for(task_hub: str) -> str:
    """A valid container name (3-63 chars, lowercase alphanumerics and single hyphens)."""
    core = re.sub(r"[^a-z0-9]+", "-", task_hub.lower()).strip("-") or "hub"
    return f"durable-{core}"[:63].rstrip("-")


def encode_id(instance_id: str) -> str:
    """Reversible, blob-name-safe encoding: anything outside [A-Za-z0-9_.-] becomes ~XX."""
    out = []
    for ch in instance_id:
        if _SAFE.fullmatch(ch) and ch != "~":
            out.append(ch)
        else:
            out.extend(f"~{b:02X}" for b in ch.encode("utf-8"))
    return "".join(out)


def decode_id(name: str) -> str:
    raw = bytearray()
    i = 0
    while i < len(name):
        if name[i] == "~":
            raw.append(int(name[i + 1 : i + 3], 16))
            i += 3
        else:
            raw.extend(name[i].encode())
            i += 1
    return raw.decode("utf-8")


class InstanceStore:
    """Async access to one task hub's container."""

    def __init__(self, connection_string: str, task_hub: str) -> None:
        self.connection_string = connection_string
        self.container_name = container_name_for(task_hub)
        self._service: BlobServiceClient | None = None
        self._container: ContainerClient | None = None
        self.fence: HostLock | None = None

    def check_fence(self) -> None:
        """Raise ``LeaseLostError`` if this store writes for a host that lost the task hub."""
        if self.fence is not None:
            self.fence.check()

    @property
    def container(self) -> ContainerClient:
        if self._container is None:
            raise RuntimeError("store is not open")
        return self._container

    async def open(self) -> None:
        self._service = BlobServiceClient.from_connection_string(self.connection_string)
        self._container = self._service.get_container_client(self.container_name)
        try:
            with contextlib.suppress(ResourceExistsError):
                await self._container.create_container()
        except BaseException:
            await self.close()  # storage did not answer: leave no open HTTP session behind
            raise

    async def close(self) -> None:
        if self._service is not None:
            await self._service.close()
        self._service = self._container = None

    @staticmethod
    def prefix(instance_id: str) -> str:
        return f"instances/{encode_id(instance_id)}/"

    # ---- state -------------------------------------------------------------------------------
    async def read_state(self, instance_id: str) -> dict[str, Any] | None:
        try:
            blob = self.container.get_blob_client(self.prefix(instance_id) + "state.json")
            data = await (await blob.download_blob()).readall()
        except ResourceNotFoundError:
            return None
        state: dict[str, Any] = json.loads(data)
        return state

    async def write_state(self, state: dict[str, Any]) -> None:
        self.check_fence()
        blob = self.container.get_blob_client(self.prefix(state["instanceId"]) + "state.json")
        metadata = {"runtimeStatus": state["runtimeStatus"], "createdTime": state["createdTime"]}
        await blob.upload_blob(
            json.dumps(state).encode(), overwrite=True, metadata=metadata, content_settings=JSON
        )

    async def list_state_summaries(self) -> list[tuple[str, dict[str, str]]]:
        """(instance id, metadata) for every instance, from one listing (no blob reads)."""
        found = []
        async for item in self.container.list_blobs(name_starts_with="instances/", include=["metadata"]):
            parts = item.name.split("/")
            if len(parts) == 3 and parts[2] == "state.json":
                found.append((decode_id(parts[1]), dict(item.metadata or {})))
        return found

    async def read_states(self, instance_ids: list[str]) -> list[dict[str, Any]]:
        sem = asyncio.Semaphore(16)

        async def one(iid: str) -> dict[str, Any] | None:
            async with sem:
                return await self.read_state(iid)

        states = await asyncio.gather(*(one(i) for i in instance_ids))
        return [s for s in states if s is not None]

    # ---- history -----------------------------------------------------------------------------
    def _history_blob(self, instance_id: str, execution_id: str) -> Any:
        return self.container.get_blob_client(f"{self.prefix(instance_id)}history-{execution_id}.jsonl")

    async def create_history(self, instance_id: str, execution_id: str) -> None:
        self.check_fence()
        blob = self._history_blob(instance_id, execution_id)
        with contextlib.suppress(ResourceExistsError):
            await blob.create_append_blob(if_none_match="*")
        await self.claim_history(instance_id, execution_id)

    async def claim_history(self, instance_id: str, execution_id: str) -> None:
        """Lease the history blob with this host's lease id, breaking a lease another host left on it.
        Call before reading a history this host will append to."""
        self.check_fence()
        if self.fence is None or self.fence.lease_id is None:
            return
        blob = self._history_blob(instance_id, execution_id)
        lease = BlobLeaseClient(blob, lease_id=self.fence.lease_id)
        try:
            await lease.acquire(lease_duration=-1)
        except ResourceNotFoundError:
            return
        except HttpResponseError as exc:
            if exc.status_code != 409:
                raise
            await BlobLeaseClient(blob).break_lease(lease_break_period=0)
            await lease.acquire(lease_duration=-1)

    async def append_history(self, instance_id: str, execution_id: str, line: dict[str, Any]) -> None:
        self.check_fence()
        data = (json.dumps(line, separators=(",", ":")) + "\n").encode()
        blob = self._history_blob(instance_id, execution_id)
        lease = {"lease": self.fence.lease_id} if self.fence is not None and self.fence.lease_id else {}
        # append blocks are limited to 4 MiB; split long lines across several blocks
        for start in range(0, len(data), 4 * 1024 * 1024):
            try:
                await blob.append_block(data[start : start + 4 * 1024 * 1024], **lease)
            except HttpResponseError as exc:
                if exc.status_code != 412 or self.fence is None:
                    raise
                code = getattr(exc, "error_code", None)
                why = f"storage refused a history append for {instance_id} ({code}): another host owns it"
                self.fence.lose(why)
                raise LeaseLostError(why) from None

    async def read_history(self, instance_id: str, execution_id: str) -> list[dict[str, Any]] | None:
        """History lines in order, de-duplicated by seq; a torn last line is ignored."""
        try:
            raw = await (await self._history_blob(instance_id, execution_id).download_blob()).readall()
        except ResourceNotFoundError:
            return None
        lines: list[dict[str, Any]] = []
        seen: set[int] = set()
        for text in raw.decode("utf-8", errors="replace").split("\n"):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue  # torn write: the episode is redone from durable inputs
            if line.get("seq") in seen:
                continue
            seen.add(line.get("seq"))
            lines.append(line)
        return lines

    async def delete_blob(self, name: str) -> None:
        self.check_fence()
        with contextlib.suppress(ResourceNotFoundError):
            try:
                await self.container.delete_blob(name)
            except HttpResponseError as exc:
                if exc.status_code != 412:  # a leased history blob: break its lease, then delete it
                    raise
                await BlobLeaseClient(self.container.get_blob_client(name)).break_lease(lease_break_period=0)
                await self.container.delete_blob(name)

    async def delete_prefix(self, prefix: str) -> int:
        names = [b.name async for b in self.container.list_blobs(name_starts_with=prefix)]
        await asyncio.gather(*(self.delete_blob(n) for n in names))
        return len(names)

    async def delete_instance(self, instance_id: str) -> None:
        # state last, so a crash mid-purge leaves a visible (re-purgeable) instance
        prefix = self.prefix(instance_id)
        names = [b.name async for b in self.container.list_blobs(name_starts_with=prefix)]
        await asyncio.gather(*(self.delete_blob(n) for n in names if not n.endswith("state.json")))
        await self.delete_blob(prefix + "state.json")

    # ---- inbox (messages for an instance) and results (activity outcomes) ---------------------
    async def put_message(self, instance_id: str, message: dict[str, Any]) -> str:
        self.check_fence()
        name = f"{self.prefix(instance_id)}inbox/{time.time_ns():020d}-{uuid.uuid4().hex}.json"
        await self.container.upload_blob(name, json.dumps(message).encode(), content_settings=JSON)
        return name

    async def list_json(self, prefix: str) -> list[tuple[str, dict[str, Any]]]:
        names = sorted([b.name async for b in self.container.list_blobs(name_starts_with=prefix)])
        out = []
        for name in names:
            try:
                data = await (await self.container.get_blob_client(name).download_blob()).readall()
                out.append((name, json.loads(data)))
            except (ResourceNotFoundError, json.JSONDecodeError):
                continue
        return out

    async def list_messages(self, instance_id: str) -> list[tuple[str, dict[str, Any]]]:
        return await self.list_json(self.prefix(instance_id) + "inbox/")

    def results_prefix(self, instance_id: str, execution_id: str) -> str:
        return f"{self.prefix(instance_id)}results/{execution_id}-"

    async def put_result(self, instance_id: str, execution_id: str, task_id: int, ev: dict[str, Any]) -> None:
        self.check_fence()
        name = f"{self.results_prefix(instance_id, execution_id)}{task_id:08d}.json"
        await self.container.upload_blob(name, json.dumps(ev).encode(), overwrite=True, content_settings=JSON)

    async def list_results(self, instance_id: str, execution_id: str) -> list[dict[str, Any]]:
        return [ev for _, ev in await self.list_json(self.results_prefix(instance_id, execution_id))]
