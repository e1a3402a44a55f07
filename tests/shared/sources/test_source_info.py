"""Source descriptions: secrets redacted from configuration, URLs scrubbed."""

from __future__ import annotations

from shared.redact import MASK, redact_value


def test_secret_fields_and_url_credentials_are_masked() -> None:
    config = {"url": "https://user:pw@example.org/feed?token=abc&page=2", "auth": {
        "type": "bearer", "token_setting": "NEWS_TOKEN", "client_secret": "x", "username": "bob"},
        "headers": [{"name": "X-Api-Key", "api_key": "k"}], "password": None, "path": "docs"}
    out = redact_value(config)  # what shared.sources.info shows of a source's configuration
    assert out["url"] == f"https://{MASK}@example.org/feed?token={MASK}&page=2"
    assert out["auth"] == {"type": "bearer", "token_setting": MASK, "client_secret": MASK, "username": "bob"}
    assert out["headers"][0]["api_key"] == MASK and out["password"] is None and out["path"] == "docs"
