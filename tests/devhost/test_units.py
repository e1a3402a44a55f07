"""Pure helpers of the local host (no storage, no HTTP)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from devhost import history as h
from devhost.azurite import azurite_connection_string, find_azurite_binary, resolve_storage
from devhost.functions import compile_route
from devhost.host import load_host_settings, load_local_settings
from devhost.settings import apply_local_settings
from devhost.store import container_name_for, decode_id, encode_id
from devhost.timers import ScheduleError, next_fire


@pytest.mark.parametrize(("template", "path", "params"), [
    ("runs", "runs", {}),
    ("runs/{id}", "RUNS/abc", {"id": "abc"}),
    ("runs/{id:int}/log", "runs/7/log", {"id": "7"}),
    ("orchestrators/{name}/{instance_id?}", "orchestrators/x", {"name": "x", "instance_id": None}),
    ("orchestrators/{name}/{instance_id?}", "orchestrators/x/y", {"name": "x", "instance_id": "y"}),
    ("files/{*rest}", "files/a/b/c", {"rest": "a/b/c"}),
])
def test_route_templates(template: str, path: str, params: dict[str, str | None]) -> None:
    match = compile_route(template).fullmatch(path)
    assert match is not None and match.groupdict() == params


def test_route_does_not_overmatch() -> None:
    assert compile_route("runs/{id}").fullmatch("runs/a/b") is None
    assert compile_route("runs").fullmatch("runsx") is None


@pytest.mark.parametrize("iid", ["plain", "run:2024-01-01", "a/b\\c?d#e~f", "ünï cødé", "x" * 200])
def test_instance_id_encoding_roundtrip(iid: str) -> None:
    encoded = encode_id(iid)
    assert decode_id(encoded) == iid
    assert all((ch.isalnum() and ch.isascii()) or ch in "-_.~" for ch in encoded)


def test_container_names_are_valid() -> None:
    assert container_name_for("HarvestHub") == "durable-harvesthub"
    name = container_name_for("My_Hub--" + "x" * 80)
    assert len(name) <= 63 and "--" not in name and name == name.lower()


def test_storage_resolution() -> None:
    conn, emulator = resolve_storage("UseDevelopmentStorage=true")
    assert emulator and conn == azurite_connection_string(10000)
    assert "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1" in conn
    real = "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=abc;EndpointSuffix=core.windows.net"
    assert resolve_storage(real) == (real, False)
    assert find_azurite_binary(Path("/nonexistent")) is None


def test_ncrontab_schedules(monkeypatch: pytest.MonkeyPatch) -> None:
    start = dt.datetime(2024, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert next_fire("0 0 2 * * *", start) == dt.datetime(2024, 1, 2, 2, 0, 0, tzinfo=dt.UTC)
    assert next_fire("*/10 * * * * *", start) == start + dt.timedelta(seconds=10)
    monkeypatch.setenv("MY_SCHEDULE", "30 * * * * *")
    assert next_fire("%MY_SCHEDULE%", start) == start + dt.timedelta(seconds=30)
    with pytest.raises(ScheduleError):
        next_fire("0 2 * * *", start)  # five fields: not NCRONTAB
    with pytest.raises(ScheduleError, match="MISSING_SETTING"):
        next_fire("%MISSING_SETTING%", start)


def test_settings_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_host_settings(tmp_path) == {"hubName": "HarvestHub"}
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"durableTask": {
        "hubName": "Other", "maxConcurrentActivityFunctions": 3, "maxConcurrentOrchestratorFunctions": 5}}}))
    assert load_host_settings(tmp_path) == {"hubName": "Other", "maxConcurrentActivityFunctions": 3,
                                            "maxConcurrentOrchestratorFunctions": 5}
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": {
        "DEVHOST_TEST_A": "from-file", "DEVHOST_TEST_B": "from-file"}}))
    monkeypatch.setenv("DEVHOST_TEST_B", "from-env")
    monkeypatch.delenv("DEVHOST_TEST_A", raising=False)
    assert load_local_settings(tmp_path) == {"DEVHOST_TEST_A": "from-file", "DEVHOST_TEST_B": "from-env"}
    apply_local_settings(tmp_path)
    import os

    assert os.environ["DEVHOST_TEST_A"] == "from-file" and os.environ["DEVHOST_TEST_B"] == "from-env"


def test_fast_timestamp_parsing_matches_sdk_format() -> None:
    ts = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    assert h.parse_ts(h.iso(ts)) == ts
