"""The production index: Azure AI Search, through the ``azure-search-documents`` SDK, authenticated by
Microsoft Entra ID (the Function App's managed identity, ``DefaultAzureCredential``) — or, where
``HARVEST_SEARCH_API_KEY_SETTING`` names an app setting, by that admin key (the local stand-in; a service
deployed by ``infra/`` has local authentication disabled and refuses keys).

Each index generation is one index, ``{name}-{generation}`` (``shared.index.keys``), made from the
embedder's model and dimensions: key ``id`` (the chunk id, URL-safe base64), filterable ``source_id`` and
``doc_id``, searchable ``text`` and ``title``, ``url`` and provenance, and ``vector`` with an HNSW profile
(cosine). Readers query the *alias* ``{name}`` (index aliases are GA in REST api-version 2026-04-01, which
this SDK speaks); switching a generation in is one alias update, so a query sees the old index or the
new one, never half of one. Documents - Index limits (REST reference, "Add, update or delete documents"):
at most 1000 actions and 16 MB a request — batches are cut to both, and cut in half again on a 413.
A 207 answer is read key by key: keys that failed with a retryable status (409, 422, 429, 5xx) are sent
again, alone, with backoff; keys refused for good (400, 404) are reported. 429 and 503 answers are retried
by azure-core's retry policy, honouring ``Retry-After``; if the service is still throttling when those
retries run out, ``TransientError(retry_after=...)`` asks the orchestrator to wait on a durable timer and
call again — throttling slows a run, it does not fail it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.errors import ConfigError, PermanentError, TransientError
from shared.index.base import Generation, IndexHit, WriteOutcome
from shared.index.keys import decode_key, encode_key, index_name

log = logging.getLogger("harvest.index")
MAX_ACTIONS = 1000
MAX_BYTES = 16 * 1024 * 1024
BATCH_BYTES = 15 * 1024 * 1024  # what we aim for: under the limit, with room for the envelope
RETRYABLE = {409, 422, 429, 500, 502, 503, 504}
KEY_ROUNDS = 4  # rounds of re-sending a 207's failed keys
PROFILE, ALGORITHM = "harvest-hnsw", "harvest-hnsw-cosine"
MARKER = re.compile(r"\binstance ([0-9a-f]{32})\b")
LIST_PAGE = 1000


def _retry_after(exc: HttpResponseError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    for name, scale in (("retry-after-ms", 1000.0), ("x-ms-retry-after-ms", 1000.0), ("Retry-After", 1.0)):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return 10.0


def _raise(exc: HttpResponseError, what: str) -> None:
    status = exc.status_code or 0
    if status in (401, 403):
        raise ConfigError(f"Azure AI Search refused {what} ({status}): grant the app's identity "
                          "'Search Index Data Contributor' and 'Search Service Contributor'") from exc
    if status in (429, 503) or status >= 500:
        raise TransientError(f"Azure AI Search {what}: {status} {exc.reason}",
                             retry_after=_retry_after(exc) if status in (429, 503) else None) from exc
    raise PermanentError(f"Azure AI Search {what}: {status} {exc.message}"[:500]) from exc


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class AzureSearchTarget:
    kind = "azure-search"

    def __init__(self, endpoint: str, name: str = "chunks", *, api_key: str | None = None,
                 credential: Any | None = None, batch_actions: int = MAX_ACTIONS, retry_total: int = 6,
                 key_backoff: float = 0.5) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.name = name
        self.locator = self.endpoint.lower()  # the ledger's name: the same service however it is spelt
        self.batch_actions = min(batch_actions, MAX_ACTIONS)
        self.key_backoff = key_backoff
        self._api_key, self._credential = api_key, credential
        self._options = {"retry_total": retry_total}
        self._index_client: Any = None
        self._clients: dict[str, Any] = {}

    # -- clients ----------------------------------------------------------------------------------
    def _auth(self) -> Any:
        if self._api_key:
            from azure.core.credentials import AzureKeyCredential

            return AzureKeyCredential(self._api_key)
        if self._credential is None:
            from shared import azure_clients

            self._credential = azure_clients.credential()
        return self._credential

    def _indexes(self) -> Any:
        if self._index_client is None:
            from azure.search.documents.indexes.aio import SearchIndexClient

            self._index_client = SearchIndexClient(self.endpoint, self._auth(), **self._options)
        return self._index_client

    def _docs(self, index: str) -> Any:
        client = self._clients.get(index)
        if client is None:
            from azure.search.documents.aio import SearchClient

            client = self._clients[index] = SearchClient(self.endpoint, index, self._auth(), **self._options)
        return client

    async def close(self) -> None:
        for client in [*self._clients.values(), self._index_client]:
            if client is not None:
                await client.close()
        self._clients, self._index_client = {}, None

    # -- definition -------------------------------------------------------------------------------
    def physical(self, generation: Generation, *, active: bool) -> str:
        return index_name(self.name, generation.id)

    def definition(self, physical: str, generation: Generation, instance: str) -> Any:
        from azure.search.documents.indexes.models import (
            HnswAlgorithmConfiguration,
            HnswParameters,
            SearchableField,
            SearchField,
            SearchFieldDataType,
            SearchIndex,
            SimpleField,
            VectorSearch,
            VectorSearchProfile,
        )

        text = SearchFieldDataType.STRING
        fields = [
            SimpleField(name="id", type=text, key=True),
            SimpleField(name="chunk_id", type=text, filterable=True, sortable=True),
            SimpleField(name="doc_id", type=text, filterable=True),
            SimpleField(name="source_id", type=text, filterable=True, facetable=True),
            SearchableField(name="title", type=text),
            SimpleField(name="url", type=text),
            SimpleField(name="ordinal", type=SearchFieldDataType.INT32, sortable=True),
            SearchableField(name="text", type=text),
            SimpleField(name="content_hash", type=text, filterable=True),
            SimpleField(name="model", type=text, filterable=True),
            SimpleField(name="run_id", type=text, filterable=True),
            SimpleField(name="created_at", type=text, sortable=True),
            SearchField(name="vector", type="Collection(Edm.Single)",
                        searchable=True, vector_search_dimensions=generation.dim,
                        vector_search_profile_name=PROFILE),
        ]
        vectors = VectorSearch(
            algorithms=[HnswAlgorithmConfiguration(name=ALGORITHM, parameters=HnswParameters(metric="cosine"))],
            profiles=[VectorSearchProfile(name=PROFILE, algorithm_configuration_name=ALGORITHM)])
        return SearchIndex(name=physical, fields=fields, vector_search=vectors,
                           description=f"Harvest chunks of {generation.model_id} ({generation.dim} dimensions); "
                                       f"instance {instance}")

    async def instance(self, physical: str) -> str | None:
        try:
            index = await self._indexes().get_index(physical)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            _raise(exc, f"get index {physical}")
        found = MARKER.search(index.description or "")
        return found.group(1) if found else "unmarked"

    async def ensure(self, physical: str, generation: Generation) -> str:
        """Create the index (``If-None-Match: *`` when it is absent, so of two writers creating it at once one
        wins and the other takes the winner's marker: "Manage concurrency in Azure AI Search" — a failed
        precondition answers 412) or mark an unmarked one."""
        from azure.core import MatchConditions

        current = await self.instance(physical)
        if current not in (None, "unmarked"):
            return str(current)
        instance = uuid.uuid4().hex
        condition = MatchConditions.IfMissing if current is None else MatchConditions.Unconditionally
        try:
            await self._indexes().create_or_update_index(self.definition(physical, generation, instance),
                                                         match_condition=condition)
        except HttpResponseError as exc:
            if current is None and exc.status_code in (409, 412):  # made by another writer meanwhile
                made = await self.instance(physical)
                if made not in (None, "unmarked"):
                    return str(made)
            _raise(exc, f"create index {physical}")
        return instance

    async def drop(self, physical: str) -> None:
        try:
            await self._indexes().delete_index(physical)
        except ResourceNotFoundError:
            pass
        except HttpResponseError as exc:
            _raise(exc, f"delete index {physical}")
        client = self._clients.pop(physical, None)
        if client is not None:
            await client.close()

    async def promote(self, physical: str, generation: Generation) -> None:
        from azure.search.documents.indexes.models import SearchAlias

        try:
            await self._indexes().create_or_update_alias(SearchAlias(name=self.name, indexes=[physical]))
        except HttpResponseError as exc:
            _raise(exc, f"point alias {self.name} at {physical}")

    async def reader_index(self) -> str | None:
        try:
            alias = await self._indexes().get_alias(self.name)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            _raise(exc, f"get alias {self.name}")
        return alias.indexes[0] if alias.indexes else None

    # -- documents --------------------------------------------------------------------------------
    def _batches(self, actions: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Cut ``actions`` into requests of at most ``batch_actions`` actions and ``BATCH_BYTES`` of JSON."""
        out: list[list[dict[str, Any]]] = []
        batch: list[dict[str, Any]] = []
        size = 0
        for action in actions:
            n = len(json.dumps(action, separators=(",", ":"))) + 1
            if batch and (len(batch) >= self.batch_actions or size + n > BATCH_BYTES):
                out.append(batch)
                batch, size = [], 0
            batch.append(action)
            size += n
        if batch:
            out.append(batch)
        return out

    async def _send(self, index: str, actions: list[dict[str, Any]]) -> dict[str, tuple[bool, int, str]]:
        """One request (cut in half on a 413); ``key → (succeeded, status, message)``."""
        from azure.search.documents import RequestEntityTooLargeError
        from azure.search.documents.models import IndexDocumentsBatch

        batch = IndexDocumentsBatch()
        for action in actions:
            kind = action.pop("@search.action")
            {"upload": batch.add_upload_actions, "delete": batch.add_delete_actions}[kind]([action])
            action["@search.action"] = kind
        try:
            results = await self._docs(index).index_documents(batch)
        except (RequestEntityTooLargeError, TypeError) as exc:
            # The SDK (12.0.0, aio) halves a batch on 413 itself, but its call for the second half passes
            # ``actions=`` where it takes ``batch=`` (TypeError): halve it here instead (re-sending the first
            # half is harmless: an upload or delete of the same key is idempotent).
            if isinstance(exc, TypeError) and "batch" not in str(exc):
                raise
            if len(actions) == 1:
                key = actions[0]["id"]
                return {key: (False, 413, "the document is larger than a request may be (16 MB)")}
            half = len(actions) // 2
            return {**await self._send(index, actions[:half]), **await self._send(index, actions[half:])}
        except HttpResponseError as exc:
            _raise(exc, f"index documents into {index}")
        return {r.key: (bool(r.succeeded), int(r.status_code or 0), r.error_message or "") for r in results}

    async def _write(self, index: str, actions: list[dict[str, Any]]) -> WriteOutcome:
        outcome = WriteOutcome()
        by_key = {a["id"]: a for a in actions}
        todo = list(actions)
        for round_ in range(KEY_ROUNDS + 1):
            again: list[dict[str, Any]] = []
            for batch in self._batches(todo):
                for key, (ok, status, message) in (await self._send(index, batch)).items():
                    chunk_id = decode_key(key)
                    if ok:
                        outcome.acked.add(chunk_id)
                        outcome.failed.pop(chunk_id, None)
                    else:
                        outcome.failed[chunk_id] = f"{status} {message}".strip()
                        if status in RETRYABLE and key in by_key:
                            again.append(by_key[key])
            if not again or round_ == KEY_ROUNDS:
                break
            log.info("index %s: %d key(s) failed with a retryable status; sending them again", index, len(again))
            await asyncio.sleep(self.key_backoff * 2**round_)
            todo = again
        return outcome

    async def upsert(self, physical: str, rows: list[dict[str, Any]]) -> WriteOutcome:
        actions = [{"@search.action": "upload", "id": encode_key(r["chunk_id"]), **r} for r in rows]
        return await self._write(physical, actions)

    async def delete(self, physical: str, chunk_ids: list[str]) -> WriteOutcome:
        return await self._write(physical, [{"@search.action": "delete", "id": encode_key(c)} for c in chunk_ids])

    async def count(self, physical: str) -> int:
        try:
            return int(await self._docs(physical).get_document_count())
        except ResourceNotFoundError:
            return 0
        except HttpResponseError as exc:
            _raise(exc, f"count documents of {physical}")
        return 0

    async def chunk_ids(self, physical: str, source_id: str | None = None) -> set[str]:
        """Every chunk id, paged by key range (``$skip`` stops at 100,000 on the service)."""
        out: set[str] = set()
        last: str | None = None
        client = self._docs(physical)
        while True:
            terms = [f"source_id eq {_quote(source_id)}"] if source_id else []
            if last is not None:
                terms.append(f"chunk_id gt {_quote(last)}")
            try:
                results = await client.search(search_text="*", filter=" and ".join(terms) or None,
                                              select=["chunk_id"], order_by=["chunk_id asc"], top=LIST_PAGE)
                page = [r["chunk_id"] async for r in results]
            except ResourceNotFoundError:
                return out
            except HttpResponseError as exc:
                _raise(exc, f"list documents of {physical}")
            out.update(page)
            if len(page) < LIST_PAGE:
                return out
            last = page[-1]

    async def search(self, vector: list[float], text: str | None, k: int, *,
                     source_id: str | None = None, index: str | None = None) -> list[IndexHit]:
        from azure.search.documents.models import VectorizedQuery

        query = VectorizedQuery(vector=vector, k_nearest_neighbors=k, fields="vector")
        try:
            results = await self._docs(index or self.name).search(
                search_text=text if text and text.strip() else None, vector_queries=[query], top=k,
                filter=f"source_id eq {_quote(source_id)}" if source_id else None,
                select=["chunk_id", "doc_id", "source_id", "url", "title", "ordinal", "text", "model"])
            rows = [dict(r) async for r in results]
        except ResourceNotFoundError:
            return []
        except HttpResponseError as exc:
            _raise(exc, f"search {index or self.name}")
        return [IndexHit(score=float(r.pop("@search.score", 0.0) or 0.0),
                         chunk={k2: v for k2, v in r.items() if not k2.startswith("@")}) for r in rows]
