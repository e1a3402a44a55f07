"""Run the sample app in a LocalHost until killed: ``python host_main.py CONN HUB PORT``.

Used by the crash-resume test, which SIGKILLs this process mid-run and starts it again, and by the
split-brain test, which pauses it (SIGSTOP) while another host takes over; it exits 3 when it lost its lease.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from devhost.host import LocalHost
from tests.devhost.sample_app import create_app


async def main(conn: str, hub: str, port: int) -> None:
    host = LocalHost(create_app(), connection_string=conn, task_hub=hub, port=port, fire_timers=False)
    await host.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(host.lease_lost.wait())]
    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for waiting in waits:
        waiting.cancel()
    await host.stop()
    if host.lease_lost.is_set():
        print("LEASE LOST", flush=True)
        sys.exit(3)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("harvest.devhost").setLevel(logging.INFO)
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
