"""Timer triggers on their schedule, and replay cost on a long history."""

from __future__ import annotations

import asyncio
import time

import pytest

from devhost.host import LocalHost

from . import sample_app


async def test_timer_fires_on_its_ncrontab_schedule(azurite: str, task_hub: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_TIMER_SCHEDULE", "* * * * * *")  # every second
    before = len(sample_app.TIMER_CALLS)
    host = LocalHost(sample_app.create_app(), connection_string=azurite, task_hub=task_hub, port=0)
    await host.start()
    try:
        for _ in range(150):
            if len(sample_app.TIMER_CALLS) > before:
                break
            await asyncio.sleep(0.02)
    finally:
        await host.stop()
    assert len(sample_app.TIMER_CALLS) > before


async def test_long_sequential_history_replays_quickly(azurite: str, task_hub: str) -> None:
    host = LocalHost(sample_app.create_app(), connection_string=azurite, task_hub=task_hub, port=0,
                     fire_timers=False)
    await host.start()
    try:
        started = time.perf_counter()
        iid = await host.engine.start_instance("chain", "200")
        status = await host.wait_for(iid, 30)
        elapsed = time.perf_counter() - started
    finally:
        await host.stop()
    assert status["output"] == sum(2 * i for i in range(200))
    assert elapsed < 15, elapsed
