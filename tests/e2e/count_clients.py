"""Run one Harvest run on the local host, in this process, and print how many Blob service clients and
credentials the app constructed (``python -m tests.e2e.count_clients``; settings come from the env)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections import Counter
from typing import Any

import aiohttp
from azure.identity.aio import DefaultAzureCredential
from azure.storage.blob.aio import BlobServiceClient

made: Counter[str] = Counter()


def counting(cls: Any, key: str) -> None:
    original = cls.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        made[key] += 1
        original(self, *args, **kwargs)

    cls.__init__ = init


async def main() -> dict[str, Any]:
    import function_app
    from devhost.host import LocalHost
    from shared import azure_clients

    host = LocalHost(function_app.app, connection_string=os.environ["AzureWebJobsStorage"],
                     task_hub=f"C{uuid.uuid4().hex[:10]}", port=0, fire_timers=False)
    await host.start()
    before = dict(made)  # the host's own clients (its instance store) are not the app's
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{host.base_url}/api/runs", json={}) as resp:
                run_id = (await resp.json())["run_id"]
            status = await host.wait_for(run_id, timeout=240)
    finally:
        await host.stop()
        await azure_clients.aclose_all()
    return {"runtime_status": status.get("runtimeStatus"), "output": status.get("output"),
            "blob_service": made["blob_service"] - before.get("blob_service", 0),
            "credential": made["credential"] - before.get("credential", 0)}


if __name__ == "__main__":
    counting(BlobServiceClient, "blob_service")
    counting(DefaultAzureCredential, "credential")
    print(json.dumps(asyncio.run(main()), default=str))
