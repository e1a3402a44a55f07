"""The manifest with every kind: validation with fields, describe_sources (no secrets). The CLI over it:
``tests/cli/test_sources.py``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.config.manifest import describe_sources, load_manifest, parse_manifest
from shared.errors import ConfigError

EVERY_KIND = """sources:
  - {id: notes, kind: folder, path: docs}
  - {id: news, kind: rss, url: "https://feeds.example/f.xml", rate_limit: 2, concurrency: 2,
     auth: {type: oauth2_client_credentials, token_url: "https://login.example/token", client_id: harvest,
            client_secret_setting: FEED_SECRET, scope: read}}
  - {id: library, kind: oai_pmh, url: "https://repo.example/oai", set: "physics", full_text: true,
     link_pattern: "\\\\.pdf$", auth: {type: api_key, key_setting: OAI_KEY}}
  - {id: site, kind: sitemap, url: "https://docs.example/sitemap.xml", include: ["/guide/"],
     respect_robots_txt: false, auth: {type: basic, username: reader, password_setting: SITE_PW}}
  - {id: items, kind: json_api, url: "https://api.example/v1/items", items: data,
     fields: {id: id, title: title, url: links.html, updated: updated_at}, paging: {style: link},
     auth: {type: bearer, token_setting: API_TOKEN}, timeout: {connect: 5, read: 20, total: 60}}
  - {id: archive, kind: blob, container: docs, prefix: kb/, account_url: "https://acct.blob.core.windows.net",
     languages: [en, de], min_chars: 100, enabled: false}
"""


def every_kind_manifest(root: Path) -> Path:
    """``EVERY_KIND`` as ``root/sources.yaml``, with the folder its folder source reads."""
    (root / "docs").mkdir()
    path = root / "sources.yaml"
    path.write_text(EVERY_KIND)
    return path


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    return every_kind_manifest(tmp_path)


def test_every_kind_validates_and_describes_without_secrets(manifest: Path) -> None:
    loaded = load_manifest(manifest)
    assert [s.kind for s in loaded.sources] == ["folder", "rss", "oai_pmh", "sitemap", "json_api", "blob"]
    described = describe_sources(loaded, environ={"API_TOKEN": "the-real-token", "OAI_KEY": ""})
    by_id = {d["id"]: d for d in described}
    assert by_id["items"]["settings"] == {"API_TOKEN": True}
    assert by_id["library"]["settings"] == {"OAI_KEY": False}
    assert by_id["news"]["auth"] == {"type": "oauth2_client_credentials", "token_url": "https://login.example/token",
                                     "client_id": "harvest", "client_secret_setting": "FEED_SECRET", "scope": "read",
                                     "client_auth": "body"}
    assert by_id["archive"]["enabled"] is False and by_id["archive"]["settings"] == {}
    assert "the-real-token" not in json.dumps(described)


def test_problems_name_source_and_field(tmp_path: Path) -> None:
    data = {"sources": [
        {"id": "a", "kind": "json_api", "url": "https://x.example", "fields": {"id": "id", "text": "t"},
         "paging": {"style": "pages"}},
        {"id": "b", "kind": "sitemap", "url": "https://x.example/s.xml", "auth": {"type": "bearer", "token": "t0k3n"}},
        {"id": "c", "kind": "oai_pmh", "url": "https://x.example/oai", "rate_limit": 0},
        {"id": "d", "kind": "blob", "container": "Bad_Name", "connection_setting": "X"},
    ]}
    with pytest.raises(ConfigError) as info:
        parse_manifest(data, path=tmp_path / "sources.yaml")
    fields = {p["field"] for p in info.value.problems}
    assert "sources[0] (a).paging" in fields
    assert "sources[1] (b).auth.token" in fields
    assert "sources[2] (c).rate_limit" in fields
    assert "sources[3] (d).container" in fields
    assert "t0k3n" not in str(info.value)
