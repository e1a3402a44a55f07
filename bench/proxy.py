"""A transparent, counting TCP proxy in front of Azurite: Blob operations and history events, per container.

It forwards bytes unchanged (so SharedKey signatures stay valid) and parses only what it needs: each
request's line and headers (and its body length, to find the next request on a kept-alive connection).
Responses are piped through untouched. Costs well under a millisecond per request.

Counts: ``ops[container][op]`` with ``op`` one of get, put, head, list, append, lease, delete, other.
History events: the local host appends one JSON line per replay round to
``instances/<id>/history-<execution>.jsonl`` in ``durable-<hub>``; the proxy reads the appended line and
adds ``len(events)`` to ``history[<id>]`` — so executions that ``continue_as_new`` later deletes are
counted too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devhost.store import decode_id


def classify(method: str, target: str) -> tuple[str, str, str]:
    """(container, op, blob path) of one Blob REST request ``METHOD /account/container/blob?query``."""
    parts = urlsplit(target)
    query = parse_qs(parts.query)
    comp = (query.get("comp") or [""])[0]
    segments = unquote(parts.path).lstrip("/").split("/", 2)
    container = segments[1] if len(segments) > 1 else ""
    blob = segments[2] if len(segments) > 2 else ""
    if comp == "list":
        op = "list"
    elif comp == "appendblock":
        op = "append"
    elif comp == "lease":
        op = "lease"
    elif method == "GET":
        op = "get"
    elif method == "HEAD":
        op = "head"
    elif method == "PUT":
        op = "put"
    elif method == "DELETE":
        op = "delete"
    else:
        op = "other"
    return container, op, blob


class CountingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.ops: dict[str, Counter[str]] = defaultdict(Counter)
        self.history: Counter[str] = Counter()
        self.history_rounds: Counter[str] = Counter()
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def snapshot(self) -> dict[str, Any]:
        return {"ops": {c: dict(v) for c, v in self.ops.items()}, "history": dict(self.history),
                "history_rounds": dict(self.history_rounds)}

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port, limit=1 << 20)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._server = None

    def _count(self, method: str, target: str, body: bytes) -> None:
        container, op, blob = classify(method, target)
        self.ops[container][op] += 1
        if op == "append" and container.startswith("durable-") and "/history-" in blob:
            instance = decode_id(blob.split("/")[1]) if blob.startswith("instances/") else blob
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                line = json.loads(body)
                self.history[instance] += len(line.get("events", []))
                self.history_rounds[instance] += 1

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        up_reader, up_writer = await asyncio.open_connection(*self.target, limit=1 << 20)
        pump = asyncio.create_task(self._pipe(up_reader, writer))
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                up_writer.write(head)
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await self._chunked(reader, up_writer)
                else:
                    body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                    up_writer.write(body)
                self._count(method, target, body)
                await up_writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            up_writer.close()
            with contextlib.suppress(Exception):
                await pump
            writer.close()
            if task is not None:
                self._tasks.discard(task)

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader, up: asyncio.StreamWriter) -> bytes:
        body = bytearray()
        while True:
            size_line = await reader.readuntil(b"\r\n")
            up.write(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            data = await reader.readexactly(size + 2)
            up.write(data)
            body += data[:-2]
            if size == 0:
                return bytes(body)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(1 << 16):
                dst.write(data)
                await dst.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()
