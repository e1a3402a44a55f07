"""Harvest's own URLs of a run (status, report, cancel, suspend, resume) under the app's origin."""

from __future__ import annotations

from urllib.parse import quote, urlsplit


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def lasting_status_url(run_id: str, *, public_url: str | None, website_hostname: str | None) -> str | None:
    """Harvest's status URL of a run (``/api/runs/{id}``, never a Durable management URL, whose query carries
    the system key) under an origin known to outlive the host process: the configured public URL, else the
    app's hostname in Azure (``WEBSITE_HOSTNAME``, set by App Service). A local host (``harvest run``'s own, on
    a port that is gone when it exits) gives None: the run record keeps no URL, and the live view answers with
    the caller's own origin."""
    base = public_url.rstrip("/") if public_url else (f"https://{website_hostname}" if website_hostname else None)
    return run_links(base, run_id)["statusQueryGetUri"] if base else None


def run_links(base: str, run_id: str) -> dict[str, str]:
    """The run's status, report and control URLs under ``base`` (``https://host``)."""
    run = f"{base}/api/runs/{quote(run_id, safe='')}"
    return {"statusQueryGetUri": run, "reportGetUri": f"{run}/report", "cancelPostUri": f"{run}/cancel",
            "suspendPostUri": f"{run}/suspend", "resumePostUri": f"{run}/resume"}
