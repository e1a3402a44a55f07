"""The host's two HTTP listeners: the served port (the app's routes, the Durable webhook API, the admin API:
each keyed as Azure keys it) and the Durable extension's RPC endpoint (loopback only, no key).

In Azure the extension serves its out-of-process SDK endpoint (``rpcBaseUrl``) on a listener of its own,
``http://127.0.0.1:<port>/durabletask/``, port 17071 first, then random ports in 30000-31000, ten attempts
(Azure/azure-functions-durable-extension, ``src/WebJobs.Extensions.DurableTask/LocalHttpListener.cs``,
``StartAsync``); only code on the same instance reaches it. devhost does the same, whatever interface
``--host`` binds the served port to, so the served port has no unkeyed door to the Durable API.

Both listeners pass request bodies through as they arrive: the Functions host does not decompress them
(ASP.NET Core decompresses a request only with the opt-in request-decompression middleware, which the host
does not add), so a function sees ``Content-Encoding`` and the bytes the client sent.
"""

from __future__ import annotations

import errno
import random

from aiohttp import web

from .keys import HostKeys, unauthorized
from .routing import Router

RPC_DEFAULT_PORT = 17071
RPC_PORTS = (30000, 31000)
RPC_ATTEMPTS = 10


def application(router: Router, keys: HostKeys, client_max_size: int) -> web.Application:
    """An aiohttp app that routes every request through ``router`` (ASP.NET's rules, devhost.routing) and checks
    the key the matched route needs. No match is the host's empty 404."""

    async def dispatch(request: web.Request) -> web.StreamResponse:
        found = router.resolve(request.method, request.path)
        if found is None:
            return web.Response(status=404)
        route, params = found
        if not keys.allows(route.level, request):
            return unauthorized()
        request.match_info.update(params)
        return await route.handler(request)

    app = web.Application(client_max_size=client_max_size)
    app.router.add_route("*", "/{path:.*}", dispatch)
    return app


async def listen(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host:port`` (0: a free port); the runner and the port bound."""
    runner = web.AppRunner(app, access_log=None, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    server = getattr(site, "_server", None)
    if port == 0 and server is not None and server.sockets:
        port = int(server.sockets[0].getsockname()[1])
    return runner, port


async def listen_rpc(app: web.Application, port: int | None = None) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on 127.0.0.1 as the extension opens its RPC endpoint: ``port`` if given (0: any free
    port), else 17071, then random unused ports in 30000-31000, ten attempts in all."""
    if port is not None:
        return await listen(app, "127.0.0.1", port)
    tried: set[int] = set()
    candidate = RPC_DEFAULT_PORT
    for attempt in range(RPC_ATTEMPTS):
        tried.add(candidate)
        try:
            return await listen(app, "127.0.0.1", candidate)
        except OSError as exc:
            if exc.errno not in (errno.EADDRINUSE, errno.EACCES) or attempt == RPC_ATTEMPTS - 1:
                raise OSError(exc.errno, f"Unable to find a port to open an RPC endpoint on after "
                                         f"{attempt + 1} attempts ({exc})") from exc
        while candidate in tried:
            candidate = random.randrange(*RPC_PORTS)
    raise AssertionError("unreachable")
