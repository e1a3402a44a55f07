"""One credential and one Blob service client per account and event loop, closed at shutdown."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from shared import azure_clients
from shared.storage.blobs import BlobStore

ACCOUNT = "https://harvestnowhere.blob.core.windows.net"


def transport(service: Any) -> Any:
    """The aiohttp transport at the bottom of the client's pipeline (its ``session`` is None once closed)."""
    found = service._client._client._pipeline._transport
    while not hasattr(found, "session"):
        found = found._transport
    return found


async def test_stores_share_one_service_client_per_account(azurite: str) -> None:
    before = azure_clients.created["blob_service"]
    container = f"c{uuid.uuid4().hex[:12]}"
    services = []
    for i in range(20):
        async with BlobStore.connect(container=container, connection_string=azurite) as store:
            await store.ensure_container()
            await store.write_json(f"x/{i}.json", {"i": i})
            services.append(store._service)
    assert len({id(s) for s in services}) == 1 and azure_clients.created["blob_service"] - before <= 1
    async with BlobStore.connect(container=container, connection_string=azurite) as store:
        assert (await store.read_json("x/19.json"))[0] == {"i": 19}  # a closed store left the client usable


async def test_one_credential_for_every_account_url() -> None:
    before = dict(azure_clients.created)
    a = azure_clients.blob_service(account_url=ACCOUNT)
    b = azure_clients.blob_service(account_url=ACCOUNT)
    c = azure_clients.blob_service(account_url=ACCOUNT.replace("nowhere", "elsewhere"))
    assert a is b and a is not c
    assert a.credential is c.credential is azure_clients.credential()
    assert azure_clients.created["credential"] - before.get("credential", 0) <= 1


async def test_aclose_all_closes_and_the_next_caller_gets_new_clients(azurite: str) -> None:
    service = azure_clients.blob_service(connection_string=azurite)
    await service.get_service_properties()  # opens the HTTP session
    credential = azure_clients.credential()
    assert transport(service).session is not None
    await azure_clients.aclose_all()
    assert transport(service).session is None
    assert azure_clients.blob_service(connection_string=azurite) is not service
    assert azure_clients.credential() is not credential


def test_each_loop_has_its_own_clients_and_asyncio_run_closes_them(azurite: str) -> None:
    seen: list[Any] = []

    async def use() -> None:
        service = azure_clients.blob_service(connection_string=azurite)
        await service.get_service_properties()
        seen.append(service)

    asyncio.run(use())
    thread = threading.Thread(target=lambda: asyncio.run(use()))
    thread.start()
    thread.join()
    assert len(seen) == 2 and seen[0] is not seen[1]
    assert all(transport(s).session is None for s in seen)  # closed when their loop shut down
