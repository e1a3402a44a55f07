"""A Slack incoming webhook: Block Kit message with status, counts, duration, top errors and a link."""

from __future__ import annotations

from typing import Any

import aiohttp

from shared.notify.delivery import http_failure
from shared.notify.message import Notice

EMOJI = {"completed": ":white_check_mark:", "partial": ":warning:", "failed": ":x:", "cancelled": ":no_entry_sign:"}


def escape(text: str) -> str:
    """Slack mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def blocks(notice: Notice) -> dict[str, Any]:
    fields = [("Status", notice.status), ("Trigger", notice.trigger), ("Duration", notice.duration_text()),
              ("Sources", notice.sources_text()), ("Documents", notice.counts_text())]
    out: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Harvest run {notice.status}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{EMOJI.get(notice.status, '')} `{escape(notice.run_id)}`"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{escape(v)}"} for k, v in fields]},
    ]
    if notice.top_errors:
        lines = []
        for e in notice.top_errors:
            where = " ".join(escape(str(e[k])) for k in ("source_id", "stage", "doc_id") if e.get(k))
            lines.append(f"• *{where or 'run'}*: {escape(str(e.get('reason', '')))[:280]}")
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": "*Top errors*\n" + "\n".join(lines)}})
    link = notice.links.get("report") or notice.links.get("run") or notice.links.get("status")
    if link:
        out.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open run report"}, "url": link}]})
    return {"text": f"{notice.title}: {notice.counts_text()}", "blocks": out}


async def send_slack(notice: Notice, *, url: str, timeout: float) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http, \
            http.post(url, json=blocks(notice), allow_redirects=False) as resp:
        if resp.status >= 300:
            raise http_failure(resp.status, resp.headers.get("Retry-After"))
