"""Switching to Azure OpenAI is one setting (plus where it lives); bad combinations name the setting."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

import shared.embedding as registry
from shared.embedding import get_embedder
from shared.embedding.azure_openai import AzureOpenAIEmbedder
from shared.errors import ConfigError
from shared.settings import get_settings, load_settings
from tests.shared.embedding.fake_aoai import FakeAzureOpenAI, expected_vectors


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("HARVEST_") or key.startswith("AzureWebJobsStorage"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    embedder = registry._CACHE.pop("azure-openai", None)
    if isinstance(embedder, AzureOpenAIEmbedder):
        embedder.close()


def fields(exc: pytest.ExceptionInfo[ConfigError]) -> set[str]:
    return {p["field"] for p in exc.value.problems}


def test_defaults_keep_the_offline_model(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert s.embedder == "e5-small"
    assert (s.azure_openai_model, s.azure_openai_dimensions, s.azure_openai_api_version) == (
        "text-embedding-3-small", None, "2024-10-21")
    assert (s.azure_openai_concurrency, s.azure_openai_max_inputs, s.azure_openai_max_request_tokens) == (
        4, 2048, 300_000)
    assert s.azure_openai_api_key_setting is None


def test_azure_openai_needs_endpoint_and_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARVEST_EMBEDDER", "azure-openai")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_DIMENSIONS", "")  # blank app settings (as Bicep writes them) = unset
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert fields(info) == {"HARVEST_AZURE_OPENAI_ENDPOINT", "HARVEST_AZURE_OPENAI_DEPLOYMENT"}


def test_bad_values_name_their_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARVEST_EMBEDDER", "azure-openai")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_ENDPOINT", "https://x.openai.azure.com")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_DEPLOYMENT", "emb")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_MODEL", "text-embedding-ada-002")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_DIMENSIONS", "256")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert fields(info) == {"HARVEST_AZURE_OPENAI_DIMENSIONS"}
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_MODEL", "gpt-4o")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_CONCURRENCY", "0")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_API_KEY_SETTING", "not a name")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert fields(info) == {"HARVEST_AZURE_OPENAI_MODEL", "HARVEST_AZURE_OPENAI_CONCURRENCY",
                            "HARVEST_AZURE_OPENAI_API_KEY_SETTING"}


def test_one_setting_switches_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeAzureOpenAI(api_key="k-local") as fake:
        monkeypatch.setenv("HARVEST_EMBEDDER", "azure-openai")
        monkeypatch.setenv("HARVEST_AZURE_OPENAI_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("HARVEST_AZURE_OPENAI_DEPLOYMENT", fake.deployment)
        monkeypatch.setenv("HARVEST_AZURE_OPENAI_DIMENSIONS", "512")
        monkeypatch.setenv("HARVEST_AZURE_OPENAI_API_KEY_SETTING", "AOAI_KEY")
        monkeypatch.setenv("AOAI_KEY", "k-local")
        embedder = get_embedder(get_settings().embedder)
        assert isinstance(embedder, AzureOpenAIEmbedder) and embedder.dim == 512
        vectors = embedder.embed_passages(["one setting", "that is all"])
        np.testing.assert_allclose(vectors, expected_vectors(["one setting", "that is all"], 512), atol=1e-6)
        assert fake.requests[0].auth == "api-key" and fake.requests[0].dimensions == 512


def test_a_named_key_setting_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARVEST_EMBEDDER", "azure-openai")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_ENDPOINT", "https://x.openai.azure.com")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_DEPLOYMENT", "emb")
    monkeypatch.setenv("HARVEST_AZURE_OPENAI_API_KEY_SETTING", "AOAI_KEY_MISSING")
    with pytest.raises(ConfigError) as info:
        get_embedder("azure-openai")
    assert fields(info) == {"HARVEST_AZURE_OPENAI_API_KEY_SETTING"}
    assert "AOAI_KEY_MISSING" in str(info.value)
