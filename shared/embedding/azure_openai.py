"""``azure-openai``: embeddings from an Azure OpenAI deployment (text-embedding-3-small/-large, ada-002).

- **Auth**: Microsoft Entra ID by default — ``DefaultAzureCredential`` (the app's user-assigned managed
  identity in Azure, selected by ``AZURE_CLIENT_ID``; ``az login`` on a laptop) through
  ``azure.identity.aio.get_bearer_token_provider``, which caches the token and fetches a new one before it
  expires. An API key is used only when ``HARVEST_AZURE_OPENAI_API_KEY_SETTING`` names the app setting
  that holds it (in Azure, a Key Vault reference).
- **Async client, synchronous protocol**: the ``Embedder`` protocol is synchronous and is called from
  worker threads (``asyncio.to_thread`` in the pipeline). The embedder owns one event loop on a daemon
  thread where the ``openai`` ``AsyncAzureOpenAI`` client, its connection pool and the token provider
  live; a call submits a coroutine there and waits for it. So one process shares one connection pool, one
  token cache and one concurrency cap (``HARVEST_AZURE_OPENAI_CONCURRENCY`` requests in flight) across
  every thread, and the requests of one call run concurrently — which a sync client per thread would not.
- **Limits**: inputs are counted with ``cl100k_base`` (offline, ``openai_tokens``); a request carries at
  most ``max_inputs`` inputs (service limit 2048) and ``max_request_tokens`` tokens (service limit
  300,000); one input is at most 8191 tokens — a longer passage is an error, never silently truncated.
- **Quota**: requests are paced by the deployment's TPM/RPM quota as the service reports it
  (``x-ratelimit-remaining-*``), by one process-wide ``pacing.Pacer`` per deployment: token buckets at the
  quota's rate, never above the reported budget, concurrency adapting (AIMD) under the
  ``HARVEST_AZURE_OPENAI_CONCURRENCY`` ceiling, and a request never larger than the bucket's burst. Without
  those headers: the fixed concurrency ceiling, as before.
- **Retries**: 429, 408, 5xx, timeouts and connection errors are retried here (the client's own retries
  are off) after ``Retry-After-ms`` / ``Retry-After`` or exponential backoff; a 429 pauses every request
  of the process until its ``Retry-After`` has passed. A wait longer than ``max_retry_wait`` or retries
  running out raise ``TransientError(retry_after=...)`` so the Durable retry policy waits instead.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
import os
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from shared import azure_clients
from shared.embedding.background import BackgroundLoop
from shared.embedding.base import l2_normalize
from shared.embedding.openai_tokens import cl100k
from shared.embedding.pacing import QUOTA_WINDOW, Pacer, pacer_for, release_pacer
from shared.errors import ConfigError, PermanentError, TransientError

log = logging.getLogger("harvest.embedding.azure_openai")

API_VERSION = "2024-10-21"
SCOPE = "https://cognitiveservices.azure.com/.default"
MAX_INPUT_TOKENS = 8191
SERVICE_MAX_INPUTS = 2048
SERVICE_MAX_REQUEST_TOKENS = 300_000
MODEL_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(headers: Mapping[str, str] | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``retry-after`` (seconds or an HTTP date), or None."""
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / scale)
        except ValueError:
            if scale == 1.0:
                try:
                    when = email.utils.parsedate_to_datetime(value).timestamp()
                except (TypeError, ValueError):
                    return None
                return max(0.0, when - (time.time() if now is None else now))
    return None


def plan_batches(counts: Sequence[int], *, max_inputs: int, max_tokens: int) -> list[tuple[int, int]]:
    """Split inputs (their token counts, in order) into ``[start, end)`` requests within both limits."""
    batches: list[tuple[int, int]] = []
    start, tokens = 0, 0
    for i, count in enumerate(counts):
        if i > start and (i - start >= max_inputs or tokens + count > max_tokens):
            batches.append((start, i))
            start, tokens = i, 0
        tokens += count
    if start < len(counts):
        batches.append((start, len(counts)))
    return batches


class AzureOpenAIEmbedder:
    name = "azure-openai"
    max_tokens = MAX_INPUT_TOKENS

    def __init__(
        self,
        *,
        endpoint: str,
        deployment: str,
        model: str = "text-embedding-3-small",
        dimensions: int | None = None,
        api_version: str = API_VERSION,
        api_key: str | None = None,
        credential: Any | None = None,
        concurrency: int = 4,
        max_inputs: int = SERVICE_MAX_INPUTS,
        max_request_tokens: int = SERVICE_MAX_REQUEST_TOKENS,
        max_retries: int = 6,
        max_retry_wait: float = 60.0,
        backoff: float = 1.0,
        timeout: float = 60.0,
        quota_window: float = QUOTA_WINDOW,
    ) -> None:
        if model not in MODEL_DIMS:
            raise ConfigError("unknown model", [{"field": "HARVEST_AZURE_OPENAI_MODEL", "message": f"{model!r}"}])
        native = MODEL_DIMS[model]
        if dimensions is not None and not (model.startswith("text-embedding-3") and 1 <= dimensions <= native):
            raise ConfigError("invalid dimensions", [{"field": "HARVEST_AZURE_OPENAI_DIMENSIONS",
                               "message": f"{model} does not take dimensions={dimensions}"}])
        self.endpoint, self.deployment, self.model = endpoint.rstrip("/"), deployment, model
        self.dimensions = dimensions
        self.dim = dimensions or MODEL_DIMS[model]
        self.model_id = f"azure-openai/{model}@{self.dim}"
        self.api_version, self.timeout = api_version, timeout
        self.concurrency = concurrency
        self.max_inputs = min(max_inputs, SERVICE_MAX_INPUTS)
        self.max_request_tokens = max(MAX_INPUT_TOKENS, min(max_request_tokens, SERVICE_MAX_REQUEST_TOKENS))
        self.max_retries, self.max_retry_wait, self.backoff = max_retries, max_retry_wait, backoff
        self._api_key, self._credential = api_key, credential
        self._owns_credential = credential is None and api_key is None
        self._encoding = cl100k()
        self._loop = BackgroundLoop(f"harvest-{self.name}")
        self._client: Any = None
        self.pacer: Pacer = pacer_for(self.endpoint, deployment, ceiling=concurrency, window=quota_window)
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Any) -> AzureOpenAIEmbedder:
        """Build from ``Settings``; the API key, if any, is read from the app setting named by its setting."""
        api_key = None
        if settings.azure_openai_api_key_setting:
            api_key = os.environ.get(settings.azure_openai_api_key_setting, "").strip()
            if not api_key:
                raise ConfigError("missing API key", [{"field": "HARVEST_AZURE_OPENAI_API_KEY_SETTING", "message":
                                  f"the app setting {settings.azure_openai_api_key_setting} is missing or empty"}])
        return cls(
            endpoint=settings.azure_openai_endpoint,
            deployment=settings.azure_openai_deployment,
            model=settings.azure_openai_model,
            dimensions=settings.azure_openai_dimensions,
            api_version=settings.azure_openai_api_version,
            api_key=api_key,
            concurrency=settings.azure_openai_concurrency,
            max_inputs=settings.azure_openai_max_inputs,
            max_request_tokens=settings.azure_openai_max_request_tokens,
            max_retries=settings.azure_openai_max_retries,
            timeout=settings.azure_openai_timeout,
        )

    # -- the Embedder protocol (synchronous; called from worker threads) --------------------------

    def count_tokens(self, text: str) -> int:
        return len(self._encoding.encode_ordinary(text))

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo = [i for i, text in enumerate(texts) if text.strip()]  # the service refuses empty input
        counts = [self.count_tokens(texts[i]) for i in todo]
        for i, count in zip(todo, counts, strict=True):
            if count > self.max_tokens:
                raise PermanentError(f"text {i} has {count} tokens; {self.model} takes at most {self.max_tokens}")
        if todo:
            cap = self.pacer.request_token_cap()  # within the quota's burst, once the quota is known
            max_tokens = self.max_request_tokens if cap is None else max(1, min(cap, self.max_request_tokens))
            plan = plan_batches(counts, max_inputs=self.max_inputs, max_tokens=max_tokens)
            groups = [([texts[todo[j]] for j in range(a, b)], counts[a:b]) for a, b in plan]
            out[todo] = self._loop.run(self._embed_groups(groups))
        return l2_normalize(out)

    def embed_query(self, text: str) -> np.ndarray:
        tokens = self._encoding.encode_ordinary(text)
        keep = self.max_tokens
        while len(tokens) > self.max_tokens:  # a query is cut to the window; a passage never is
            text = self._encoding.decode(tokens[:keep])  # (decoding may re-tokenise a little longer: re-check)
            tokens, keep = self._encoding.encode_ordinary(text), keep - 8
        vector: np.ndarray = self.embed_passages([text])[0]
        return vector

    def close(self) -> None:
        """Close the HTTP client and credential and stop the loop (the registry keeps embedders for life)."""
        if self._client is not None or self._credential is not None:
            self._loop.run(self._aclose())
        self._loop.stop()
        if not self._closed:
            self._closed = True
            release_pacer(self.endpoint, self.deployment)

    # -- on the embedder's own loop -----------------------------------------------------------------

    async def _aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None
        if self._owns_credential and self._credential is not None:
            self._credential = None
            await azure_clients.aclose_all()  # the process credential of this embedder's own loop

    def _ensure_client(self) -> Any:
        if self._client is None:
            from openai import AsyncAzureOpenAI

            auth: dict[str, Any]
            if self._api_key:
                auth = {"api_key": self._api_key}
            else:
                from azure.identity.aio import get_bearer_token_provider

                if self._credential is None:
                    self._credential = azure_clients.credential()
                auth = {"azure_ad_token_provider": get_bearer_token_provider(self._credential, SCOPE)}
            self._client = AsyncAzureOpenAI(
                azure_endpoint=self.endpoint, azure_deployment=self.deployment, api_version=self.api_version,
                timeout=self.timeout, max_retries=0, **auth,
            )
        return self._client

    async def _embed_groups(self, groups: list[tuple[list[str], list[int]]]) -> np.ndarray:
        tasks = [asyncio.ensure_future(self._request(texts, counts)) for texts, counts in groups]
        try:
            return np.vstack(await asyncio.gather(*tasks))
        finally:
            for task in tasks:
                task.cancel()

    async def _request(self, texts: list[str], counts: list[int]) -> np.ndarray:
        client = self._ensure_client()
        extra = {"dimensions": self.dimensions} if self.dimensions else {}
        attempt = 0
        while True:
            # a slot, the budget, and no 429 pause in force; or None: larger than the quota's burst, so split
            ticket = await self.pacer.acquire(sum(counts), divisible=len(texts) > 1)
            if ticket is None:
                cap = self.pacer.request_token_cap() or self.max_request_tokens
                plan = plan_batches(counts, max_inputs=self.max_inputs, max_tokens=cap)
                return await self._embed_groups([(texts[a:b], counts[a:b]) for a, b in plan])
            answer: tuple[int | None, Any, float | None] = (None, None, None)  # status, headers, pause
            try:
                raw = await client.embeddings.with_raw_response.create(
                    input=texts, model=self.deployment, encoding_format="base64", **extra
                )
                answer = (raw.status_code, raw.headers, None)
            except Exception as exc:
                response = getattr(exc, "response", None)
                answer = (getattr(response, "status_code", None), getattr(response, "headers", None), None)
                status, wait, reason = self._classify(exc)  # raises what is not worth a retry
                attempt += 1
                give_up = attempt > self.max_retries or (wait is not None and wait > self.max_retry_wait)
                delay = wait if wait is not None else min(self.backoff * 2 ** (attempt - 1), 30.0) * random.uniform(
                    0.75, 1.0)
                if status == 429 and not give_up:  # pauses every request of the process (set with the release)
                    answer = (answer[0], answer[1], delay)
            else:
                return self._vectors(raw.parse(), len(texts))
            finally:
                self.pacer.release(ticket, status=answer[0], headers=answer[1], pause=answer[2])
            if give_up:
                raise TransientError(f"Azure OpenAI embeddings: {reason} (after {attempt} attempts)", retry_after=wait)
            log.warning("Azure OpenAI embeddings: %s; retry %d/%d in %.2fs", reason, attempt, self.max_retries, delay)
            await asyncio.sleep(delay)

    def _classify(self, exc: Exception) -> tuple[int, float | None, str]:
        """``(status, retry_after, reason)`` of a retryable failure; anything else is raised as it should be."""
        import openai

        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            if status in RETRY_STATUSES:
                return status, parse_retry_after(exc.response.headers), f"HTTP {status}"
            detail = str(getattr(exc, "message", "") or exc)[:300]
            if status in (401, 403):
                raise TransientError(
                    f"Azure OpenAI refused the credential (HTTP {status}): the identity needs the 'Cognitive Services "
                    f"OpenAI User' role on the account (new role assignments take minutes to apply)"
                ) from None
            if status == 404:
                raise ConfigError("Azure OpenAI deployment not found", [{"field": "HARVEST_AZURE_OPENAI_DEPLOYMENT",
                                  "message": f"no deployment {self.deployment!r} at {self.endpoint}"}]) from None
            if 400 <= status < 500:
                raise PermanentError(f"Azure OpenAI rejected the request (HTTP {status}): {detail}") from None
            raise TransientError(f"Azure OpenAI embeddings: HTTP {status}: {detail}") from None
        if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
            return 0, None, type(exc).__name__
        raise exc

    def _vectors(self, response: Any, expected: int) -> np.ndarray:
        data = sorted(response.data, key=lambda item: item.index)
        if len(data) != expected:
            raise TransientError(f"Azure OpenAI returned {len(data)} vectors for {expected} inputs")
        rows = [
            np.frombuffer(base64.b64decode(item.embedding), dtype="<f4") if isinstance(item.embedding, str)
            else np.asarray(item.embedding, dtype=np.float32)
            for item in data
        ]
        if any(row.shape != (self.dim,) for row in rows):
            raise ConfigError("unexpected vector size", [{"field": "HARVEST_AZURE_OPENAI_MODEL", "message":
                              f"deployment {self.deployment!r} returned {rows[0].shape[0]} dimensions, expected "
                              f"{self.dim}: check that the setting names the deployment's model"}])
        return np.vstack(rows).astype(np.float32, copy=False)
