"""Fetching over HTTP: the one outbound client (SSRF guard, retries, Retry-After), its errors in words,
robots.txt, backoff, media types, source credentials."""
