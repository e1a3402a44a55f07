"""Request bodies of the operator routes (``triggers.http_requests.json_body``, ``reason_from``): what cannot be
read is a 4xx naming the field, never a 500 (issue 25 item 5 and the siblings a fuzz found)."""

from __future__ import annotations

import gzip

import azure.functions as func
import pytest

from triggers.http_requests import HttpError, json_body, reason_from


def request(body: bytes, **headers: str) -> func.HttpRequest:
    return func.HttpRequest("POST", "http://h/api/runs/run-1/suspend", body=body, headers=headers)


@pytest.mark.parametrize(("body", "message"), [
    (b'{"reason": "\\ud800 lone"}', "unpaired surrogate"),  # was a UnicodeEncodeError (500) in the SDK's quote()
    (b'{"reason": "a", "reason": "b"}', "duplicate member 'reason'"),
    (b'{"reason": ' + b"[" * 1500 + b"]" * 1500 + b"}", "nested deeper than 64"),
    (b'{"reason": ' + b"[" * 65 + b"]" * 65 + b"}", "nested deeper than 64"),
])
def test_unreadable_reasons_are_400(body: bytes, message: str) -> None:
    with pytest.raises(HttpError) as caught:
        reason_from(request(body), "default")
    assert caught.value.status == 400 and caught.value.error == "invalid JSON"
    assert message in caught.value.details[0]["message"]


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "br", "zstd", "gzip, identity"])
def test_a_compressed_body_is_415(encoding: str) -> None:
    with pytest.raises(HttpError) as caught:
        json_body(request(gzip.compress(b"{}"), **{"Content-Encoding": encoding}), 4096)
    assert caught.value.status == 415 and caught.value.headers == {"Accept-Encoding": "identity"}


def test_an_empty_body_needs_no_encoding_and_identity_is_plain() -> None:
    assert json_body(request(b"", **{"Content-Encoding": "gzip"}), 4096) == {}
    assert json_body(request(b'{"reason": "r"}', **{"Content-Encoding": "Identity"}), 4096) == {"reason": "r"}
