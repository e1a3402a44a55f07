"""Query parameters answer a wrong value with a message that says what is wrong with it."""

from __future__ import annotations

import azure.functions as func
import pytest

from triggers.http_requests import HttpError, query_int


def request(**params: str) -> func.HttpRequest:
    return func.HttpRequest(method="GET", url="http://h/api/stats", params=params, body=b"")


@pytest.mark.parametrize(("raw", "message"), [
    ("-5", "must be ≥ 1 (got -5)"),
    ("1e3", "must be a whole number"),
    ("abc", "must be a whole number"),
    ("0", "must be between 1 and 365"),
    ("\uff13\uff10", "must be a whole number"),  # full-width "30": \d and int() accept it
    ("\u0663\u0660", "must be a whole number"),  # Arabic-Indic "30"
    ("\u06f3", "must be a whole number"),  # Extended Arabic-Indic "3"
    ("-\uff13", "must be a whole number"),
])
def test_bad_integers_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(HttpError) as caught:
        query_int(request(days=raw), "days", 7, 1, 365)
    assert caught.value.details == [{"field": "days", "message": message}]


def test_good_integers_and_default() -> None:
    assert query_int(request(days="30"), "days", 7, 1, 365) == 30
    assert query_int(request(), "days", 7, 1, 365) == 7
