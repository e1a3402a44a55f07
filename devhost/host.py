"""LocalHost: runs a Functions app unchanged, through Azure's Python worker, with its state in Blob (Azurite).

    host = LocalHost(Path("function_app.py"), connection_string=conn)   # or an app object (tests)
    await host.start()        # loads the app in the worker, HTTP on http://127.0.0.1:7071, resumes orchestrations
    ...
    await host.stop()
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from . import history as h
from .azurite import resolve_storage
from .durable_api import PREFIX, RPC_PATH, DurableApi, client_binding
from .engine import Engine
from .functions import FunctionIndex, parse_timespan
from .http_routes import BODY_GRACE_S, MAX_REQUEST_BYTES, AppRoutes
from .keys import ANONYMOUS, SYSTEM, HostKeys
from .listeners import application, listen, listen_rpc
from .lock import HostLock, HostLockError
from .routing import Router
from .runner import TERMINAL
from .settings import apply_local_settings, load_host_settings, load_local_settings
from .store import InstanceStore
from .timers import TimerScheduler, next_fire
from .worker import Worker, WorkerLoadError

__all__ = [
    "HostLockError", "LocalHost", "WorkerLoadError", "apply_local_settings", "load_host_settings",
    "load_local_settings",
]

log = logging.getLogger("harvest.devhost")


class LocalHost:
    def __init__(self, app: Any, *, connection_string: str, task_hub: str = "HarvestHub",
                 host: str = "127.0.0.1", port: int = 7071, max_concurrent_activities: int = 4,
                 max_concurrent_orchestrations: int = 8, fire_timers: bool = True,
                 function_timeout: str | float | None = None, keys: HostKeys | None = None,
                 durable_checks: str = "error", rpc_port: int | None = None, role: str | None = None) -> None:
        """``app``: the path of the app's script (``function_app.py``: loaded by the worker as Azure loads it) or
        an app object (tests' small apps: indexed and validated by the worker's own registry). Raises
        :class:`WorkerLoadError` with the worker's message when it rejects the app, as Azure loads nothing then.
        ``durable_checks`` ("error", "warn", "off"): an orchestrator that yields tasks the Durable extension would
        not start now fails ("error", for tests) or is logged by name ("warn", ``harvest serve``/``run``).
        ``rpc_port``: the Durable RPC endpoint's port on 127.0.0.1 (default: the extension's, 17071 first)."""
        self.worker = Worker()
        if isinstance(app, str | Path):
            self._script: Path | None = Path(app)
        else:
            self._script = None
            self.worker.load_app(app)
        self.task_hub = task_hub
        self.host = host
        self.port = port
        self.fire_timers = fire_timers
        self.keys = keys or HostKeys()
        self.role = role  # what runs this host ("harvest serve"), recorded in the task hub's lock for others
        self.body_grace_s = BODY_GRACE_S
        self.function_timeout = (parse_timespan(function_timeout) if isinstance(function_timeout, str)
                                 else function_timeout)
        conn, _ = resolve_storage(connection_string)
        self.store = InstanceStore(conn, task_hub)
        self.index: FunctionIndex | None = FunctionIndex(self.worker) if self._script is None else None
        self._limits = (max_concurrent_activities, max_concurrent_orchestrations)
        self.durable_checks = durable_checks
        self.engine: Engine = None  # type: ignore[assignment]  # built once the app is indexed
        if self.index is not None:
            self._build_engine()
        self._lock: HostLock | None = None
        self.rpc_port = rpc_port
        self._runners: list[web.AppRunner] = []
        self._timers: TimerScheduler | None = None
        self._client_json: str | None = None
        self.lease_lost = asyncio.Event()  # set when this host lost the task hub (it then runs nothing)
        self.lease_lost_why: str | None = None

    def _build_engine(self) -> None:
        assert self.index is not None
        for name, reason in self.index.route_errors.items():
            log.error("The '%s' function is in error: %s", name, reason)
        self.engine = Engine(self.index, self.store, max_concurrent_activities=self._limits[0],
                             max_concurrent_orchestrations=self._limits[1], client_json=self.client_binding_json,
                             function_timeout=self.function_timeout, durable_checks=self.durable_checks)
        self.api = DurableApi(self)

    async def load(self) -> None:
        """Index the app's script in the worker (WorkerInitRequest + metadata), once."""
        if self.index is None and self._script is not None:
            await self.worker.load_script(self._script)
            self.index = FunctionIndex(self.worker)
            self._build_engine()

    @property
    def loaded_index(self) -> FunctionIndex:
        """The app's functions (after :meth:`load`)."""
        if self.index is None:
            raise RuntimeError("the app is not loaded yet: await LocalHost.load() or start()")
        return self.index

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def rpc_base_url(self) -> str:
        """The Durable client's ``rpcBaseUrl``: the extension's loopback-only endpoint (once started)."""
        if self.rpc_port is None:
            raise RuntimeError("the RPC endpoint is not open yet: await LocalHost.start()")
        return f"http://127.0.0.1:{self.rpc_port}{RPC_PATH}/"

    @property
    def local_url(self) -> str:
        """The URL a process of this machine reaches the host at (``base_url``, with a wildcard bind address
        replaced by loopback)."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def client_binding_json(self) -> str:
        if self._client_json is None:
            self._client_json = json.dumps(
                client_binding(self.base_url, self.task_hub, self.rpc_base_url, self.keys.query()))
        return self._client_json

    async def start(self, *, resume: bool = True) -> None:
        """Load the app, take the task hub, serve HTTP and (``resume``) continue every unfinished instance.
        Without ``resume`` nothing runs until asked: a command that only controls instances (``harvest
        cancel``) queues its messages durably and the next host start acts on them."""
        h.install_fast_timestamp_parsing()
        await self.load()
        assert self.index is not None
        await self.store.open()
        self._lock = HostLock(self.store.container, self.task_hub, on_lost=self._lease_lost, role=self.role)
        try:
            await self._lock.acquire()
        except BaseException:
            await self.store.close()
            raise
        self.store.fence = self._lock  # every write checks the lease; history appends carry it
        try:
            await self._listen()
        except BaseException:
            await self._close_listeners()
            await self._lock.release()
            await self.store.close()
            raise
        log.info("devhost serving %d function(s) on %s (task hub %s; Durable RPC endpoint %s)",
                 len(self.index.functions), self.base_url, self.task_hub, self.rpc_base_url)
        await self._lock.announce(self.local_url)
        if resume:
            await self.engine.resume_all()
        if self.fire_timers and self.index.timers:
            self._timers = TimerScheduler(self.index.timers, self.fire_timer, self.engine.spawn)
            self._timers.start()

    async def _listen(self) -> None:
        """The RPC endpoint first (the client binding names it), then the served port: the Durable webhook API
        (system key), the app's routes and the admin API, keyed per route."""
        rpc = Router()
        self.api.add_routes(rpc, RPC_PATH, ANONYMOUS)
        runner, self.rpc_port = await listen_rpc(application(rpc, self.keys, MAX_REQUEST_BYTES), self.rpc_port)
        self._runners.append(runner)
        served = Router()
        self.api.add_routes(served, PREFIX, SYSTEM)
        AppRoutes(self).add_routes(served)
        runner, self.port = await listen(application(served, self.keys, MAX_REQUEST_BYTES), self.host, self.port)
        self._runners.append(runner)

    async def _close_listeners(self) -> None:
        while self._runners:
            await self._runners.pop().cleanup()

    async def stop(self) -> None:
        if self._timers is not None:
            self._timers.stop()
        await self._close_listeners()
        await self.engine.stop()
        if self._lock is not None:
            await self._lock.release()
        await self.store.close()
        clients = sys.modules.get("shared.azure_clients")  # Harvest's process-wide credential and Blob clients
        if clients is not None:
            await clients.aclose_all()
        log.info("devhost stopped")

    def _lease_lost(self, why: str) -> None:
        """Stop dispatching at once: no orchestration, activity or timer of this host runs any more."""
        self.lease_lost_why = why
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
        assert self.index is not None
        info = self.index.timers.get(function_name)
        if info is None:
            raise KeyError(f"no timer function named '{function_name}'")
        now = h.utcnow()
        try:
            following = h.iso(next_fire(info.schedule or "", now))
        except ValueError:
            following = h.iso(now)
        log.info("firing timer %s", function_name)
        try:
            await self.engine.invoker.timer(info, past_due=False, last=h.iso(now), next_=following)
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

