"""A local HTTP server that speaks the Azure OpenAI embeddings REST protocol, strictly.

``POST /openai/deployments/{deployment}/embeddings?api-version=...`` with ``api-key`` or
``Authorization: Bearer`` auth. It enforces what the service enforces — known deployment, api-version,
valid unexpired tokens, non-empty string inputs, at most 2048 inputs and ``max_request_tokens`` tokens a
request, at most 8191 tokens an input (counted with cl100k_base), ``dimensions`` only for
text-embedding-3 models — and answers with deterministic lexical vectors (feature hashing), as floats or
base64. ``script`` queues canned failures (status, headers) served to the next requests, in order.

**Quota** (``tpm`` / ``rpm``, off by default): like a deployment's tokens- and requests-per-minute quota,
over a sliding window of ``window`` seconds (60; tests scale it down). A request is counted when it is
accepted (a 429 is not); one that would take the window over either quota is refused with 429, the
service's error body, and ``retry-after-ms`` / ``retry-after`` saying when the window will have room for it.
Every answer of a deployment with a quota carries ``x-ratelimit-remaining-tokens`` /
``x-ratelimit-remaining-requests`` (after this request), and ``x-ratelimit-limit-*`` unless
``limit_headers`` is off (some API versions send only the remaining counts); ``rate_headers=False``
sends none of them (a gateway that strips them). A single request larger than the whole TPM quota is
accepted only into an empty window.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from shared.embedding.hashing import HashingEmbedder
from shared.embedding.openai_tokens import cl100k

NATIVE = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}
PATH = re.compile(r"^/openai/deployments/(?P<deployment>[^/]+)/embeddings$")


def expected_vectors(texts: list[str], dims: int) -> np.ndarray:
    """The vectors the fake returns for ``texts`` (already L2-normalised)."""
    embedder = HashingEmbedder()
    embedder.dim = dims  # the hashing embedder sizes everything by ``self.dim``
    return embedder.embed_passages(texts)


@dataclass
class Seen:
    deployment: str
    api_version: str | None
    auth: str
    inputs: list[str]
    dimensions: int | None
    encoding_format: str | None
    tokens: int
    started: float
    status: int = 200
    finished: float = 0.0


@dataclass
class FakeAzureOpenAI:
    deployment: str = "emb"
    model: str = "text-embedding-3-small"
    api_key: str | None = None
    max_request_tokens: int = 300_000
    delay: float = 0.0
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    valid_tokens: dict[str, float] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    tpm: int | None = None
    rpm: int | None = None
    window: float = 60.0
    rate_headers: bool = True
    limit_headers: bool = True
    throttled: int = 0  # 429s served for the quota (scripted ones not included)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._accepted: deque[tuple[float, int]] = deque()  # (time, tokens) inside the quota window
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeAzureOpenAI:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue_token(self, token: str, expires_on: float) -> None:
        with self._lock:
            self.valid_tokens[token] = expires_on

    # -- request handling -------------------------------------------------------------------------

    def _handle(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], Any]:
        url = urlsplit(path)
        match = PATH.match(url.path)
        if method != "POST" or not match:
            return 404, {}, _error("404", "Resource not found")
        query = parse_qs(url.query)
        version = (query.get("api-version") or [None])[0]
        if not version:
            return 404, {}, _error("404", "Resource not found")  # what the service says without api-version
        auth = self._check_auth(headers)
        if isinstance(auth, tuple):
            return auth
        payload = json.loads(body or b"{}")
        inputs = payload.get("input")
        dims = payload.get("dimensions")
        seen = Seen(deployment=match["deployment"], api_version=version, auth=auth, inputs=inputs if isinstance(
            inputs, list) else [inputs], dimensions=dims, encoding_format=payload.get("encoding_format"), tokens=0,
            started=time.monotonic())
        with self._lock:
            self.requests.append(seen)
            canned = self.script.pop(0) if self.script else None
        if canned is not None:
            seen.status = canned[0]
            seen.finished = time.monotonic()
            return canned[0], canned[1], _error(str(canned[0]), "scripted failure")
        if match["deployment"] != self.deployment:
            seen.status = 404
            return 404, {}, _error("DeploymentNotFound", "The API deployment for this resource does not exist.")
        problem = self._check_input(seen)
        if problem:
            seen.status = 400
            return 400, {}, _error("invalid_request_error", problem)
        refused = self._check_quota(seen)
        if refused is not None:
            return refused
        return 200, self._quota_headers(), self._embed(seen)

    # -- quota ------------------------------------------------------------------------------------

    def _check_quota(self, seen: Seen) -> tuple[int, dict[str, str], Any] | None:
        if self.tpm is None and self.rpm is None:
            return None
        with self._lock:
            now = time.monotonic()
            while self._accepted and self._accepted[0][0] <= now - self.window:
                self._accepted.popleft()
            if self._fits(seen.tokens, skip=0):
                self._accepted.append((now, seen.tokens))
                return None
            wait = next(when + self.window - now for skip, (when, _) in enumerate(self._accepted, start=1)
                        if self._fits(seen.tokens, skip=skip))
            self.throttled += 1
        seen.status, seen.finished = 429, time.monotonic()
        headers = {**self._quota_headers(), "retry-after-ms": str(max(1, math.ceil(wait * 1000))),
                   "retry-after": str(max(1, math.ceil(wait)))}
        message = (f"Requests to the Embeddings_Create Operation under Azure OpenAI API version {seen.api_version} "
                   f"have exceeded call rate limit of your current OpenAI S0 pricing tier. Please retry after "
                   f"{headers['retry-after']} seconds.")
        return 429, headers, _error("429", message)

    def _fits(self, tokens: int, *, skip: int) -> bool:
        """Whether a request of ``tokens`` fits once the ``skip`` oldest accepted requests have left the window."""
        kept = list(self._accepted)[skip:]
        used = sum(t for _, t in kept)
        return (self.tpm is None or used + tokens <= self.tpm or not kept) and (
            self.rpm is None or len(kept) + 1 <= self.rpm)

    def _quota_headers(self) -> dict[str, str]:
        if (self.tpm is None and self.rpm is None) or not self.rate_headers:
            return {}
        with self._lock:
            now = time.monotonic()
            kept = [t for when, t in self._accepted if when > now - self.window]
        headers = {}
        for name, limit, used in (("tokens", self.tpm, sum(kept)), ("requests", self.rpm, len(kept))):
            if limit is not None:
                headers[f"x-ratelimit-remaining-{name}"] = str(max(0, limit - used))
                if self.limit_headers:
                    headers[f"x-ratelimit-limit-{name}"] = str(limit)
        return headers

    def accepted_tokens(self, since: float, until: float) -> int:
        """Tokens of the requests accepted (answered 200) that arrived in ``[since, until)`` (monotonic)."""
        return sum(r.tokens for r in self.requests if r.status == 200 and since <= r.started < until)

    def _check_auth(self, headers: Any) -> str | tuple[int, dict[str, str], Any]:
        if self.api_key is not None:
            if headers.get("api-key") != self.api_key or headers.get("Authorization"):
                return 401, {}, _error("401", "Access denied due to invalid subscription key.")
            return "api-key"
        bearer = headers.get("Authorization") or ""
        token = bearer.removeprefix("Bearer ")
        with self._lock:
            expires = self.valid_tokens.get(token)
        if headers.get("api-key") or not bearer.startswith("Bearer ") or expires is None or expires <= time.time():
            return 401, {}, _error("401", "Unauthorized. Access token is missing, invalid or expired.")
        return token

    def _check_input(self, seen: Seen) -> str | None:
        inputs = seen.inputs
        if not inputs or not all(isinstance(text, str) and text for text in inputs):
            return "'input' must be a non-empty string or array of non-empty strings"
        if len(inputs) > 2048:
            return "Too many inputs. The max number of inputs is 2048."
        counts = [len(cl100k().encode_ordinary(text)) for text in inputs]
        seen.tokens = sum(counts)
        if max(counts) > 8191:
            return "This model's maximum context length is 8192 tokens."
        if seen.tokens > self.max_request_tokens:
            return f"Too many tokens in one request: {seen.tokens} > {self.max_request_tokens}"
        if seen.dimensions is not None and (
            not self.model.startswith("text-embedding-3") or not 1 <= seen.dimensions <= NATIVE[self.model]
        ):
            return "This model does not support specifying dimensions."
        return None

    def _embed(self, seen: Seen) -> dict[str, Any]:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            vectors = expected_vectors(seen.inputs, seen.dimensions or NATIVE[self.model])
        finally:
            with self._lock:
                self.in_flight -= 1
        data = [
            {"object": "embedding", "index": i,
             "embedding": base64.b64encode(v.astype("<f4").tobytes()).decode() if seen.encoding_format == "base64"
             else [float(x) for x in v]}
            for i, v in reversed(list(enumerate(vectors)))  # out of order on purpose: clients sort by index
        ]
        usage = {"prompt_tokens": seen.tokens, "total_tokens": seen.tokens}
        return {"object": "list", "data": data, "model": self.model, "usage": usage}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, payload = fake._handle("POST", self.path, self.headers, body)
                raw = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}
