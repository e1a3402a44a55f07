"""Notifications against real local receivers: a webhook and Slack (pytest-httpserver), email over SMTP
with STARTTLS and AUTH (aiosmtpd). Retries, dead receivers and secrets in error details."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from shared.models import ErrorRecord, RunError, RunSummary, SourceCounts, SourceResult
from shared.notify import delivery, notify
from shared.notify.webhook import verify
from shared.settings import Settings
from tests.conftest import free_port
from tests.receivers import SMTP_USER, SmtpServer, smtp_env, start_smtp

SECRET = "whsec-test-0123456789"


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "BACKOFF_S", 0.01)


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmtpServer]:
    server = start_smtp(tmp_path_factory.mktemp("smtp"))
    yield server
    server.stop()


def summary(status: str = "partial") -> RunSummary:
    start = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    bad = SourceResult(source_id="news", status="failed", message="feed answered 503 <b>three</b> times")
    good = SourceResult(source_id="docs", status="partial", counts=SourceCounts(discovered=12, added=10, failed=2,
                                                                                  chunks_embedded=40),
                        errors=[ErrorRecord(stage="fetch", reason="HTTP 404", doc_id="a.html")])
    return RunSummary(run_id="daily-2026-11-23", status=status, trigger="timer", started_at=start,
                      finished_at=start + timedelta(seconds=95), sources={"docs": good, "news": bad},
                      totals=SourceCounts(discovered=12, added=10, failed=2, chunks_embedded=40),
                      errors=[RunError(source_id="news", reason=bad.message or ""),
                              RunError(source_id="docs", stage="fetch", reason="HTTP 404", doc_id="a.html")])


def settings(**values: str) -> Settings:
    return Settings(storage_connection="UseDevelopmentStorage=true", public_url="https://harvest.example.org",
                    notify_attempts=3, **values)  # type: ignore[arg-type]


async def test_webhook_is_signed_and_carries_the_run(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/hook", method="POST").respond_with_data("ok")
    records = await notify(settings(webhook_url=httpserver.url_for("/hook"), webhook_secret=SECRET), summary())
    assert [(r.channel, r.ok, r.attempts) for r in records] == [("webhook", True, 1)]
    request, _ = httpserver.log[0]
    body = request.get_data()
    assert verify(SECRET, request.headers["X-Harvest-Timestamp"], body, request.headers["X-Harvest-Signature"])
    assert not verify("wrong", request.headers["X-Harvest-Timestamp"], body, request.headers["X-Harvest-Signature"])
    payload = json.loads(body)
    assert (payload["run_id"], payload["status"], payload["totals"]["added"]) == ("daily-2026-11-23", "partial", 10)
    assert payload["failed_sources"] == ["news"] and payload["duration_s"] == 95.0
    assert payload["links"]["report"] == "https://harvest.example.org/api/runs/daily-2026-11-23/report"
    assert request.headers["X-Harvest-Delivery"] == "daily-2026-11-23"


async def test_webhook_retries_5xx_then_succeeds_and_gives_up_on_4xx(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request("/flaky").respond_with_data("busy", status=503)
    httpserver.expect_ordered_request("/flaky").respond_with_data("ok")
    records = await notify(settings(webhook_url=httpserver.url_for("/flaky")), summary())
    assert (records[0].ok, records[0].attempts) == (True, 2)
    httpserver.clear()
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    records = await notify(settings(webhook_url=httpserver.url_for("/gone")), summary())
    assert (records[0].ok, records[0].attempts, records[0].detail) == (False, 1, "HTTP 404")


async def test_slack_blocks_are_readable(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request("/services/T0/B0/XYZ", method="POST").respond_with_data("ok")
    records = await notify(settings(slack_webhook_url=httpserver.url_for("/services/T0/B0/XYZ")), summary("failed"))
    assert records[0].ok
    message = json.loads(httpserver.log[0][0].get_data())
    text = json.dumps(message["blocks"])
    assert message["blocks"][0]["text"]["text"] == "Harvest run failed"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in message["blocks"][2]["fields"]}
    assert fields["*Duration*"] == "1 min 35 s" and fields["*Trigger*"] == "timer"
    assert "10 added" in fields["*Documents*"] and "1 failed" in fields["*Sources*"]
    assert "feed answered 503 &lt;b&gt;three&lt;/b&gt; times" in text  # mrkdwn escaped
    assert message["blocks"][-1]["elements"][0]["url"].endswith("/api/runs/daily-2026-11-23/report")


async def test_channels_fire_only_on_their_statuses(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("ok")
    quiet = await notify(settings(webhook_url=httpserver.url_for("/hook")), summary("completed"))
    loud = await notify(settings(webhook_url=httpserver.url_for("/hook"), webhook_on="completed"), summary("completed"))
    assert quiet == [] and [r.ok for r in loud] == [True]


async def test_email_uses_starttls_and_login(smtp: SmtpServer) -> None:
    values = {k.removeprefix("HARVEST_").lower(): v for k, v in smtp_env(smtp).items()}
    records = await notify(settings(**values), summary())
    smtp_server = smtp
    assert [(r.channel, r.ok) for r in records] == [("email", True)], records
    got = smtp_server.handler.received[-1]
    assert got.tls and got.login == SMTP_USER
    assert got.rcpt_tos == ["ops@example.org", "oncall@example.org"]
    assert got.message["Subject"] == "[Harvest] run daily-2026-11-23 partial"
    body = got.message.get_payload()
    assert "10 added" in body and "news: feed answered 503" in body and "https://harvest.example.org" in body


async def test_email_with_wrong_password_fails_without_leaking_it(smtp: SmtpServer) -> None:
    env = smtp_env(smtp) | {"HARVEST_SMTP_PASSWORD": "not-the-password"}
    values = {k.removeprefix("HARVEST_").lower(): v for k, v in env.items()}
    records = await notify(settings(**values), summary())
    assert not records[0].ok and records[0].attempts == 1
    assert "not-the-password" not in (records[0].detail or "")


async def test_dead_receivers_are_recorded_not_raised(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}/services/T/B/secret-token-path"
    records = await notify(settings(webhook_url=dead, slack_webhook_url=dead, smtp_host="127.0.0.1",
                                    smtp_port=free_port(), smtp_to="ops@example.org"), summary())
    assert sorted(r.channel for r in records) == ["email", "slack", "webhook"]
    assert all(not r.ok and r.attempts == 3 for r in records)
    assert all("secret-token-path" not in (r.detail or "") for r in records)


def test_smtp_env_is_settings_shaped(smtp: SmtpServer) -> None:
    values = {k.removeprefix("HARVEST_").lower(): v for k, v in smtp_env(smtp).items()}
    assert settings(**values).smtp_port == smtp.port

