"""Pacing Azure OpenAI requests by the deployment's quota, as the service reports it in its headers.

An Azure OpenAI deployment has a tokens-per-minute (TPM) and a requests-per-minute (RPM) quota, and
every answer says what is left: ``x-ratelimit-remaining-tokens`` / ``-requests`` (and, on some API
versions, ``x-ratelimit-limit-tokens`` / ``-requests``); over quota it answers 429 with ``retry-after-ms``.
One ``Pacer`` per deployment and process (``pacer_for``) shares what the answers say among every request:

- **Token buckets** (one for tokens, one for requests) refill at the quota's rate. With the quota ``Q``
  per window ``W`` (60 s) the bucket holds at most ``B = Q * burst`` and refills at ``(Q - B) / W``, so
  whatever the pacer sends in any window of ``W`` seconds is at most ``B + (Q - B) = Q``: the service's
  window is never overrun, and over two windows the pacer uses ``1 - burst / 2`` of the quota. A request
  waits until its estimated cost (the tokens counted with cl100k) is in the bucket.
- **The reported budget wins**: after each answer the bucket is cut to what the service said remains,
  less the cost of our requests sent after the one that carried the report (so other clients of the
  deployment slow us down too). Without ``x-ratelimit-limit-*`` the quota is estimated as
  ``remaining + what we sent in the window up to that request``, and lowered after a 429.
- **Concurrency (AIMD)**: the first request goes alone (a probe). If its answer carries quota headers,
  concurrency starts at 1 and grows by one per round of successes while budget is left, up to the ceiling
  (``HARVEST_AZURE_OPENAI_CONCURRENCY``), and halves on a 429 (once per round trip). A 429 also pauses
  every request for its ``retry-after``.
- **No quota headers** (an older gateway, a proxy that strips them): the fixed concurrency ceiling and
  the 429 pause, the behaviour before pacing.

Why not ``aiolimiter.AsyncLimiter`` (used for web politeness elsewhere): its rate is fixed when it is
built, while here the quota is learned from the first answer (and re-estimated); the level must be set
from outside (to the service's reported budget) and its state read back; and ``acquire`` refuses an amount
above the burst, while one input can be larger than a small quota's burst. The bucket below is twenty lines
and takes an injected clock, so its decisions are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

QUOTA_WINDOW = 60.0
BURST_FRACTION = 0.05
HEADERS = {"tokens": ("x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens"),
           "requests": ("x-ratelimit-remaining-requests", "x-ratelimit-limit-requests")}


@dataclass
class Bucket:
    """A token bucket with debt: a cost up to ``capacity`` needs that much in it; a larger one, a full bucket."""

    capacity: float
    rate: float  # per second
    level: float
    stamp: float

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self, cost: float, now: float) -> float:
        self.refill(now)
        need = min(cost, self.capacity) - self.level
        return 0.0 if need <= 0 else need / self.rate

    def take(self, cost: float, now: float) -> None:
        self.refill(now)
        self.level -= cost

    def clamp(self, ceiling: float, now: float) -> None:
        self.refill(now)
        self.level = min(self.level, ceiling)


class Quota:
    """One quota (tokens or requests): the limit (reported or estimated), its bucket, and what we sent."""

    def __init__(self, name: str, window: float, burst: float) -> None:
        self.name, self.window, self.burst = name, window, burst
        self.limit: float | None = None
        self.estimated = False
        self.bucket: Bucket | None = None
        self.remaining: float | None = None  # as last reported
        self._sent: deque[tuple[int, float, float]] = deque()  # (seq, sent at, cost) within the window

    def used(self, now: float, upto: int | None = None) -> float:
        self._forget_before(now - self.window)
        return sum(cost for seq, _, cost in self._sent if upto is None or seq <= upto)

    def _forget_before(self, cutoff: float) -> None:
        while self._sent and self._sent[0][1] <= cutoff:
            self._sent.popleft()

    def wait(self, cost: float, now: float) -> float:
        return 0.0 if self.bucket is None else self.bucket.wait(cost, now)

    def send(self, seq: int, cost: float, now: float) -> None:
        self._forget_before(now - self.window)  # only the window is kept: memory stays flat on long runs
        self._sent.append((seq, now, cost))
        if self.bucket is not None:
            self.bucket.take(cost, now)

    def report(self, remaining: float | None, limit: float | None, seq: int, later: float, now: float, *,
               accepted: bool = True) -> None:
        """An answer to request ``seq`` said ``remaining`` (and maybe ``limit``); ``later``: our cost sent since.

        Only an accepted request's answer estimates the limit (a 429's says the window is full, not how big)."""
        if remaining is None and limit is None:
            return
        if limit is not None:
            self._configure(limit, now, estimated=False)
        elif remaining is not None and accepted and (self.limit is None or self.estimated):
            estimate = remaining + self.used(now, upto=seq)
            if self.limit is None or estimate > self.limit:
                self._configure(estimate, now, estimated=True)
        if remaining is not None:
            self.remaining = remaining
            if self.bucket is not None:
                self.bucket.clamp(remaining - later, now)

    def throttled(self, now: float) -> None:
        """A 429: an estimated limit was too high: it is at most what we have in the window now."""
        if self.estimated and self.limit is not None:
            used = self.used(now)
            if 0 < used < self.limit:
                self._configure(used, now, estimated=True)

    def forget(self) -> None:
        self.limit, self.bucket, self.remaining, self.estimated = None, None, None, False

    def _configure(self, limit: float, now: float, *, estimated: bool) -> None:
        limit = max(1.0, limit)
        if limit == self.limit and self.bucket is not None:
            self.estimated = estimated
            return
        self.limit, self.estimated = limit, estimated
        capacity = max(1.0, limit * self.burst)
        rate = max(limit - capacity, limit / 2) / self.window
        if self.bucket is None:  # what we already sent in the window counts against the first burst
            self.bucket = Bucket(capacity, rate, capacity - self.used(now), now)
        else:
            self.bucket.refill(now)
            self.bucket.capacity, self.bucket.rate = capacity, rate
            self.bucket.level = min(self.bucket.level, capacity)


@dataclass(frozen=True)
class Ticket:
    seq: int
    cost: int
    sent: float


def _header(headers: Mapping[str, str] | None, name: str) -> float | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class Pacer:
    """The process-wide pacer of one deployment; safe to use from several threads and event loops."""

    def __init__(self, ceiling: int, *, window: float = QUOTA_WINDOW, burst: float = BURST_FRACTION,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ceiling = max(1, ceiling)
        self.clock = clock
        self.tokens = Quota("tokens", window, burst)
        self.requests = Quota("requests", window, burst)
        self.mode = "probe"  # until the first answer: "paced" (quota headers) or "fixed" (none)
        self.limit = 1.0  # concurrency (AIMD), in "paced" mode
        self.in_flight = 0
        self.paused_until = 0.0
        self.throttles = self.decreases = self.increases = 0
        self._last_decrease = float("-inf")
        self._seq = 0
        self._pending: dict[int, Ticket] = {}
        self._lock = threading.Lock()
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def concurrency(self) -> int:
        if self.mode == "probe":
            return 1
        return self.ceiling if self.mode == "fixed" else min(self.ceiling, max(1, int(self.limit)))

    def request_token_cap(self) -> int | None:
        """The most tokens one request should carry: the token bucket's burst, once the quota is known."""
        with self._lock:
            bucket = self.tokens.bucket
            return int(bucket.capacity) if bucket is not None and self.mode == "paced" else None

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {"mode": self.mode, "concurrency": self.concurrency, "limit": round(self.limit, 3),
                    "in_flight": self.in_flight, "throttles": self.throttles, "decreases": self.decreases,
                    "increases": self.increases, "paused_until": self.paused_until,
                    "tpm": self.tokens.limit, "tpm_estimated": self.tokens.estimated,
                    "rpm": self.requests.limit, "rpm_estimated": self.requests.estimated}

    async def acquire(self, cost: int, *, divisible: bool = False) -> Ticket | None:
        """Wait for a pause to end, a concurrency slot and the budget for ``cost`` tokens; then send.

        None instead, for a ``divisible`` request larger than the token burst (learned while it waited):
        the caller splits it."""
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                now = self.clock()
                wait: float | None = self.paused_until - now
                if wait is not None and wait <= 0:
                    if self.in_flight >= self.concurrency:
                        wait = None  # until an answer frees a slot
                    else:
                        bucket = self.tokens.bucket
                        if divisible and bucket is not None and self.mode == "paced" and cost > bucket.capacity:
                            return None
                        wait = max(self.tokens.wait(cost, now), self.requests.wait(1, now))
                        if wait <= 0:
                            return self._send(cost, now)
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
            try:
                await asyncio.wait([waiter], timeout=wait)
            finally:
                with self._lock:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)

    def _send(self, cost: int, now: float) -> Ticket:
        self._seq += 1
        ticket = Ticket(self._seq, cost, now)
        self._pending[ticket.seq] = ticket
        self.in_flight += 1
        self.tokens.send(ticket.seq, cost, now)
        self.requests.send(ticket.seq, 1, now)
        return ticket

    def release(self, ticket: Ticket, *, status: int | None, headers: Mapping[str, str] | None = None,
                pause: float | None = None) -> None:
        """The answer to ``ticket``: its HTTP status (None: no answer), headers, and a 429's pause."""
        with self._lock:
            now = self.clock()
            self.in_flight -= 1
            self._pending.pop(ticket.seq, None)
            values = {name: (_header(headers, remaining), _header(headers, limit))
                      for name, (remaining, limit) in HEADERS.items()}
            reported = any(v is not None for pair in values.values() for v in pair)
            if reported:
                if self.mode != "paced":
                    self.mode, self.limit = "paced", 1.0
                later = [t for seq, t in self._pending.items() if seq > ticket.seq]
                ok = status is not None and status < 400
                self.tokens.report(*values["tokens"], ticket.seq, sum(t.cost for t in later), now, accepted=ok)
                self.requests.report(*values["requests"], ticket.seq, len(later), now, accepted=ok)
            elif status == 200:  # an answer without quota headers: the fixed ceiling, no buckets
                self.mode = "fixed"
                self.tokens.forget()
                self.requests.forget()
            if status == 429:
                self.throttles += 1
                if pause is not None:
                    self.paused_until = max(self.paused_until, now + pause)
                if self.mode == "paced":
                    self.tokens.throttled(now)
                    self.requests.throttled(now)
                    if ticket.sent >= self._last_decrease:  # once per round trip, not once per answer
                        self.limit, self._last_decrease = max(1.0, self.limit / 2), now
                        self.decreases += 1
            elif (status == 200 and self.mode == "paced" and self.limit < self.ceiling
                  and self._budget_left(ticket, values)):
                self.limit = min(float(self.ceiling), self.limit + 1 / max(1.0, self.limit))
                self.increases += 1
            waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.get_loop().call_soon_threadsafe(_wake, waiter)

    @staticmethod
    def _budget_left(ticket: Ticket, values: dict[str, tuple[float | None, float | None]]) -> bool:
        tokens, requests = values["tokens"][0], values["requests"][0]
        return (tokens is None or tokens >= ticket.cost) and (requests is None or requests >= 1)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_PACERS: dict[tuple[str, str], tuple[Pacer, int]] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(endpoint: str, deployment: str, *, ceiling: int, window: float = QUOTA_WINDOW,
              burst: float = BURST_FRACTION) -> Pacer:
    """The process's pacer of a deployment (its quota is shared by every embedder of the process)."""
    key = (endpoint.rstrip("/").lower(), deployment)
    with _PACERS_LOCK:
        pacer, users = _PACERS.get(key) or (Pacer(ceiling, window=window, burst=burst), 0)
        pacer.ceiling = max(1, ceiling)  # the latest setting wins
        _PACERS[key] = (pacer, users + 1)
        return pacer


def release_pacer(endpoint: str, deployment: str) -> None:
    """An embedder is closed; the pacer goes with its last user (a new one relearns the quota)."""
    key = (endpoint.rstrip("/").lower(), deployment)
    with _PACERS_LOCK:
        pacer, users = _PACERS.get(key) or (None, 0)
        if pacer is not None:
            if users <= 1:
                del _PACERS[key]
            else:
                _PACERS[key] = (pacer, users - 1)
