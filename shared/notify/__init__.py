"""Notifications when a run ends: a signed webhook, a Slack incoming webhook, email over SMTP.

Each channel is configured by settings, fires on the statuses it lists (``HARVEST_*_ON``), retries with
backoff, and reports its outcome as a ``NotificationRecord``; a failed notification is logged and
recorded, never raised, and never changes the run's result.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from pydantic import SecretStr

from shared.models import NotificationRecord, RunSummary
from shared.notify.delivery import deliver
from shared.notify.message import build_notice
from shared.notify.slack import send_slack
from shared.notify.smtp import send_email
from shared.notify.webhook import send_webhook
from shared.redact import redact_text, register_secret
from shared.settings import Settings

log = logging.getLogger("harvest.notify")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def channels(settings: Settings, summary: RunSummary) -> dict[str, Callable[[], Awaitable[None]]]:
    """The configured channels that fire for this run's status, each as a one-attempt callable."""
    notice = build_notice(summary, public_url=settings.public_url)
    out: dict[str, Callable[[], Awaitable[None]]] = {}
    timeout = settings.notify_timeout
    webhook, slack = _secret(settings.webhook_url), _secret(settings.slack_webhook_url)
    if webhook and summary.status in settings.notify_on("webhook"):
        secret = _secret(settings.webhook_secret)
        out["webhook"] = lambda: send_webhook(notice, url=webhook, secret=secret, timeout=timeout)
    if slack and summary.status in settings.notify_on("slack"):
        out["slack"] = lambda: send_slack(notice, url=slack, timeout=timeout)
    recipients = [r.strip() for r in settings.smtp_to.split(",") if r.strip()]
    if settings.smtp_host and recipients and summary.status in settings.notify_on("email"):
        host = settings.smtp_host
        out["email"] = lambda: send_email(
            notice, host=host, port=settings.smtp_port, security=settings.smtp_security,
            username=settings.smtp_username, password=_secret(settings.smtp_password),
            sender=settings.smtp_from or f"harvest@{host}", recipients=recipients,
            ca_file=settings.smtp_ca_file, timeout=timeout)
    return out


async def notify(settings: Settings, summary: RunSummary) -> list[NotificationRecord]:
    """Send every channel that applies, concurrently; never raises."""
    for secret in (settings.webhook_url, settings.webhook_secret, settings.slack_webhook_url, settings.smtp_password):
        register_secret(_secret(secret))
    todo = channels(settings, summary)

    async def one(name: str, attempt: Callable[[], Awaitable[None]]) -> NotificationRecord:
        ok, attempts, error = await deliver(name, attempt, settings.notify_attempts)
        error = redact_text(error) if error else None
        if ok:
            log.info("run %s: %s notification sent", summary.run_id, name)
        else:
            log.warning("run %s: %s notification failed after %d attempt(s): %s", summary.run_id, name,
                        attempts, error)
        return NotificationRecord(channel=name, ok=ok, attempts=attempts, detail=error, at=datetime.now(UTC))

    return list(await asyncio.gather(*(one(name, fn) for name, fn in todo.items())))
