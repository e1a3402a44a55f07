"""Pacing by the deployment's quota: the fake enforces a TPM/RPM quota like the service; the pacer keeps under it."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from shared.embedding.azure_openai import AzureOpenAIEmbedder
from shared.embedding.pacing import Bucket, Pacer, Quota
from tests.shared.embedding.fake_aoai import FakeAzureOpenAI, expected_vectors
from tests.shared.embedding.test_azure_openai import TokenCredential

WORDS = ["river", "stone", "maple", "harbour", "lantern", "meadow", "copper", "violet", "summit", "orchard",
         "glacier", "falcon"]


def texts(n: int, words: int = 12, tag: str = "") -> list[str]:
    """``n`` distinct passages of about ``words`` words."""
    return [f"{tag}{i}: " + " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words)) for i in range(n)]


def make(fake: FakeAzureOpenAI, **kwargs: Any) -> AzureOpenAIEmbedder:
    kwargs.setdefault("backoff", 0.05)
    return AzureOpenAIEmbedder(endpoint=fake.endpoint, deployment=fake.deployment, model=fake.model,
                               credential=TokenCredential(fake, 3600), **kwargs)


def embed_concurrently(embedder: AzureOpenAIEmbedder, calls: list[list[str]]) -> tuple[list[Any], list[Exception]]:
    """Each call on its own thread (as parallel embed activities would); the vectors and the failures."""
    results: list[Any] = [None] * len(calls)
    failures: list[Exception] = []

    def work(i: int) -> None:
        try:
            results[i] = embedder.embed_passages(calls[i])
        except Exception as exc:  # collected: the test asserts there are none
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, failures


@pytest.fixture
def quota_fake() -> Iterator[FakeAzureOpenAI]:
    with FakeAzureOpenAI(tpm=1200, rpm=40, window=2.0) as server:
        yield server


# -- the fake enforces the quota like the service ------------------------------------------------


def words(n: int) -> str:
    return " ".join(["word"] * n)  # n cl100k tokens


def post(fake: FakeAzureOpenAI, inputs: list[str]) -> tuple[int, dict[str, str], dict[str, Any]]:
    fake.api_key = "k"
    request = urllib.request.Request(
        f"{fake.endpoint}/openai/deployments/{fake.deployment}/embeddings?api-version=2024-10-21", method="POST",
        data=json.dumps({"input": inputs}).encode(), headers={"api-key": "k", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read())


def test_fake_answers_429_with_the_services_shape_and_headers() -> None:
    with FakeAzureOpenAI(tpm=100, rpm=3, window=3.0) as fake:
        status, headers, _ = post(fake, [words(60)])
        assert status == 200
        assert (headers["x-ratelimit-remaining-tokens"], headers["x-ratelimit-limit-tokens"]) == ("40", "100")
        assert (headers["x-ratelimit-remaining-requests"], headers["x-ratelimit-limit-requests"]) == ("2", "3")
        time.sleep(1.0)
        status, headers, body = post(fake, [words(50)])  # 60 + 50 > 100: refused, and not counted
        assert status == 429 and body["error"]["code"] == "429" and "retry after" in body["error"]["message"]
        assert headers["x-ratelimit-remaining-tokens"] == "40"
        wait_ms = int(headers["retry-after-ms"])  # until the 60 tokens leave the window
        assert 1000 <= wait_ms <= 2000 and int(headers["retry-after"]) == -(-wait_ms // 1000)
        assert post(fake, [words(40)])[0] == 200  # exactly the rest fits
        time.sleep(wait_ms / 1000 + 0.05)  # the 60 have left the window; the 40 are still in it
        status, headers, _ = post(fake, [words(50)])
        assert status == 200 and headers["x-ratelimit-remaining-tokens"] == "10"
        assert fake.throttled == 1
    with FakeAzureOpenAI(tpm=1000, rpm=2, window=5.0, limit_headers=False) as fake:
        assert [post(fake, ["a"])[0] for _ in range(3)] == [200, 200, 429]  # the request quota
        assert "x-ratelimit-limit-tokens" not in post(fake, ["a"])[1]
    with FakeAzureOpenAI(tpm=1000, window=5.0, rate_headers=False) as fake:
        assert not any(h.startswith("x-ratelimit") for h in post(fake, ["a"])[1])


# -- the bucket: what it lets through in any window, without sleeping ----------------------------


def test_the_bucket_never_lets_more_than_the_quota_into_any_window() -> None:
    quota = Quota("tokens", window=60.0, burst=0.05)
    quota.send(0, 1000, 0.0)  # the probe, sent before the quota was known
    quota.report(remaining=99_000, limit=100_000, seq=0, later=0, now=0.0)
    sent, now = [(0.0, 1000)], 0.0
    for seq, cost in enumerate([3000, 700, 5000, 4200, 1800] * 60, start=1):  # more than three windows can take
        now += quota.wait(cost, now)
        quota.send(seq, cost, now)
        sent.append((now, cost))
    assert now > 150  # the run spans more than two windows
    worst = max(sum(c for t, c in sent if start <= t < start + 60.0) for start, _ in sent)
    assert 0.95 * 100_000 <= worst <= 100_000
    in_two_windows = sum(c for t, c in sent if t < 120.0)
    assert in_two_windows >= 0.95 * 200_000  # 1 - burst / 2 of the quota, less the request waiting at the end
    assert len(quota._sent) == sum(1 for t, _ in sent if t > now - 60.0)  # what it remembers: one window


def test_the_reported_budget_caps_the_bucket() -> None:
    bucket = Bucket(capacity=500, rate=10, level=500, stamp=0.0)
    quota = Quota("tokens", window=60.0, burst=0.05)
    quota.bucket, quota.limit = bucket, 10_000
    quota.report(remaining=120, limit=None, seq=3, later=100, now=1.0)  # other clients used the rest
    assert bucket.level == 20 and quota.wait(60, 1.0) == pytest.approx(4.0)  # 40 more tokens at 10 per second
    quota.estimated = True
    quota.throttled(now=1.0)  # nothing of ours in the window: the estimate is not lowered to zero
    assert quota.limit == 10_000


def test_the_quota_is_estimated_without_limit_headers() -> None:
    quota = Quota("tokens", window=60.0, burst=0.05)
    quota.send(1, 600, 0.0)
    quota.report(remaining=9_400, limit=None, seq=1, later=0, now=0.1)
    assert quota.limit == 10_000 and quota.estimated
    assert quota.bucket is not None and quota.bucket.level == -100  # the burst less what is already in the window
    assert quota.bucket.rate == pytest.approx(9500 / 60)
    quota.send(2, 3000, 1.0)
    quota.throttled(now=1.2)  # a 429 although the estimate said there was room: at most what we sent
    assert quota.limit == 3600


# -- the pacer's state: AIMD, the pause, the fallback --------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_concurrency_grows_halves_on_429_and_grows_again() -> None:
    clock = Clock()
    pacer = Pacer(8, window=60.0, clock=clock)
    quota = {"x-ratelimit-remaining-tokens": "90000", "x-ratelimit-limit-tokens": "100000"}

    async def round_trip(status: int = 200, headers: dict[str, str] | None = None, pause: float | None = None) -> None:
        tickets = [await pacer.acquire(10) for _ in range(pacer.concurrency)]
        clock.now += 0.05
        for ticket in tickets:
            pacer.release(ticket, status=status, headers=quota if headers is None else headers, pause=pause)

    async def scenario() -> list[int]:
        seen = [pacer.concurrency]  # the probe: one request until an answer says what the quota is
        for _ in range(6):
            await round_trip()
            seen.append(pacer.concurrency)
        await round_trip(429, {**quota, "x-ratelimit-remaining-tokens": "0"}, pause=0.5)  # all of a round: halved once
        seen.append(pacer.concurrency)
        assert pacer.paused_until == pytest.approx(clock.now + 0.5)
        clock.now += 0.5
        for _ in range(4):
            await round_trip()
            seen.append(pacer.concurrency)
        return seen

    seen = asyncio.run(scenario())
    assert seen[0] == 1 and all(a <= b for a, b in itertools.pairwise(seen[:7])) and seen[6] >= 5, seen
    assert seen[7] == seen[6] // 2 and seen[-1] > seen[7], seen  # halved once for the whole round, then regrown
    state = pacer.state()
    assert (state["mode"], state["tpm"], state["tpm_estimated"], state["decreases"]) == ("paced", 100_000, False, 1)
    assert state["throttles"] == seen[6] and state["in_flight"] == 0


def test_no_budget_left_means_no_growth() -> None:
    clock = Clock()
    pacer = Pacer(8, clock=clock)

    async def scenario() -> None:
        for _ in range(5):
            ticket = await pacer.acquire(100)
            pacer.release(ticket, status=200, headers={"x-ratelimit-remaining-tokens": "50",
                                                        "x-ratelimit-limit-tokens": "100000"})
            clock.now += 1.0  # the bucket refills

    asyncio.run(scenario())
    assert pacer.mode == "paced" and pacer.concurrency == 1 and pacer.increases == 0


def test_answers_without_quota_headers_keep_the_fixed_ceiling() -> None:
    pacer = Pacer(5, clock=Clock())

    async def scenario() -> None:
        assert pacer.concurrency == 1  # the probe
        pacer.release(await pacer.acquire(10), status=200, headers={"content-type": "application/json"})
        assert pacer.concurrency == 5
        tickets = [await pacer.acquire(10_000_000) for _ in range(5)]  # no bucket: cost does not matter
        for ticket in tickets:
            pacer.release(ticket, status=429, headers={}, pause=0.2)

    asyncio.run(scenario())
    assert (pacer.mode, pacer.concurrency, pacer.decreases, pacer.throttles) == ("fixed", 5, 0, 5)
    assert pacer.request_token_cap() is None and pacer.tokens.bucket is None


# -- end to end: the embedder against the fake's quota ---------------------------------------------


def test_many_concurrent_calls_stay_within_a_small_quota(quota_fake: FakeAzureOpenAI) -> None:
    calls = [texts(8, tag=f"call {c} ") for c in range(16)]
    e = make(quota_fake, concurrency=4, quota_window=quota_fake.window)
    try:
        results, failures = embed_concurrently(e, calls)
        state, cap = e.pacer.state(), e.pacer.request_token_cap()
    finally:
        e.close()
    assert failures == []
    for call, vectors in zip(calls, results, strict=True):
        np.testing.assert_allclose(vectors, expected_vectors(call, 1536), atol=1e-6)
    accepted = [t for r in quota_fake.requests if r.status == 200 for t in r.inputs]
    assert sorted(accepted) == sorted(t for call in calls for t in call)  # every input embedded exactly once
    total = sum(r.tokens for r in quota_fake.requests if r.status == 200)
    assert total > 2 * quota_fake.tpm  # the run needed more than two windows of quota
    assert quota_fake.throttled <= 2, [(r.status, r.tokens) for r in quota_fake.requests]
    assert (state["mode"], state["tpm"], state["rpm"], cap) == ("paced", 1200, 40, 60)
    assert all(r.tokens <= cap for r in quota_fake.requests[4:])  # once the quota is known, requests fit the burst


def test_the_quota_is_learned_from_remaining_headers_alone() -> None:
    with FakeAzureOpenAI(tpm=1200, rpm=40, window=2.0, limit_headers=False) as fake:
        e = make(fake, concurrency=4, quota_window=fake.window)
        try:
            _, failures = embed_concurrently(e, [texts(8, tag=f"call {c} ") for c in range(12)])
            state = e.pacer.state()
        finally:
            e.close()
        assert failures == [] and fake.throttled <= 2
        assert state["tpm_estimated"] and 0.5 * 1200 <= state["tpm"] <= 1200


def test_retry_after_ms_of_a_429_pauses_the_pacer(quota_fake: FakeAzureOpenAI) -> None:
    quota_fake.script = [(429, {"retry-after-ms": "400", "x-ratelimit-remaining-tokens": "0"})]
    e = make(quota_fake, concurrency=4, quota_window=quota_fake.window)
    try:
        e.embed_passages(texts(3))
        state = e.pacer.state()
    finally:
        e.close()
    throttled, retried = quota_fake.requests
    assert (throttled.status, retried.status) == (429, 200)
    assert retried.started - throttled.finished >= 0.39  # waited the 400 ms the service asked for
    assert state["throttles"] == 1 and state["mode"] == "paced"


def test_429s_halve_the_embedders_concurrency_and_successes_raise_it_again(quota_fake: FakeAzureOpenAI) -> None:
    quota_fake.tpm, quota_fake.rpm = 1_000_000, 10_000  # ample: only the scripted 429s throttle
    e = make(quota_fake, concurrency=8, max_inputs=1, quota_window=quota_fake.window)
    try:
        e.embed_passages(texts(30, 3))
        grown = e.pacer.concurrency
        quota_fake.script = [(429, {"retry-after-ms": "20", "x-ratelimit-remaining-tokens": "0"})] * 2
        e.embed_passages(texts(1, 3, tag="x"))
        shrunk = e.pacer.concurrency
        e.embed_passages(texts(30, 3, tag="y"))
        regrown = e.pacer.concurrency
        decreases = e.pacer.decreases
    finally:
        e.close()
    assert grown >= 4 and shrunk <= grown // 2 and regrown > shrunk and decreases == 2, (grown, shrunk, regrown)


def test_without_quota_headers_the_fixed_ceiling_and_retry_after_still_work() -> None:
    with FakeAzureOpenAI(tpm=1500, window=2.0, rate_headers=False) as fake:
        e = make(fake, concurrency=3, quota_window=fake.window)
        calls = [texts(6, tag=f"call {c} ") for c in range(16)]
        try:
            _, failures = embed_concurrently(e, calls)
            state = e.pacer.state()
        finally:
            e.close()
        assert failures == [] and (state["mode"], state["concurrency"], state["decreases"]) == ("fixed", 3, 0)
        accepted = [t for r in fake.requests if r.status == 200 for t in r.inputs]
        assert sorted(accepted) == sorted(t for call in calls for t in call)
        assert fake.throttled >= 1 and state["throttles"] == fake.throttled  # unpaced: it ran into the quota
