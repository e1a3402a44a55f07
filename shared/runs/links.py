"""Harvest's own URLs of a run (status, report, cancel, suspend, resume) under the app's origin."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def run_links(base: str, run_id: str) -> dict[str, str]:
    """The run's status, report and control URLs under ``base`` (``https://host``)."""
    run = f"{base}/api/runs/{quote(run_id, safe='')}"
    return {"statusQueryGetUri": run, "reportGetUri": f"{run}/report", "cancelPostUri": f"{run}/cancel",
            "suspendPostUri": f"{run}/suspend", "resumePostUri": f"{run}/resume"}
