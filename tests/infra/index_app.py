"""Index the Functions app the way the Python worker does, under an audit hook; print JSON.

Run as ``python tests/infra/index_app.py [MODULE ...]`` from the app root (the worker's working directory
and first ``sys.path`` entry). The worker imports ``function_app``, finds its one ``FunctionRegister``
and calls ``get_functions()`` (once per app object — hence a fresh process); every binding goes to the
host as ``get_raw_bindings()`` JSON. The audit hook blocks, during the import, any socket use but a
loopback bind (urllib3 probes IPv6 support that way), any process start, any file write, any read
outside the app, site-packages and the standard library, and any read by the app's own module-level code
of a file that is not Python. Extra MODULEs are imported after ``function_app`` (negative controls).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import sysconfig
from pathlib import Path
from typing import Any

ROOT = Path.cwd().resolve()
sys.path.insert(0, str(ROOT))
LIBRARIES = tuple(str(Path(p).resolve()) for p in sys.path[1:] if p and "site-packages" in p)
STDLIB = tuple({str(Path(p).resolve()) for p in (*sys.path[1:], *(sysconfig.get_paths()[k] for k in (
    "stdlib", "platstdlib"))) if p and "site-packages" not in p and not str(Path(p).resolve()).startswith(str(ROOT))})
CODE = (".py", ".pyc", ".so", ".pth", ".zip")
BLOCKED = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto",
           "socket.sendmsg", "urllib.Request", "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn",
           "os.spawn", "os.fork", "os.startfile")
violations: list[dict[str, Any]] = []
importing = True


def ours(filename: str | None) -> bool:
    if not filename or filename.startswith("<"):
        return False
    path = str(Path(filename).resolve())
    return path.startswith(str(ROOT)) and not path.startswith(LIBRARIES) and "/.venv/" not in path


def module_owner() -> str | None:
    """The module whose top-level code is running (the innermost ``<module>`` frame)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "<module>":
            return frame.f_code.co_filename
        frame = frame.f_back
    return None


def caller() -> str | None:
    """The innermost frame outside the standard library: who asked for the I/O."""
    frame = sys._getframe(2)
    while frame is not None:
        name = frame.f_code.co_filename
        if name != __file__ and not name.startswith("<") and not str(Path(name).resolve()).startswith(STDLIB):
            return name
        frame = frame.f_back
    return None


def refuse(event: str, detail: str) -> None:
    violations.append({"event": event, "detail": detail[:300], "module": module_owner(), "caller": caller()})
    raise PermissionError(f"blocked at import time: {event} {detail[:120]}")


def hook(event: str, args: tuple[Any, ...]) -> None:
    if not importing:
        return
    if event.startswith(BLOCKED):
        refuse(event, repr(args))
    elif event == "socket.bind":
        address = args[1]
        if not (isinstance(address, tuple) and address[0] in ("::1", "127.0.0.1")):
            refuse(event, repr(address))
    elif event == "open":
        path, mode, flags = args
        if path is None or isinstance(path, int):
            return
        name = os.fsdecode(path)
        resolved = str((ROOT / name).resolve()) if not os.path.isabs(name) else str(Path(name).resolve())
        writes = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND))
        if writes:
            refuse("open for writing", resolved)
        elif not resolved.startswith((str(ROOT), *LIBRARIES, *STDLIB)):
            refuse("open outside the app and its libraries", resolved)
        elif ours(module_owner()) and ours(caller()) and not resolved.endswith(CODE):
            refuse("module-level read of a data file", resolved)


def describe(function: Any) -> dict[str, Any]:
    user = function.get_user_function()
    target = getattr(user, "orchestrator_function", user)
    return {
        "name": function.get_function_name(),
        "bindings": [json.loads(raw) for raw in function.get_raw_bindings()],
        "params": list(inspect.signature(user).parameters),
        "is_async": inspect.iscoroutinefunction(user),
        "is_generator": inspect.isgeneratorfunction(target),
    }


def main() -> None:
    global importing
    sys.addaudithook(hook)
    report: dict[str, Any] = {"violations": violations, "error": None, "functions": [], "controls": {}}
    import importlib

    try:
        module = importlib.import_module("function_app")
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {exc}"
    for extra in sys.argv[1:]:
        try:
            importlib.import_module(extra)
            report["controls"][extra] = None
        except Exception as exc:
            report["controls"][extra] = f"{type(exc).__name__}: {exc}"
    importing = False
    if report["error"] is None:
        from azure.functions import FunctionRegister

        apps = [v for v in vars(module).values() if isinstance(v, FunctionRegister)]
        report["apps"] = len(apps)
        report["functions"] = [describe(f) for f in apps[0].get_functions()] if len(apps) == 1 else []
    print(json.dumps(report))


if __name__ == "__main__":
    main()
