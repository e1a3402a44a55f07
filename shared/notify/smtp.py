"""Email over SMTP: STARTTLS on the submission port (or implicit TLS with ``HARVEST_SMTP_SECURITY=ssl``),
login with the configured credentials, one plain-text message. Credentials are never sent in clear: a
server that does not offer STARTTLS is an error."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from shared.notify.delivery import DeliveryError
from shared.notify.message import Notice


def compose(notice: Notice, *, sender: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[Harvest] run {notice.run_id} {notice.status}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=notice.run_id.replace(":", "-"), domain="harvest.local")
    lines = [notice.title, "", f"Status:    {notice.status}", f"Trigger:   {notice.trigger}",
             f"Duration:  {notice.duration_text()}", f"Sources:   {notice.sources_text()}",
             f"Documents: {notice.counts_text()}"]
    if notice.failed_sources:
        lines.append(f"Failed sources: {', '.join(notice.failed_sources)}")
    if notice.top_errors:
        lines += ["", "Top errors:"]
        for e in notice.top_errors:
            where = " ".join(str(e[k]) for k in ("source_id", "stage", "doc_id") if e.get(k)) or "run"
            lines.append(f"  - {where}: {str(e.get('reason', ''))[:300]}")
    for name, url in notice.links.items():
        lines.append(f"{name.capitalize()}: {url}")
    msg.set_content("\n".join(lines) + "\n")
    return msg


def _send(msg: EmailMessage, *, host: str, port: int, security: str, username: str | None,
          password: str | None, ca_file: str | None, timeout: float) -> None:
    context = ssl.create_default_context(cafile=ca_file)
    if security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        smtp.ehlo()
        if security == "starttls":
            if not smtp.has_extn("starttls"):
                raise DeliveryError(f"{host}:{port} does not offer STARTTLS", retry=False)
            smtp.starttls(context=context)
            smtp.ehlo()
        if username:
            try:
                smtp.login(username, password or "")
            except smtplib.SMTPAuthenticationError as exc:
                raise DeliveryError(f"SMTP login refused ({exc.smtp_code})", retry=False) from None
        refused = smtp.send_message(msg)
        if refused:
            raise DeliveryError(f"recipients refused: {', '.join(sorted(refused))}", retry=False)


async def send_email(notice: Notice, *, host: str, port: int, security: str, username: str | None,
                     password: str | None, sender: str, recipients: list[str], ca_file: str | None,
                     timeout: float) -> None:
    msg = compose(notice, sender=sender, recipients=recipients)
    await asyncio.to_thread(_send, msg, host=host, port=port, security=security, username=username,
                            password=password, ca_file=ca_file, timeout=timeout)
