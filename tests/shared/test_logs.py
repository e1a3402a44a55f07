"""Structured logging: context ids on every record, terminal and JSON formats, secrets masked."""

from __future__ import annotations

import io
import json
import logging

from shared.logs import JsonFormatter, TerminalFormatter, configure_logging, log_context
from shared.redact import redact_text, register_secret


def capture(formatter: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    configure_logging()  # installs the record factory (idempotent)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"harvest.test.{id(formatter)}")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_context_ids_are_on_every_line_in_json() -> None:
    logger, stream = capture(JsonFormatter())
    with log_context(run_id="run-1", source_id="docs", instance_id="run-1:docs"):
        logger.info("fetched %d documents", 3)
        with log_context(source_id="news"):
            logger.warning("slow")
    logger.info("outside")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0] | {"time": None} == {"time": None, "level": "INFO", "logger": logger.name,
                                         "message": "fetched 3 documents", "run_id": "run-1",
                                         "source_id": "docs", "instance_id": "run-1:docs"}
    assert lines[1]["source_id"] == "news" and lines[1]["run_id"] == "run-1"
    assert "run_id" not in lines[2]


def test_terminal_lines_are_readable_and_secrets_masked() -> None:
    logger, stream = capture(TerminalFormatter())
    register_secret("hunter2-secret-value")
    with log_context(run_id="run-7"):
        logger.info("posting to https://u:pw@example.org/x?sig=abc&x=1 with hunter2-secret-value")
    line = stream.getvalue().strip()
    assert "[run=run-7]" in line and "INFO harvest.test" in line
    assert "hunter2-secret-value" not in line and "pw@" not in line and "sig=***" in line


def test_redact_patterns() -> None:
    text = redact_text("AccountKey=abc==;x Authorization: Bearer t0k https://hooks.slack.com/services/T/B/C password=p")
    assert "abc==" not in text and "t0k" not in text and "T/B/C" not in text and "password=***" in text


def test_oauth_parameters_are_masked_in_log_lines() -> None:
    logger, stream = capture(JsonFormatter())
    logger.info("token request grant_type=client_credentials&client_secret=cs-live-1 -> access_token=at-live-2")
    line = stream.getvalue()
    assert "cs-live-1" not in line and "at-live-2" not in line and "grant_type=client_credentials" in line
