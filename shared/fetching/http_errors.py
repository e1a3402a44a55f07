"""A failed connection in words: what a run record, a report and the CLI say when a host cannot be reached
(``cannot reach news.example.org: the name does not resolve (DNS)``) instead of aiohttp's class name and
repr (``ClientConnectorDNSError: Cannot connect to host news.example.org:443 ssl:default [...]``)."""

from __future__ import annotations

import errno
import ssl
from urllib.parse import urlsplit

import aiohttp


def _where(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


def connection_failure(method: str, url: str, exc: BaseException) -> str:
    """``GET <url>: <what happened, in words>`` for a timeout or a connection, TLS or payload error."""
    host = _where(url)
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        what = f"cannot reach {host}: the name does not resolve (DNS)"
    elif isinstance(exc, aiohttp.ClientConnectorCertificateError):
        what = f"cannot reach {host}: its TLS certificate is not trusted ({exc.certificate_error})"
    elif isinstance(exc, aiohttp.ClientSSLError) or isinstance(getattr(exc, "os_error", None), ssl.SSLError):
        what = f"cannot reach {host}: the TLS handshake failed"
    elif isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        if isinstance(os_error, ConnectionRefusedError) or os_error.errno == errno.ECONNREFUSED:
            what = f"cannot reach {host}: connection refused (nothing listens there)"
        elif os_error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
            what = f"cannot reach {host}: no route to the host (network unreachable)"
        elif isinstance(os_error, TimeoutError) or os_error.errno == errno.ETIMEDOUT:
            what = f"cannot reach {host}: connecting timed out"
        else:
            what = f"cannot reach {host}: {os_error.strerror or os_error}"
    elif isinstance(exc, aiohttp.ConnectionTimeoutError):
        what = f"cannot reach {host}: connecting timed out"
    elif isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        what = f"{host} did not answer in time"
    elif isinstance(exc, aiohttp.ServerDisconnectedError):
        what = f"{host} closed the connection before answering"
    elif isinstance(exc, aiohttp.ClientPayloadError):
        what = f"{host} sent an incomplete or malformed body"
    elif isinstance(exc, aiohttp.ClientConnectionError):
        what = f"the connection to {host} failed ({str(exc) or type(exc).__name__})"
    else:
        what = f"{host}: {str(exc) or type(exc).__name__}"
    return f"{method} {url}: {what}"
