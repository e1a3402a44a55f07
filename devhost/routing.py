"""The host's own routing, as ASP.NET Core routing matches a path against the Functions host's route templates.

aiohttp's router differs from it in ways a client sees: it is case-sensitive (``/API/RUNS`` was a 404 where
Azure runs the function), and whatever it does not match it answers with its own ``text/plain`` 404 or 405.
The rules here are ASP.NET Core's ``RoutePatternMatcher`` / ``PathTokenizer`` (dotnet/aspnetcore,
``src/Http/Routing/src/Patterns/RoutePatternMatcher.cs``, ``src/Http/Routing/src/PathTokenizer.cs``), which the
Functions host uses through ``WebJobsRouteBuilder`` (Azure/azure-webjobs-sdk-extensions,
``src/WebJobs.Extensions.Http/Routing/WebJobsRouteBuilder.cs``: every function route is an ASP.NET ``Route`` on
``<routePrefix>/<route>``):

- the path is split on ``/``; one trailing slash is ignored;
- an empty segment (``//api//runs``) matches no route;
- literal segments compare case-insensitively (``StringComparison.OrdinalIgnoreCase``); parameter values keep
  their case;
- routes are tried in order and the first whose template and method match wins; nothing matched is the host's
  empty 404.

Each route carries the authorization level its endpoint needs, so the key check follows the route that
matched, never a spelling of the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def segments(path: str) -> list[str] | None:
    """``path`` as route segments (ASP.NET's ``PathTokenizer``), or None when one is empty (no route matches)."""
    if path in ("", "/"):
        return []
    body = path[1:] if path.startswith("/") else path
    if body.endswith("/"):
        body = body[:-1]
    parts = body.split("/")
    return None if any(part == "" for part in parts) else parts


@dataclass(frozen=True)
class Route:
    methods: frozenset[str] | None  # None: any method
    template: tuple[str, ...]  # literal segments, "{name}" parameters, a final "{*name}" catch-all
    handler: Handler
    level: str  # the authorization level (devhost.keys) this endpoint needs

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        if self.methods is not None and method not in self.methods:
            return None
        params: dict[str, str] = {}
        for i, piece in enumerate(self.template):
            if piece.startswith("{*"):
                params[piece[2:-1]] = "/".join(parts[i:])
                return params
            if i >= len(parts):
                return None
            if piece.startswith("{"):
                params[piece[1:-1]] = parts[i]
            elif parts[i].lower() != piece.lower():
                return None
        return params if len(parts) == len(self.template) else None


class Router:
    """Routes tried in the order they were added."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, methods: str | None, template: str, handler: Handler, level: str) -> None:
        allowed = None if methods is None else frozenset(m.strip().upper() for m in methods.split(","))
        self.routes.append(Route(allowed, tuple(template.strip("/").split("/")), handler, level))

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        parts = segments(path)
        if parts is None:
            return None
        for route in self.routes:
            params = route.match(method.upper(), parts)
            if params is not None:
                return route, params
        return None
