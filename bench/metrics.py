"""What a result is measured on (machine, commit) and the chunks an ingest wrote (for the embedder-only run)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from azure.storage.blob.aio import ContainerClient

REPO_ROOT = Path(__file__).resolve().parent.parent


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": memory_gib,
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def commit() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    head = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": head or None, "dirty": bool(status), "changed_files": len(status.splitlines())}


async def export_chunks(connection_string: str, container: str, out: Path, source_id: str) -> int:
    """Write the text of every chunk of every version under ``corpus/{source_id}/`` (one line each,
    unique by chunk hash, as the embed stage embeds them); return how many."""
    seen: set[str] = set()
    count = 0
    async with ContainerClient.from_connection_string(connection_string, container) as client:
        with out.open("w", encoding="utf-8") as sink:
            async for item in client.list_blobs(name_starts_with=f"corpus/{source_id}/"):
                if not item.name.endswith(".jsonl"):
                    continue
                data = await (await client.download_blob(item.name)).readall()
                for line in data.decode("utf-8").splitlines():
                    if not line.strip():
                        continue
                    row = json.loads(line)
                    if row["chunk_hash"] in seen:
                        continue
                    seen.add(row["chunk_hash"])
                    sink.write(json.dumps({"text": row["text"]}, ensure_ascii=False) + "\n")
                    count += 1
    return count
