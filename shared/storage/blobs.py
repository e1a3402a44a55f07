"""A thin async wrapper over one Blob container: JSON helpers, conditional writes, ETag updates.

Every shared mutable blob (checkpoints, run records, document records) is changed through
``update_json``: read with its ETag, apply a pure function, write back with ``if_match``; on 412
(someone else wrote first) read again and re-apply. Blobs that must never be overwritten use
``create_if_absent`` (``if_none_match="*"`` → 409/412 means it is already there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient, ContainerClient

from shared import azure_clients
from shared.errors import CorruptBlobError, TransientError, WriteContentionError

T = TypeVar("T")
JSON_TYPE = ContentSettings(content_type="application/json")
JSONL_TYPE = ContentSettings(content_type="application/x-ndjson")
DELETE_CONCURRENCY = 16
log = logging.getLogger("harvest.storage")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")


class BlobStore:
    """One container of one storage account. Use as ``async with BlobStore.connect(...) as store``.

    ``connect`` uses the process's shared service client (``shared.azure_clients``): closing the store
    leaves it open for the next store. A store built on its own ``BlobServiceClient`` closes that client."""

    def __init__(self, service: BlobServiceClient, container: str, *, owns_service: bool = True) -> None:
        self._service = service
        self._owns_service = owns_service
        self.container_name = container
        self.container: ContainerClient = service.get_container_client(container)

    @classmethod
    def connect(
        cls, *, container: str, connection_string: str | None = None, account_url: str | None = None
    ) -> BlobStore:
        service = azure_clients.blob_service(connection_string=connection_string, account_url=account_url)
        return cls(service, container, owns_service=False)

    @classmethod
    def from_settings(cls, settings: Any) -> BlobStore:
        return cls.connect(
            container=settings.container,
            connection_string=settings.storage_connection,
            account_url=settings.storage_account_url,
        )

    async def __aenter__(self) -> BlobStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._owns_service:
            await self._service.close()

    async def ensure_container(self) -> None:
        try:
            await self.container.create_container()
        except ResourceExistsError:
            pass
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise TransientError(f"storage unreachable: {exc}") from exc

    # -- reads -------------------------------------------------------------------------------
    async def read_bytes(self, name: str) -> bytes | None:
        try:
            stream = await self.container.download_blob(name)
            return await stream.readall()
        except ResourceNotFoundError:
            return None

    async def read_json(self, name: str) -> tuple[Any, str | None]:
        """Return ``(value, etag)``, or ``(None, None)`` when the blob does not exist.
        ``CorruptBlobError`` (naming the blob, carrying its ETag) when it is not JSON."""
        try:
            stream = await self.container.download_blob(name)
            data = await stream.readall()
        except ResourceNotFoundError:
            return None, None
        etag = stream.properties.etag
        try:
            return json.loads(data), etag
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise CorruptBlobError(name, f"not JSON: {exc}", etag=etag) from None

    async def read_jsonl(self, name: str) -> list[dict[str, Any]]:
        """The rows of a JSON Lines blob (``[]`` when absent); ``CorruptBlobError`` naming blob and line."""
        data = await self.read_bytes(name)
        if data is None:
            return []
        rows = []
        for number, line in enumerate(data.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise CorruptBlobError(name, f"line {number} is not JSON: {exc}") from None
            if not isinstance(row, dict):
                raise CorruptBlobError(name, f"line {number} is not a JSON object")
            rows.append(row)
        return rows

    async def exists(self, name: str) -> bool:
        return await self.container.get_blob_client(name).exists()

    async def list_names(self, prefix: str) -> AsyncIterator[str]:
        async for item in self.container.list_blobs(name_starts_with=prefix):
            yield item.name

    async def list_etags(self, prefix: str) -> dict[str, str]:
        """Every blob under ``prefix`` with its ETag (one listing, no reads)."""
        return {item.name: item.etag.strip('"') async for item in self.container.list_blobs(name_starts_with=prefix)}

    async def list_folders(self, prefix: str) -> list[str]:
        """The names of the "folders" directly under ``prefix`` (``state/`` → ``["docs-a", ...]``)."""
        out = []
        async for item in self.container.walk_blobs(name_starts_with=prefix, delimiter="/"):
            name = item.name
            if name.endswith("/"):
                out.append(name[len(prefix):-1])
        return out

    # -- writes ------------------------------------------------------------------------------
    async def write_bytes(
        self, name: str, data: bytes, *, content_settings: ContentSettings | None = None
    ) -> None:
        await self.container.upload_blob(name, data, overwrite=True, content_settings=content_settings)

    async def write_json(self, name: str, value: Any) -> None:
        await self.write_bytes(name, dumps(value), content_settings=JSON_TYPE)

    async def write_jsonl(self, name: str, rows: list[dict[str, Any]]) -> None:
        body = b"".join(dumps(row) + b"\n" for row in rows)
        await self.write_bytes(name, body, content_settings=JSONL_TYPE)

    async def create_if_absent(
        self, name: str, data: bytes, *, content_settings: ContentSettings | None = None
    ) -> bool:
        """Write ``data`` only if ``name`` does not exist; return whether this call created it."""
        try:
            await self.container.upload_blob(
                name, data, overwrite=False, content_settings=content_settings
            )
            return True
        except (ResourceExistsError, ResourceModifiedError):
            return False

    async def update_json(
        self,
        name: str,
        change: Callable[[Any], T],
        *,
        attempts: int = 20,
        likely_absent: bool = False,
        heal: bool = False,
    ) -> T:
        """Read-modify-write ``name`` under an ETag condition, retrying on conflicts.

        ``change`` receives the current value (``None`` if absent) and returns the new value; it must
        be pure because it may run several times. Returning ``None`` or the value unchanged writes
        nothing; raising aborts without writing. ``likely_absent`` skips the first read: the first
        attempt is a create-if-absent of ``change(None)``, and if the blob exists after all it falls
        back to reading it (one request saved per new blob, none lost otherwise).
        """
        value, _ = await self.update_json_etag(name, change, attempts=attempts, likely_absent=likely_absent,
                                               heal=heal)
        return value

    async def update_json_etag(
        self,
        name: str,
        change: Callable[[Any], T],
        *,
        attempts: int = 20,
        likely_absent: bool = False,
        heal: bool = False,
        known: tuple[Any, str | None] | None = None,
    ) -> tuple[T, str | None]:
        """``update_json`` that also returns the ETag of the blob once it holds the returned value, as the
        service gives it (quoted; ``list_etags`` strips the quotes): the written blob's, or the one read when
        nothing needed writing (``None`` when ``change`` returned ``None`` and nothing was read).

        ``known``: the blob's value and ETag as this caller last saw them (read, or written by an earlier call):
        the first attempt starts from them instead of reading. If the blob changed since, the conditional
        write fails and the next attempt reads it; "nothing to write" is never decided on them.
        """
        guess = likely_absent
        for attempt in range(attempts):
            if known is not None:
                (current, etag), known, guess = known, None, True
            elif guess:
                current, etag = None, None
            else:
                try:
                    current, etag = await self.read_json(name)
                except CorruptBlobError as exc:
                    if not heal:
                        raise
                    log.warning("%s; replacing it", exc)
                    current, etag = None, exc.etag
            new = change(current)
            if guess and (new is None or new == current):  # "nothing to write" must not rest on a guess
                guess = False
                continue
            if new is None or new == current:
                # nothing to write (``None`` with a corrupt blob: it stays, and its ETag is not this value's)
                return new, etag if new is not None else None
            blob = self.container.get_blob_client(name)
            try:
                if etag is None:
                    written = await blob.upload_blob(dumps(new), overwrite=False, content_settings=JSON_TYPE)
                else:
                    written = await blob.upload_blob(
                        dumps(new),
                        overwrite=True,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                        content_settings=JSON_TYPE,
                    )
                return new, written.get("etag")
            except (ResourceExistsError, ResourceModifiedError):
                if guess:  # it existed, or changed, after all: read it next time, no need to back off
                    guess = False
                    continue
                await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * random.random())
            except HttpResponseError as exc:
                if guess and exc.status_code in (409, 412):
                    guess = False
                    continue
                if exc.status_code in (409, 412):
                    await asyncio.sleep(min(0.05 * 2**attempt, 1.0) * random.random())
                    continue
                raise
        raise WriteContentionError(f"{name}: still contended after {attempts} attempts")

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every blob under ``prefix``; return how many were deleted."""
        names = [name async for name in self.list_names(prefix)]
        limit = asyncio.Semaphore(DELETE_CONCURRENCY)

        async def one(name: str) -> None:
            async with limit:
                await self.delete(name)

        await asyncio.gather(*(one(name) for name in names))
        return len(names)

    async def delete(self, name: str) -> bool:
        try:
            await self.container.delete_blob(name)
            return True
        except ResourceNotFoundError:
            return False
