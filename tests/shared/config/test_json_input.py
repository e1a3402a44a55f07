"""``shared.config.json_input``: request JSON read strictly (issue 25 item 5 and its siblings)."""

from __future__ import annotations

import pytest

from shared.config.json_input import MAX_DEPTH, TooDeep, loads


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 999, 1_000, 20_000, 200_000])
def test_nesting_past_the_limit_is_a_value_error_at_any_depth(depth: int) -> None:
    for opening, closing in (("[", "]"), ('{"a":', "}")):
        with pytest.raises(TooDeep, match=f"JSON nested deeper than {MAX_DEPTH} levels"):
            loads(opening * depth + "1" + closing * depth)
    with pytest.raises(ValueError):  # unterminated: too deep, or not JSON, whichever the parser meets first
        loads("[" * depth)


def test_nesting_up_to_the_limit_is_read() -> None:
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads('{"a": {"b": [1, {"c": "d"}]}}') == {"a": {"b": [1, {"c": "d"}]}}
    assert loads(b'"plain"') == "plain" and loads("3") == 3


@pytest.mark.parametrize("text", ['{"sources": ["a"], "sources": ["b"]}', '[{"x": 1, "y": 2, "x": 3}]'])
def test_duplicate_names_are_refused_naming_the_member(text: str) -> None:
    with pytest.raises(ValueError, match="duplicate member"):
        loads(text)


@pytest.mark.parametrize("text", ['{"reason": "\\ud800"}', '["ok", "\\udfff tail"]', '{"\\udc80": 1}'])
def test_unpaired_surrogates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="unpaired surrogate"):
        loads(text)


def test_paired_surrogates_and_any_unicode_are_text() -> None:
    assert loads('"\\ud83d\\udd11 clé ключ"') == "\U0001f511 clé ключ"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00garbage", b"1" * 5000, b"", b"[1,]"])
def test_what_is_not_json_is_a_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):
        loads(raw)


def test_a_byte_order_mark_is_ignored_as_rfc_8259_allows() -> None:
    assert loads(b"\xef\xbb\xbf{}") == {}
