"""One Azure credential and one Blob service client per storage account, shared by the whole process.

A ``DefaultAzureCredential`` caches its tokens, and a ``BlobServiceClient`` its connection pool: made
anew per store, per request or per activity (and never closed), every call in Azure starts with a token
request and a new TLS connection. Here every store, trigger and activity of the process shares them:

- ``credential()`` — the ``DefaultAzureCredential`` (managed identity in Azure);
- ``blob_service(connection_string=..., account_url=...)`` — one client per account;
- ``aclose_all()`` — close them (the local host calls it when it stops).

Azure's async clients (aiohttp underneath) belong to the event loop they are used on, so the cache is
kept per running loop. Each loop's clients are also closed when the loop is shut down by
``asyncio.run`` (or any ``asyncio.Runner``), which cancels the loop's remaining tasks: a small keeper task
closes them on its cancellation, so a CLI command that never calls ``aclose_all`` leaks nothing either.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from azure.storage.blob.aio import BlobServiceClient

log = logging.getLogger("harvest.clients")
created: Counter[str] = Counter()  # constructions in this process: "credential", "blob_service"


@dataclass
class _LoopClients:
    credential: Any = None
    services: dict[str, BlobServiceClient] = field(default_factory=dict)
    keeper: asyncio.Task[None] | None = None


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClients] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _clients() -> _LoopClients:
    loop = asyncio.get_running_loop()  # a RuntimeError outside a loop: async clients need one
    with _lock:
        entry = _by_loop.get(loop)
        if entry is None:
            entry = _by_loop[loop] = _LoopClients()
            entry.keeper = loop.create_task(_keep(entry), name="harvest-azure-clients")
        return entry


async def _keep(entry: _LoopClients) -> None:
    """Sleep until the loop shuts down (or ``aclose_all``), then close this loop's clients."""
    try:
        await asyncio.Event().wait()
    finally:
        await _close(entry)


async def _close(entry: _LoopClients) -> None:
    services, credential = list(entry.services.values()), entry.credential
    entry.services, entry.credential = {}, None
    for service in services:
        try:
            await service.close()
        except Exception as exc:  # closing must not fail a shutdown
            log.debug("closing a blob service client: %s", exc)
    if credential is not None:
        try:
            await credential.close()
        except Exception as exc:
            log.debug("closing the credential: %s", exc)


def credential() -> Any:
    """The process's ``DefaultAzureCredential`` (for the running loop)."""
    entry = _clients()
    if entry.credential is None:
        from azure.identity.aio import DefaultAzureCredential

        entry.credential = DefaultAzureCredential()
        created["credential"] += 1
    return entry.credential


def blob_service(*, connection_string: str | None = None, account_url: str | None = None) -> BlobServiceClient:
    """The shared client of one storage account: by URL with the credential, or by connection string
    (Azurite, or a source's connection setting). Raises ``ValueError`` for a malformed connection string."""
    if not account_url and not connection_string:
        raise ValueError("a connection string or an account URL is required")
    key = f"url:{account_url}" if account_url else f"conn:{connection_string}"
    entry = _clients()
    service = entry.services.get(key)
    if service is None:
        if account_url:
            service = BlobServiceClient(account_url, credential=credential())
        else:
            service = BlobServiceClient.from_connection_string(connection_string or "")
        entry.services[key] = service
        created["blob_service"] += 1
    return service


async def aclose_all() -> None:
    """Close the clients of the running loop (the next caller gets new ones); forget those of loops that
    are already closed."""
    loop = asyncio.get_running_loop()
    with _lock:
        entry = _by_loop.pop(loop, None)
        for other in [lp for lp in _by_loop if lp.is_closed()]:
            del _by_loop[other]
    if entry is None:
        return
    keeper = entry.keeper
    if keeper is not None and not keeper.done():
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    else:
        await _close(entry)
