"""The blob source against Azurite: paged listing with continuation, ETag hints, filters, download."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient

from shared.errors import ConfigError, PermanentError
from shared.fetching.http import HttpClient
from shared.sources import build_source, parse_spec
from shared.sources.blob import BlobSource
from shared.text.extract import detect_format, extract

SETTING = "HARVEST_TEST_BLOB_CONNECTION"


def http(max_body: int = 1_000_000) -> HttpClient:
    return HttpClient(user_agent="t", timeout=5, max_body_bytes=max_body, allowed_networks=[], concurrency=4)


@pytest.fixture
async def container(azurite: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    monkeypatch.setenv(SETTING, azurite)
    name = f"src-{uuid.uuid4().hex[:12]}"
    async with BlobServiceClient.from_connection_string(azurite) as service:
        client = await service.create_container(name)
        for i in range(5):
            await client.upload_blob(f"kb/note-{i}.md", f"# Note {i}\n\nThe lighthouse keeper wrote entry {i}.\n")
        await client.upload_blob("kb/page.html", b"<html><body><p>A page about tides and moons.</p></body></html>",
                                 content_settings=ContentSettings(content_type="text/html"))
        await client.upload_blob("kb/logo.png", b"\x89PNG....")
        await client.upload_blob("other/skip.md", b"# Elsewhere\n")
        yield name
        await service.delete_container(name)


def blob_source(container: str, **fields: object) -> BlobSource:
    data = {"id": "kb", "kind": "blob", "container": container, "connection_setting": SETTING, "prefix": "kb/",
            **fields}
    source = build_source(parse_spec(data), base_dir=None)  # type: ignore[arg-type]
    assert isinstance(source, BlobSource)
    return source


def test_spec_requires_one_credential_and_no_inline_secret() -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        parse_spec({"id": "kb", "kind": "blob", "container": "docs"})
    with pytest.raises(ConfigError) as info:
        parse_spec({"id": "kb", "kind": "blob", "container": "docs",
                    "connection_string": "DefaultEndpointsProtocol=https;AccountKey=abc"})
    assert info.value.problems[0]["field"] == "sources.kb.connection_string"
    spec = parse_spec({"id": "kb", "kind": "blob", "container": "docs",
                       "account_url": "https://acct.blob.core.windows.net"})
    assert spec.account_url == "https://acct.blob.core.windows.net"  # type: ignore[attr-defined]


async def test_paged_listing_and_fetch(container: str) -> None:
    source = blob_source(container, exclude=["note-4.md"])
    ids, pages, cursor = [], 0, None
    async with http() as client:
        while True:
            page = await source.discover(cursor=cursor, since=None, page_size=2, http=client)
            ids += [r.doc_id for r in page.items]
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert ids == ["kb/note-0.md", "kb/note-1.md", "kb/note-2.md", "kb/note-3.md", "kb/page.html"]
        assert pages >= 3
        first = (await source.discover(cursor=None, since=None, page_size=10, http=client)).items[0]
        assert first.hint is not None and first.hint.startswith("etag:") and first.updated is not None
        fetched = await source.fetch(first, http=client)
        assert b"lighthouse keeper wrote entry 0" in fetched.data
        assert extract(fetched.data, fmt=detect_format(fetched.url, fetched.content_type)).title == "Note 0"
        with pytest.raises(PermanentError, match="not found"):
            await source.fetch(first.model_copy(update={"doc_id": "kb/gone.md"}), http=client)
    async with http(max_body=1024) as small:
        big = first.model_copy(update={"doc_id": "kb/big.md"})
        async with BlobServiceClient.from_connection_string(os.environ[SETTING]) as service:
            await service.get_container_client(container).upload_blob("kb/big.md", b"x" * 5000)
        with pytest.raises(PermanentError, match="larger than 1024"):
            await source.fetch(big, http=small)


async def test_missing_setting_names_it(container: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SETTING)
    async with http() as client:
        with pytest.raises(ConfigError) as info:
            await blob_source(container).discover(cursor=None, since=None, page_size=5, http=client)
    assert f"app setting {SETTING} is not set" in str(info.value)
