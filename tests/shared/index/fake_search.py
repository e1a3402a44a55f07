"""A local HTTP server that speaks the subset of the Azure AI Search REST API (api-version 2026-04-01) that
``azure-search-documents`` 12 calls for Harvest, strictly, so the real SDK client can be tested against it.

Routes (OData-style paths, as the SDK sends them) and what they enforce, after the REST reference
(learn.microsoft.com/rest/api/searchservice: "Indexes", "Aliases", "Documents", "Add, update or delete
documents", "Search Documents (POST)", "HTTP status codes", "Naming rules", "Service limits"):

- auth: ``api-key`` equal to ``api_key``, or ``Authorization: Bearer`` with a token in ``tokens`` (401 else);
  ``api-version`` must be ``API_VERSION`` (400 else);
- ``PUT/GET/DELETE /indexes('{name}')``, ``GET /indexes``: names are lowercase letters, digits and dashes,
  no leading/trailing dash, at most 128 characters; ``If-None-Match: *`` / ``If-Match`` on a PUT answer 412
  when not met; exactly one key field of type ``Edm.String``; vector
  fields are ``Collection(Edm.Single)`` with 2-4096 ``dimensions`` and a profile that exists; an existing
  field's type or dimensions cannot change (400). An index cannot be deleted through an alias;
- ``PUT/GET/DELETE /aliases('{name}')``: an alias maps exactly one existing index; document operations
  and ``GET /indexes('{alias}')`` resolve it;
- ``POST /indexes('{name}')/docs/search.index``: at most 1000 actions and 16 MB a request (413 else); keys
  only letters, digits, ``_``, ``-``, ``=``, at most 1024 characters, not starting with ``_`` (400 for the
  request); vectors must have the field's dimensions (400); ``upload`` replaces, ``merge`` needs the
  document (404 for that key), ``mergeOrUpload`` merges or uploads, ``delete`` of an absent key succeeds.
  The answer is 200 when every action succeeded, else 207 with a per-key ``status``/``statusCode``;
- ``GET /indexes('{name}')/docs/$count``: the count, as text;
- ``POST /indexes('{name}')/docs/search.post.search``: ``vectorQueries`` (exhaustive cosine kNN; the score
  is ``1 / (1 + (1 - cosine))``, as the service scores cosine), optional ``search`` text (then hybrid:
  reciprocal rank fusion, k = 60, of the vector ranking and a term-match ranking), ``filter`` (only
  ``field eq|gt|lt|ge|le 'value'`` terms joined by ``and``), ``orderby`` (one sortable field), ``select``,
  ``top``, ``skip``.

Faults on demand: ``script`` queues ``(status, headers)`` answers served to the next document requests in
order (e.g. ``(503, {"Retry-After": "1"})``, ``(429, ...)``, ``(413, {})``); ``fail_keys`` fails those keys
in a 207 with ``fail_status`` (503) ``fail_times`` times each before they succeed; ``max_bytes`` lowers the
request size limit (to provoke 413s cheaply).

What it cannot imitate (docs/index.md says so too): BM25 ranking and analyzers (term counting stands in),
HNSW's approximate neighbours (exhaustive here), semantic ranking, the service's full OData filter grammar,
eventual visibility (a write is searchable at once here; the service makes it searchable within seconds),
throttling driven by real load (faults are scripted), and Entra ID token validation (any listed token).
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

API_VERSION = "2026-04-01"
MAX_ACTIONS = 1000
MAX_BYTES = 16 * 1024 * 1024
INDEX_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$")
KEY = re.compile(r"^[A-Za-z0-9\-=][A-Za-z0-9_\-=]{0,1023}$")
ROUTE = re.compile(r"^/(?P<kind>indexes|aliases)(?:\('(?P<name>[^']*)'\))?(?P<rest>/.*)?$")
TERM = re.compile(r"^\s*(\w+)\s+(eq|gt|lt|ge|le)\s+'((?:[^']|'')*)'\s*$")


class Refused(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class FakeSearch:
    api_key: str | None = "test-admin-key"
    tokens: set[str] = field(default_factory=set)
    max_bytes: int = MAX_BYTES
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    fail_keys: set[str] = field(default_factory=set)
    fail_status: int = 503
    fail_times: int = 1
    indexes: dict[str, dict[str, Any]] = field(default_factory=dict)  # name → definition
    docs: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # index → key → document
    aliases: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status
    actions_seen: int = 0
    _failures: dict[str, int] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- helpers --------------------------------------------------------------------------------
    def resolve(self, name: str) -> str:
        name = self.aliases.get(name, name)
        if name not in self.indexes:
            raise Refused(404, f"The index '{name}' for service 'fake' was not found.")
        return name

    def _key_field(self, index: str) -> str:
        return next(f["name"] for f in self.indexes[index]["fields"] if f.get("key"))

    def _vector_fields(self, index: str) -> dict[str, int]:
        return {f["name"]: int(f["dimensions"]) for f in self.indexes[index]["fields"]
                if f.get("type") == "Collection(Edm.Single)"}

    # -- indexes and aliases ----------------------------------------------------------------------
    def put_index(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("name") != name or not INDEX_NAME.match(name):
            raise Refused(400, f"Invalid index name '{name}': lowercase letters, digits or dashes, at most 128.")
        fields = body.get("fields") or []
        keys = [f for f in fields if f.get("key")]
        if len(keys) != 1 or keys[0].get("type") != "Edm.String":
            raise Refused(400, "The index must have exactly one key field of type Edm.String.")
        profiles = {p["name"] for p in (body.get("vectorSearch") or {}).get("profiles") or []}
        for f in fields:
            if f.get("type") == "Collection(Edm.Single)":
                dims = f.get("dimensions")
                if not isinstance(dims, int) or not 2 <= dims <= 4096:
                    raise Refused(400, f"Vector field '{f['name']}' needs dimensions between 2 and 4096.")
                if f.get("vectorSearchProfile") not in profiles:
                    raise Refused(400, f"Vector field '{f['name']}' names an unknown profile.")
        old = self.indexes.get(name)
        if old is not None:
            before = {f["name"]: (f.get("type"), f.get("dimensions")) for f in old["fields"]}
            for f in fields:
                if f["name"] in before and before[f["name"]] != (f.get("type"), f.get("dimensions")):
                    raise Refused(400, f"Existing field '{f['name']}' cannot be changed.")
        self.indexes[name] = {**body, "@odata.etag": f'"{len(self.requests)}"'}
        self.docs.setdefault(name, {})
        return (200 if old is not None else 201), self.indexes[name]

    def delete_index(self, name: str) -> None:
        if name not in self.indexes:
            raise Refused(404, f"The index '{name}' was not found.")
        del self.indexes[name]
        self.docs.pop(name, None)

    def put_alias(self, name: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        targets = body.get("indexes") or []
        if body.get("name") != name or len(targets) != 1:
            raise Refused(400, "An alias maps exactly one index.")
        if targets[0] not in self.indexes:
            raise Refused(400, f"The index '{targets[0]}' does not exist.")
        created = name not in self.aliases
        self.aliases[name] = targets[0]
        return (201 if created else 200), {"name": name, "indexes": targets}

    # -- documents --------------------------------------------------------------------------------
    def index_documents(self, index: str, body: dict[str, Any], size: int) -> tuple[int, dict[str, Any]]:
        actions = body.get("value")
        if not isinstance(actions, list) or not actions:
            raise Refused(400, "The request has no actions.")
        if size > self.max_bytes or len(actions) > MAX_ACTIONS:
            raise Refused(413, "The request is too large: at most 1000 actions and 16 MB a request.")
        key_field = self._key_field(index)
        vectors = self._vector_fields(index)
        for action in actions:
            key = action.get(key_field)
            if not isinstance(key, str) or not KEY.match(key):
                raise Refused(400, f"Invalid document key: '{key}'. Keys can only contain letters, digits, "
                                   "underscore (_), dash (-), or equal sign (=).")
            for name, dims in vectors.items():
                vec = action.get(name)
                if vec is not None and (not isinstance(vec, list) or len(vec) != dims):
                    raise Refused(400, f"The vector field '{name}' must have {dims} dimensions.")
        self.actions_seen += len(actions)
        store = self.docs[index]
        results = []
        for action in actions:
            key = action[key_field]
            kind = action.get("@search.action", "upload")
            doc = {k: v for k, v in action.items() if k != "@search.action"}
            if key in self.fail_keys and self._failures.get(key, 0) < self.fail_times:
                self._failures[key] = self._failures.get(key, 0) + 1
                results.append({"key": key, "status": False, "statusCode": self.fail_status,
                                "errorMessage": "Service is too busy to process the document. Retry later."})
                continue
            if kind == "upload":
                store[key] = doc
            elif kind == "merge":
                if key not in store:
                    results.append({"key": key, "status": False, "statusCode": 404,
                                    "errorMessage": "Document not found."})
                    continue
                store[key] = {**store[key], **doc}
            elif kind == "mergeOrUpload":
                store[key] = {**store.get(key, {}), **doc}
            elif kind == "delete":
                store.pop(key, None)  # deleting an absent key succeeds too
                results.append({"key": key, "status": True, "statusCode": 200, "errorMessage": None})
                continue
            else:
                raise Refused(400, f"Unknown action '{kind}'.")
            results.append({"key": key, "status": True, "statusCode": 201 if kind != "merge" else 200,
                            "errorMessage": None})
        status = 200 if all(r["status"] for r in results) else 207
        return status, {"value": results}

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        rows = list(self.docs[index].values())
        rows = [r for r in rows if _matches(r, body.get("filter"))]
        ranked: list[tuple[float, dict[str, Any]]]
        vq = body.get("vectorQueries") or []
        if vq:
            q = vq[0]
            dims = self._vector_fields(index).get(q.get("fields", ""))
            vector = q.get("vector") or []
            if dims is None or len(vector) != dims:
                raise Refused(400, f"The vector query must have {dims} dimensions on a vector field.")
            by_vec = sorted(((_cosine_score(r.get(q["fields"]) or [], vector), r) for r in rows),
                            key=lambda t: -t[0])[: int(q.get("k") or 50)]
            text = (body.get("search") or "").strip()
            if text and text != "*":
                by_text = sorted(((_terms(r, text), r) for r in rows), key=lambda t: -t[0])
                by_text = [t for t in by_text if t[0] > 0]
                fused: dict[int, tuple[float, dict[str, Any]]] = {}
                for ranking in (by_vec, by_text):
                    for rank, (_, r) in enumerate(ranking, 1):
                        prev = fused.get(id(r), (0.0, r))[0]
                        fused[id(r)] = (prev + 1.0 / (60 + rank), r)
                ranked = sorted(fused.values(), key=lambda t: -t[0])
            else:
                ranked = by_vec
        else:
            ranked = [(1.0, r) for r in rows]
        order = (body.get("orderby") or "").strip()
        if order:
            name, _, direction = order.partition(" ")
            ranked.sort(key=lambda t: str(t[1].get(name)), reverse=direction.strip().lower() == "desc")
        skip, top = int(body.get("skip") or 0), int(body.get("top") or 50)
        select = [s.strip() for s in (body.get("select") or "").split(",") if s.strip()]
        out = []
        for score, r in ranked[skip:skip + top]:
            row = {k: v for k, v in r.items() if not select or k in select}
            out.append({"@search.score": score, **row})
        return {"value": out}


def _cosine_score(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
    cosine = dot / (na * nb) if na and nb else 0.0
    return 1.0 / (1.0 + (1.0 - cosine))


def _terms(row: dict[str, Any], text: str) -> float:
    words = re.findall(r"\w+", text.lower())
    hay = f"{row.get('title') or ''} {row.get('text') or ''}".lower()
    return float(sum(hay.count(w) for w in words))


def _matches(row: dict[str, Any], expr: str | None) -> bool:
    if not expr:
        return True
    for part in re.split(r"\s+and\s+", expr):
        m = TERM.match(part)
        if m is None:
            raise Refused(400, f"The stand-in understands only `field op 'value'` terms joined by and: {part!r}")
        name, op, value = m.group(1), m.group(2), m.group(3).replace("''", "'")
        have = str(row.get(name))
        ok = {"eq": have == value, "gt": have > value, "lt": have < value, "ge": have >= value,
              "le": have <= value}[op]
        if not ok:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSearch
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
              text: str | None = None) -> None:
        data = b"" if body is None and text is None else (
            text.encode() if text is not None else json.dumps(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", "text/plain" if text is not None else "application/json; odata.metadata=none")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        fake = self.fake
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status = 500
        try:
            with fake.lock:
                status, body, headers, text = self._route(method, path, parse_qs(parts.query), raw)
            self._send(status, body, headers, text)
        except Refused as exc:
            status = exc.status
            self._send(exc.status, {"error": {"code": "", "message": exc.message}}, exc.headers)
        finally:
            with fake.lock:
                fake.requests.append((method, path, status))

    def _route(self, method: str, path: str, query: dict[str, list[str]],
               raw: bytes) -> tuple[int, Any, dict[str, str] | None, str | None]:
        fake = self.fake
        if query.get("api-version") != [API_VERSION]:
            raise Refused(400, f"Invalid or missing api-version (this service speaks {API_VERSION}).")
        auth = self.headers.get("Authorization", "")
        key_ok = fake.api_key is not None and self.headers.get("api-key") == fake.api_key
        token_ok = auth.startswith("Bearer ") and auth[7:] in fake.tokens
        if not (key_ok or token_ok):
            raise Refused(401, "Authentication failed: no valid api-key or bearer token.")
        m = ROUTE.match(path)
        if m is None:
            raise Refused(404, f"No route {path}")
        kind, name, rest = m.group("kind"), m.group("name"), m.group("rest") or ""
        body = json.loads(raw) if raw else {}
        if rest.startswith("/docs"):
            if fake.script:
                status, headers = fake.script.pop(0)
                raise Refused(status, "Scripted failure.", headers)
            index = fake.resolve(name or "")
            if rest == "/docs/search.index" and method == "POST":
                status, out = fake.index_documents(index, body, len(raw))
                return status, out, None, None
            if rest == "/docs/$count" and method == "GET":
                return 200, None, None, str(len(fake.docs[index]))
            if rest == "/docs/search.post.search" and method == "POST":
                return 200, fake.search(index, body), None, None
            raise Refused(404, f"No route {method} {path}")
        if kind == "aliases":
            if name is None:
                return 200, {"value": [{"name": a, "indexes": [i]} for a, i in fake.aliases.items()]}, None, None
            if method == "PUT":
                status, out = fake.put_alias(name, body)
                return status, out, None, None
            if name not in fake.aliases:
                raise Refused(404, f"The alias '{name}' was not found.")
            if method == "GET":
                return 200, {"name": name, "indexes": [fake.aliases[name]]}, None, None
            if method == "DELETE":
                del fake.aliases[name]
                return 204, None, None, None
        if name is None and method == "GET":
            return 200, {"value": list(fake.indexes.values())}, None, None
        if name is not None and method == "PUT":
            self._precondition(fake.indexes.get(name))
            status, out = fake.put_index(name, body)
            return status, out, None, None
        if name is not None and method == "GET":
            return 200, fake.indexes[fake.resolve(name)], None, None
        if name is not None and method == "DELETE":
            fake.delete_index(name)  # never through an alias: an alias is not an index name
            return 204, None, None, None
        raise Refused(405, f"{method} is not supported on {path}")

    def _precondition(self, current: dict[str, Any] | None) -> None:
        """``If-None-Match: *`` (create only) and ``If-Match: <etag>`` (update only that version) on a resource:
        412 when not met ("Common HTTP request and response headers", "Manage concurrency in Azure AI Search")."""
        if self.headers.get("If-None-Match") == "*" and current is not None:
            raise Refused(412, "The precondition given in one of the request headers evaluated to false.")
        match = self.headers.get("If-Match")
        if match is not None and (current is None or (match != "*" and match != current.get("@odata.etag"))):
            raise Refused(412, "The precondition given in one of the request headers evaluated to false.")

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


class FakeSearchServer:
    """``with FakeSearchServer(fake) as url:`` serves ``fake`` on a free loopback port."""

    def __init__(self, fake: FakeSearch) -> None:
        self.fake = fake
        handler = type("Handler", (_Handler,), {"fake": fake})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> str:
        self.thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
