"""Timer triggers on their schedule, and replay cost on a long history."""

from __future__ import annotations

import time

import pytest

from ..conftest import eventually, running_host
from . import sample_app


async def test_timer_fires_on_its_ncrontab_schedule(azurite: str, task_hub: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAMPLE_TIMER_SCHEDULE", "* * * * * *")  # every second
    before = len(sample_app.TIMER_CALLS)

    async def calls() -> int:
        return len(sample_app.TIMER_CALLS)

    async with running_host(sample_app.create_app(), azurite, task_hub, fire_timers=True):
        await eventually(calls, lambda n: n > before, 3, "the timer's first firing")  # due within 1 s


async def test_long_sequential_history_replays_quickly(azurite: str, task_hub: str) -> None:
    async with running_host(sample_app.create_app(), azurite, task_hub) as host:
        started = time.perf_counter()
        iid = await host.engine.start_instance("chain", "200")
        status = await host.wait_for(iid, 30)
        elapsed = time.perf_counter() - started
    assert status["output"] == sum(2 * i for i in range(200))
    assert elapsed < 15, elapsed
