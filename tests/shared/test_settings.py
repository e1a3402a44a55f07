"""Settings: one object from the environment, errors naming the setting."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("HARVEST_") or key.startswith("AzureWebJobsStorage"):
            monkeypatch.delenv(key)


def test_defaults_with_storage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    s = load_settings()
    assert s.storage_connection == "UseDevelopmentStorage=true"
    assert (s.container, s.embedder, s.schedule, s.chunk_tokens) == ("harvest", "e5-small", "0 0 2 * * *", 256)
    assert s.allowed_networks() == []


def test_bad_values_name_each_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("HARVEST_CHUNK_TOKENS", "lots")
    monkeypatch.setenv("HARVEST_EMBEDDER", "gpt-9")
    monkeypatch.setenv("HARVEST_CONTAINER", "Bad_Name")
    with pytest.raises(ConfigError) as info:
        load_settings()
    fields = {p["field"] for p in info.value.problems}
    assert fields == {"HARVEST_CHUNK_TOKENS", "HARVEST_EMBEDDER", "HARVEST_CONTAINER"}


def test_overlap_must_be_below_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("HARVEST_CHUNK_OVERLAP", "300")
    with pytest.raises(ConfigError) as info:
        load_settings()
    # the validator's own sentence, without pydantic's "Value error, " in front of it
    assert info.value.problems == [{"field": "HARVEST_CHUNK_OVERLAP",
                                    "message": "must be smaller than chunk_tokens (256)"}]


def test_storage_is_required() -> None:
    with pytest.raises(ConfigError, match="AzureWebJobsStorage"):
        load_settings()


def test_account_url_alone_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARVEST_STORAGE_ACCOUNT_URL", "https://acct.blob.core.windows.net")
    monkeypatch.setenv("HARVEST_ALLOWED_PRIVATE_NETWORKS", "127.0.0.1/32, 10.0.0.0/8")
    s = load_settings()
    assert s.allowed_networks() == ["127.0.0.1/32", "10.0.0.0/8"]
