"""One redaction for logs, run records, reports and source info: every shape a secret comes in."""

from __future__ import annotations

import pytest

from shared.redact import MASK, redact_text, redact_value, register_secret


@pytest.mark.parametrize(("text", "secret", "kept"), [
    # query parameters
    ("GET https://api.example.org/items?access_token=tok123&page=2", "tok123", "page=2"),
    ("GET https://login.example.org/token?client_secret=cs-456&client_id=app", "cs-456", "client_id=app"),
    ("https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sig=AbC%2Bdef&se=2026", "AbC%2Bdef", "sv=2024-01-01"),
    ("https://example.org/feed?api_key=k-789&x=1", "k-789", "x=1"),
    ("https://example.org/api?code=fnkey000&name=x", "fnkey000", "name=x"),
    ("post body grant_type=client_credentials&client_secret=s3cr3t&scope=x", "s3cr3t", "grant_type"),
    # headers
    ("sent Authorization: Bearer eyJhbGciOi.abc.def to the API", "eyJhbGciOi.abc.def", "to the API"),
    ("headers x-api-key: apikey-123, accept: json", "apikey-123", "accept: json"),
    ("Ocp-Apim-Subscription-Key: subkey-42", "subkey-42", "Ocp-Apim-Subscription-Key"),
    # JSON keys and Python reprs
    ('{"client_secret": "cs-json-1", "client_id": "app"}', "cs-json-1", '"client_id": "app"'),
    ("{'password': 'pw-repr-1', 'user': 'bob'}", "pw-repr-1", "'user': 'bob'"),
    ('{"access_token":"at-json-2","expires_in":3600}', "at-json-2", "expires_in"),
    # URLs with user:pass
    ("fetching https://bob:hunter22@example.org/private", "hunter22", "example.org/private"),
    ("sftp://user:pa55@files.example.org/x", "pa55", "files.example.org"),
    # connection strings
    ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=Zm9vYmFy+/==;EndpointSuffix=core.windows.net",
     "Zm9vYmFy+/==", "AccountName=acct"),
    ("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=sv=2022-11-02&ss=b&sig=x%2Fy;",
     "sv=2022-11-02&ss=b&sig=x%2Fy", "BlobEndpoint=https://a.blob.core.windows.net/"),
    # webhooks
    ("posted to https://hooks.slack.com/services/T000/B000/XXXX ok", "T000/B000/XXXX", " ok"),
])
def test_each_secret_shape_is_masked(text: str, secret: str, kept: str) -> None:
    out = redact_text(text)
    assert secret not in out and MASK in out
    assert kept in out


def test_registered_and_given_secret_values() -> None:
    register_secret("the-webhook-signing-secret")
    register_secret("abc")  # too short to mask safely: ignored
    out = redact_text("signed with the-webhook-signing-secret and abc, token is tkn-given", {"tkn-given"})
    assert out == f"signed with {MASK} and abc, token is {MASK}"


def test_ordinary_text_is_left_alone() -> None:
    text = "fetched 3 documents (tokens=120, keys: 4) from https://example.org/a?page=2#top"
    assert redact_text(text) == text


def test_structures_mask_secret_keys_and_scrub_strings() -> None:
    config = {"url": "https://user:pw@example.org/feed?token=abc&page=2", "auth": {
        "type": "bearer", "token_setting": "NEWS_TOKEN", "client_secret": "x", "username": "bob"},
        "headers": [{"name": "X-Api-Key", "api_key": "k"}], "password": None, "tokens": 120,
        "errors": [{"reason": "HTTP 401 for https://example.org/?access_token=zzz"}]}
    out = redact_value(config)
    assert out["url"] == f"https://{MASK}@example.org/feed?token={MASK}&page=2"
    assert out["auth"] == {"type": "bearer", "token_setting": MASK, "client_secret": MASK, "username": "bob"}
    assert out["headers"][0] == {"name": "X-Api-Key", "api_key": MASK}
    assert out["password"] is None and out["tokens"] == 120
    assert out["errors"][0]["reason"] == f"HTTP 401 for https://example.org/?access_token={MASK}"
