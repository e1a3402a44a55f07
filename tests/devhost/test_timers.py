"""Timer triggers on their schedule, and a long history replayed to its end."""

from __future__ import annotations

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


async def test_a_long_sequential_history_replays_to_its_output(azurite: str, task_hub: str) -> None:
    """200 activities in sequence: 201 episodes, each replaying the whole history so far. The bound on
    ``wait_for`` is a hang guard, not a timing assertion."""
    async with running_host(sample_app.create_app(), azurite, task_hub) as host:
        iid = await host.engine.start_instance("chain", "200")
        status = await host.wait_for(iid, 120)
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"] == sum(2 * i for i in range(200))
