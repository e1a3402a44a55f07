"""LocalHost: runs any ``df.DFApp`` unchanged, with its state in Blob storage (Azurite).

    host = LocalHost(function_app.app, connection_string=conn)
    await host.start()        # HTTP on http://127.0.0.1:7071, resumes unfinished orchestrations
    ...
    await host.stop()
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import web
from azure.functions.timer import TimerRequest

from . import history as h
from .azurite import resolve_storage
from .durable_api import DurableApi, client_binding
from .engine import Engine
from .functions import FunctionIndex, invoke
from .http_routes import AppRoutes
from .lock import HostLock, HostLockError
from .runner import TERMINAL
from .settings import apply_local_settings, load_host_settings, load_local_settings
from .store import InstanceStore
from .timers import TimerScheduler

__all__ = [
    "HostLockError", "LocalHost", "apply_local_settings", "load_host_settings", "load_local_settings",
]

log = logging.getLogger("harvest.devhost")


class LocalHost:
    def __init__(self, app: Any, *, connection_string: str, task_hub: str = "HarvestHub",
                 host: str = "127.0.0.1", port: int = 7071, max_concurrent_activities: int = 4,
                 max_concurrent_orchestrations: int = 8, fire_timers: bool = True) -> None:
        self.index = FunctionIndex(app)  # get_functions() may be called once per app object
        self.task_hub = task_hub
        self.host = host
        self.port = port
        self.fire_timers = fire_timers
        conn, _ = resolve_storage(connection_string)
        self.store = InstanceStore(conn, task_hub)
        self.engine = Engine(self.index, self.store, max_concurrent_activities=max_concurrent_activities,
                             max_concurrent_orchestrations=max_concurrent_orchestrations,
                             client_json=self.client_binding_json)
        self.api = DurableApi(self)
        self._lock: HostLock | None = None
        self._runner: web.AppRunner | None = None
        self._timers: TimerScheduler | None = None
        self._client_json: str | None = None
        self.lease_lost = asyncio.Event()  # set when this host lost the task hub (it then runs nothing)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def client_binding_json(self) -> str:
        if self._client_json is None:
            self._client_json = json.dumps(client_binding(self.base_url, self.task_hub))
        return self._client_json

    async def start(self) -> None:
        h.install_fast_timestamp_parsing()
        await self.store.open()
        self._lock = HostLock(self.store.container, self.task_hub, on_lost=self._lease_lost)
        try:
            await self._lock.acquire()
        except BaseException:
            await self.store.close()
            raise
        self.store.fence = self._lock  # every write checks the lease; history appends carry it
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.add_routes(self.api.routes() + AppRoutes(self).routes())
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if self.port == 0 and server is not None and server.sockets:
            self.port = int(server.sockets[0].getsockname()[1])
        log.info("devhost serving %d function(s) on %s (task hub %s)", len(self.index.functions),
                 self.base_url, self.task_hub)
        await self.engine.resume_all()
        if self.fire_timers and self.index.timers:
            self._timers = TimerScheduler(self.index.timers, self.fire_timer, self.engine.spawn)
            self._timers.start()

    async def stop(self) -> None:
        if self._timers is not None:
            self._timers.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.engine.stop()
        if self._lock is not None:
            await self._lock.release()
        await self.store.close()
        log.info("devhost stopped")

    def _lease_lost(self, why: str) -> None:
        """Stop dispatching at once: no orchestration, activity or timer of this host runs any more."""
        self.lease_lost.set()
        self.engine.stopping = True
        if self._timers is not None:
            self._timers.stop()
        self._halt = asyncio.get_running_loop().create_task(self.engine.stop(), name="halt after lease loss")

    async def __aenter__(self) -> LocalHost:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def fire_timer(self, function_name: str) -> None:
        """Run a timer-triggered function now (with its durable client binding, if any)."""
        info = self.index.timers.get(function_name)
        if info is None:
            raise KeyError(f"no timer function named '{function_name}'")
        request = TimerRequest(past_due=False, schedule={"AdjustForDST": True},
                               schedule_status={"Last": h.iso(h.utcnow())})
        kwargs: dict[str, Any] = {info.trigger_param: request}
        for name in info.client_params:
            kwargs[name] = self.client_binding_json()
        log.info("firing timer %s", function_name)
        try:
            await invoke(info, kwargs, self.engine.activity_pool)
        except Exception:
            log.exception("timer function %s failed", function_name)
            raise

    async def get_status(self, instance_id: str) -> dict[str, Any] | None:
        state = await self.engine.get_state(instance_id)
        return None if state is None else self.api.status_json(state)

    async def wait_for(self, instance_id: str, timeout: float) -> dict[str, Any]:
        """Wait until the instance is Completed/Failed/Terminated; return its status."""
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.02
        while True:
            status = await self.get_status(instance_id)
            if status is not None and status["runtimeStatus"] in TERMINAL:
                return status
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(f"instance {instance_id} not finished after {timeout} s: {status}")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.25)

