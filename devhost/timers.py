"""Timer triggers: NCRONTAB schedules (seconds first) fired on time."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import re
from collections.abc import Awaitable, Callable

from croniter import croniter

from .functions import FunctionInfo

log = logging.getLogger("harvest.devhost")


class ScheduleError(ValueError):
    pass


def resolve_schedule(schedule: str) -> str:
    """Resolve a ``%APP_SETTING%`` reference from the environment."""
    m = re.fullmatch(r"%(\w+)%", schedule.strip())
    if not m:
        return schedule.strip()
    value = os.environ.get(m.group(1))
    if not value:
        raise ScheduleError(f"timer schedule refers to app setting {m.group(1)}, which is not set")
    return value.strip()


def next_fire(schedule: str, after: dt.datetime) -> dt.datetime:
    expr = resolve_schedule(schedule)
    if len(expr.split()) != 6:
        raise ScheduleError(f"'{expr}' is not an NCRONTAB expression with six fields (seconds first)")
    try:
        fire: dt.datetime = croniter(expr, after, second_at_beginning=True).get_next(dt.datetime)
        return fire
    except (ValueError, KeyError) as exc:
        raise ScheduleError(f"invalid NCRONTAB schedule '{expr}': {exc}") from exc


class TimerScheduler:
    """One asyncio task per timer function, firing on its schedule."""

    def __init__(self, timers: dict[str, FunctionInfo], fire: Callable[[str], Awaitable[None]],
                 spawn: Callable[..., asyncio.Task[None]]) -> None:
        self.timers = timers
        self.fire = fire
        self.spawn = spawn
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for name, info in self.timers.items():
            self.tasks.append(self.spawn(self._loop(name, info), f"schedule {name}"))

    async def _loop(self, name: str, info: FunctionInfo) -> None:
        if info.run_on_startup:
            self.spawn(self.fire(name), f"timer {name}")
        while True:
            now = dt.datetime.now(dt.UTC)
            try:
                due = next_fire(info.schedule or "", now)
            except ScheduleError as exc:
                log.error("timer %s disabled: %s", name, exc)
                return
            log.info("timer %s next fires at %s", name, due.isoformat())
            await asyncio.sleep(max(0.0, (due - dt.datetime.now(dt.UTC)).total_seconds()))
            self.spawn(self.fire(name), f"timer {name}")

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        self.tasks.clear()
