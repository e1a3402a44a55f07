"""The activity boundary: a mistyped key is a permanent failure naming the field (not a ``KeyError``
retried four times); results travel in the envelope."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from activities import lifecycle, maintenance, stages
from activities.guard import guarded
from shared import names
from shared.errors import TransientError


@pytest.fixture
def storage(azurite: str, task_hub: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Real storage: the cancel fence (``unless_cancelled``) reads the run's blobs before the activity runs."""
    from shared.settings import get_settings

    monkeypatch.setenv("AzureWebJobsStorage", azurite)
    monkeypatch.setenv("HARVEST_CONTAINER", task_hub.lower())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def user_function(bp: Any, name: str) -> Any:
    """The function the worker calls for activity ``name`` (registered from its contract), guard included."""
    found = [b._function for b in bp._function_builders if b._function.get_function_name() == name]
    assert len(found) == 1, name
    return found[0].get_user_function()


@pytest.mark.parametrize(("bp", "name", "payload", "fields"), [
    (lifecycle.bp, names.CHECKPOINT, {"run_id": "r", "source_idd": "s"},
     ["source_id: is required", "source_idd: unknown field"]),
    (lifecycle.bp, names.FINISH_SOURCE, {"run_id": "r", "result": {}}, ["result.source_id: is required"]),
    (stages.bp, names.COMMIT, {"run_id": "r", "source_id": "s", "batch_id": "b", "deletion": True}, ["deletion"]),
    (maintenance.bp, names.COMPACT_SOURCE, {"source_id": "s", "keep": 0}, ["keep: Input should be greater than"]),
])
async def test_mistyped_input_is_a_permanent_failure_naming_the_field(
        bp: Any, name: str, payload: dict[str, Any], fields: list[str], storage: None) -> None:
    result = await user_function(bp, name)(payload)
    assert result["outcome"] == "failed"
    for field in fields:
        assert field in result["reason"]


async def test_results_and_waits_travel_in_the_envelope() -> None:
    @guarded
    async def value(payload: dict[str, Any]) -> Any:
        return {"n": payload["n"]}

    @guarded
    async def busy(payload: dict[str, Any]) -> Any:
        raise TransientError("HTTP 429", retry_after=12)

    @guarded
    async def flaky(payload: dict[str, Any]) -> Any:
        raise TransientError("timeout")

    assert await value({"n": 1}) == {"outcome": "ok", "value": {"n": 1}}
    assert await busy({}) == {"outcome": "retry", "retry_after": 12, "reason": "HTTP 429"}
    with pytest.raises(TransientError):  # no server-given wait: the Durable retry policy handles it
        await flaky({})
