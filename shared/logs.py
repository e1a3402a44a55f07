"""Structured logging: ``run_id``, ``source_id`` and ``instance_id`` on every record, from contextvars.

``log_context(run_id=..., source_id=...)`` sets them for the code it wraps (activities, HTTP routes);
a log record factory copies them onto every record, so every handler (the terminal, the Functions
worker, OpenTelemetry) sees them. ``configure_logging()`` picks the format: readable lines on a terminal,
one JSON object a line in Azure. With ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set, records are also
exported through OpenTelemetry (``azure-monitor-opentelemetry``, imported only then; optional).
Secrets never appear: messages and tracebacks go through ``shared.redact``.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from shared.redact import redact_text, register_secret

FIELDS = ("run_id", "source_id", "instance_id")
_VARS: dict[str, contextvars.ContextVar[str | None]] = {
    name: contextvars.ContextVar(f"harvest_{name}", default=None) for name in FIELDS
}
_state: dict[str, Any] = {"factory": None, "configured": False, "otel": False}


@contextlib.contextmanager
def log_context(**values: str | None) -> Iterator[None]:
    """Set ``run_id`` / ``source_id`` / ``instance_id`` for the wrapped code (unknown keys are ignored)."""
    tokens = [(_VARS[k], _VARS[k].set(v)) for k, v in values.items() if k in _VARS and v is not None]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def _install_record_factory() -> None:
    if _state["factory"] is not None:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        for name, var in _VARS.items():
            if not hasattr(record, name):
                setattr(record, name, var.get())
        return record

    _state["factory"] = previous
    logging.setLogRecordFactory(factory)


def _message(record: logging.LogRecord) -> str:
    return redact_text(record.getMessage())


class TerminalFormatter(logging.Formatter):
    """``12:00:01 INFO harvest.activities [run=… source=…] message``."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        ctx = " ".join(f"{k.split('_')[0]}={v}" for k in FIELDS if (v := getattr(record, k, None)))
        line = f"{when} {record.levelname} {record.name}" + (f" [{ctx}]" if ctx else "") + f": {_message(record)}"
        if record.exc_info:
            line += "\n" + redact_text(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": _message(record),
        }
        body.update({k: v for k in FIELDS if (v := getattr(record, k, None))})
        if record.exc_info:
            body["exception"] = redact_text(self.formatException(record.exc_info))
        return json.dumps(body, ensure_ascii=False)


def choose_format(setting: str = "auto") -> str:
    if setting in ("text", "json"):
        return setting
    return "json" if os.environ.get("WEBSITE_INSTANCE_ID") else "text"


def configure_logging(level: str | int | None = None, fmt: str | None = None, *,
                      stream: Any = None, force: bool = False) -> None:
    """Idempotent. Installs the context factory; formats the root handlers (adds one if there is none)."""
    _install_record_factory()
    if _state["configured"] and not force:
        return
    settings = _settings()
    fmt = choose_format(fmt or (settings.log_format if settings else "auto"))
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TerminalFormatter()
    root = logging.getLogger()
    if not root.handlers or force:
        for handler in list(root.handlers) if force else []:
            root.removeHandler(handler)
        root.addHandler(logging.StreamHandler(stream or sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    level = level or (settings.log_level if settings else None)
    if level:
        logging.getLogger("harvest").setLevel(level if isinstance(level, int) else str(level).upper())
    if settings is not None:
        for name in ("webhook_url", "webhook_secret", "slack_webhook_url", "smtp_password"):
            secret = getattr(settings, name, None)
            register_secret(secret.get_secret_value() if secret is not None else None)
    _state["configured"] = True
    _export_to_azure_monitor()


def _settings() -> Any:
    try:
        from shared.settings import get_settings

        return get_settings()
    except Exception:  # logging must come up even with bad settings (they are reported elsewhere)
        return None


def _export_to_azure_monitor() -> None:
    connection = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if not connection or _state["otel"]:
        return
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor  # optional dependency
    except ImportError:
        logging.getLogger("harvest").warning(
            "APPLICATIONINSIGHTS_CONNECTION_STRING is set but azure-monitor-opentelemetry is not installed; "
            "logs are not exported (pip install 'harvest[azure-monitor]')")
        return
    configure_azure_monitor(connection_string=connection, logger_name="harvest")
    _state["otel"] = True
