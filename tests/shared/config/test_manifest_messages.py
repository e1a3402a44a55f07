"""``field_problems``: every validated input (manifest, settings, HTTP bodies, activity inputs, staged rows)
names its bad fields the same way."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.config.messages import describe_validation, field_problems
from shared.names import SOURCE_ID


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(pattern=SOURCE_ID.pattern)
    limit: int = 1
    tags: list[int] = []

    @field_validator("limit")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 1:
            raise ValueError("must be at least 1")
        return value


def error(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Options.model_validate(data)
    return caught.value


def test_each_problem_names_its_field_under_where_in_the_users_words() -> None:
    exc = error({"source": "Docs", "limit": 0, "tags": [1, "x"], "limt": 2})
    found = {p["field"]: p["message"] for p in field_problems(exc, "sources[0]", fields=Options.model_fields)}
    assert found == {
        "sources[0].source": "must be lowercase: write 'docs' (an id is lowercase letters a-z, digits, '_' and '-', "
                             "starting with a letter or digit, at most 63 long)",
        "sources[0].limit": "must be at least 1",
        "sources[0].tags.1": "Input should be a valid integer, unable to parse string as an integer",
        "sources[0].limt": "unknown field: did you mean 'limit'?",
    }


def test_a_missing_field_and_the_input_as_a_whole() -> None:
    assert field_problems(error({})) == [{"field": "source", "message": "is required"}]
    assert field_problems(error([1]), empty="body") == [
        {"field": "body", "message": "Input should be a valid dictionary or instance of Options"}]
    assert field_problems(error([1]), "sources[3]")[0]["field"] == "sources[3]"


def test_the_one_line_form_for_a_failure_reason() -> None:
    assert describe_validation(error({"limit": "x"})) == (
        "invalid Options: source: is required; limit: Input should be a valid integer, unable to parse string as an "
        "integer")
