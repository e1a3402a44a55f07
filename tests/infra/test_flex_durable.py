"""Durable Functions on Flex Consumption as Microsoft recommends it (issue 21 item 6): queues polled at least
every 10 s and one always-ready instance for the ``durable`` group (MicrosoftDocs azure-docs,
``articles/azure-functions/durable/durable-functions-azure-storage-provider.md``, "Flex Consumption plan")."""

from __future__ import annotations

import json
import re

from tests.conftest import REPO_ROOT
from tests.infra.bicep import BicepFile, Expr, Ternary


def timespan_seconds(text: str) -> float:
    """A .NET TimeSpan as host.json writes it (``[d.]hh:mm:ss[.fff]``), in seconds."""
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)", text)
    assert match, f"not a TimeSpan: {text!r}"
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_durable_queues_are_polled_at_most_every_10_seconds() -> None:
    """The default maxQueuePollingInterval (30 s) adds up to 30 s to every hop after the queues went idle."""
    provider = json.loads((REPO_ROOT / "host.json").read_text())["extensions"]["durableTask"]["storageProvider"]
    assert provider["type"] == "AzureStorage"  # the only provider Flex Consumption supports for Durable
    assert 0 < timespan_seconds(provider["maxQueuePollingInterval"]) <= 10


def test_timespans_are_read_as_dotnet_writes_them() -> None:
    assert timespan_seconds("00:00:30") == 30 and timespan_seconds("00:00:05") == 5
    assert timespan_seconds("1.00:00:10.5") == 86410.5


def test_the_durable_group_has_an_always_ready_instance(templates: dict[str, BicepFile]) -> None:
    app, main = templates["functionapp"], templates["main"]
    scale = app.resource("Microsoft.Web/sites").value["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    ready = scale["alwaysReady"]
    assert isinstance(ready, Ternary) and ready.condition == Expr("durableAlwaysReady > 0") and ready.no == []
    assert ready.yes == [{"name": "durable", "instanceCount": Expr("durableAlwaysReady")}]
    for template in (app, main):
        param = template.params["durableAlwaysReady"]
        assert param.value == 1 and param.decorators["minValue"] == [0], template.path.name
    assert main.modules["app"].value["params"]["durableAlwaysReady"] == Expr("durableAlwaysReady")
    parameters = json.loads((REPO_ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["durableAlwaysReady"]["value"] == "${HARVEST_DURABLE_ALWAYS_READY=1}"
