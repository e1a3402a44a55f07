"""``blob``: the blobs of an Azure Blob Storage container (optionally under a prefix).

Credentials: ``account_url`` (``https://<account>.blob.core.windows.net``) uses managed identity through
``DefaultAzureCredential`` — the way to run in Azure; ``connection_setting`` names the app setting that
holds a connection string (Azurite locally, e.g. ``AzureWebJobsStorage``). The connection string itself
never appears in the manifest.

Discovery lists one page of blobs (``page_size``) per call, in name order; the cursor is the service's
continuation marker. Each blob's ETag is its change hint, so an unchanged blob is never downloaded,
and ``last_modified`` the high-water mark. Every run lists the whole prefix, so blobs that vanished are
tombstoned. ``include``/``exclude`` are globs over the name below ``prefix`` (as for ``folder``).

The SSRF guard does not apply: the account is the operator's own configuration, not a URL found in
content, and in Azure a storage private endpoint legitimately resolves to a private address.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob.aio import ContainerClient
from pydantic import Field, model_validator

from shared import azure_clients
from shared.errors import ConfigError, PermanentError, TransientError
from shared.fetching.auth import SETTING, read_setting
from shared.fetching.http import HttpClient
from shared.models import DocumentRef
from shared.sources.base import DiscoveryPage, Fetched, SourceSpec
from shared.sources.folder import DEFAULT_INCLUDE, glob_match
from shared.sources.parsing import iso, later


class BlobSpec(SourceSpec):
    kind: Literal["blob"] = "blob"
    container: str = Field(pattern=r"^(\$root|[a-z0-9][a-z0-9-]{1,61}[a-z0-9])$")
    prefix: str = ""
    account_url: str | None = Field(default=None, pattern=r"^https?://[^\s?#]+$")
    connection_setting: str | None = Field(default=None, pattern=SETTING)
    include: list[str] = Field(default_factory=lambda: list(DEFAULT_INCLUDE))
    exclude: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_credential(self) -> BlobSpec:
        if (self.account_url is None) == (self.connection_setting is None):
            raise ValueError("set exactly one of account_url (managed identity) and connection_setting")
        return self


class _Clients:
    """The container client of one source, on the process's shared service client and credential
    (``shared.azure_clients``): nothing to close per activity."""

    def __init__(self, spec: BlobSpec) -> None:
        if spec.account_url:
            self.service = azure_clients.blob_service(account_url=spec.account_url)
        else:
            conn = read_setting(spec.connection_setting or "", field=f"sources.{spec.id}.connection_setting")
            try:
                self.service = azure_clients.blob_service(connection_string=conn)
            except ValueError:
                raise ConfigError("invalid source", [{"field": f"sources.{spec.id}.connection_setting",
                                  "message": f"app setting {spec.connection_setting} is not a connection string"}]) \
                    from None
        self.container: ContainerClient = self.service.get_container_client(spec.container)

    async def aclose(self) -> None:
        """Nothing to do: the service client is shared by the process (closed at shutdown)."""


def _translate(exc: Exception, what: str) -> Exception:
    if isinstance(exc, ResourceNotFoundError):
        return PermanentError(f"{what}: not found")
    if isinstance(exc, ClientAuthenticationError):
        return PermanentError(f"{what}: access denied ({type(exc).__name__})")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return TransientError(f"{what}: storage unreachable ({type(exc).__name__})")
    if isinstance(exc, HttpResponseError):
        status = exc.status_code or 0
        if status in (403, 401):
            return PermanentError(f"{what}: access denied (HTTP {status})")
        if status == 429 or status >= 500:
            return TransientError(f"{what}: HTTP {status}")
        return PermanentError(f"{what}: HTTP {status}")
    return exc


class BlobSource:
    Spec = BlobSpec
    lists_everything = True

    def __init__(self, spec: BlobSpec, **_: Any) -> None:
        self.spec = spec

    def _clients(self, http: HttpClient) -> _Clients:
        return http.scoped(f"blob:{self.spec.id}", lambda: _Clients(self.spec))

    def _wanted(self, name: str) -> bool:
        rel = name[len(self.spec.prefix):].lstrip("/")
        return any(glob_match(rel, p) for p in self.spec.include) and not any(
            glob_match(rel, p) for p in self.spec.exclude)

    async def discover(
        self, *, cursor: str | None, since: str | None, page_size: int, http: HttpClient
    ) -> DiscoveryPage:
        """One page of blobs. ``since`` is ignored: every run lists everything (deletions detectable)."""
        container = self._clients(http).container
        items: list[DocumentRef] = []
        newest = None
        try:
            pages = container.list_blobs(name_starts_with=self.spec.prefix or None,
                                         results_per_page=page_size).by_page(continuation_token=cursor)
            page = await pages.__anext__()
            async for blob in page:
                if not self._wanted(blob.name):
                    continue
                newest = later(newest, blob.last_modified)
                items.append(DocumentRef(doc_id=blob.name, url=f"{container.url}/{quote(blob.name)}",
                                         hint=f"etag:{blob.etag}", updated=blob.last_modified))
            token = pages.continuation_token  # type: ignore[attr-defined]  # by_page() is an AsyncPageIterator
        except StopAsyncIteration:
            token = None
        except Exception as exc:
            raise _translate(exc, f"container {self.spec.container}") from None
        return DiscoveryPage(items=items, next_cursor=token or None, high_water=iso(newest))

    async def fetch(self, ref: DocumentRef, *, http: HttpClient, known: str | None = None) -> Fetched:
        blob = self._clients(http).container.get_blob_client(ref.doc_id)
        try:
            stream = await blob.download_blob()
            if stream.size is not None and stream.size > http.max_body_bytes:
                raise PermanentError(f"blob larger than {http.max_body_bytes} bytes")
            data = await stream.readall()
        except PermanentError:
            raise
        except Exception as exc:
            raise _translate(exc, f"blob {ref.doc_id}") from None
        settings = stream.properties.content_settings
        return Fetched(data=data, content_type=settings.content_type if settings else None, url=ref.url,
                       title=ref.title)
