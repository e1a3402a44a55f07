"""``python -m tests.shared.index.lance_writer DIR TAG ROUNDS``: upsert the same 50 keys ``ROUNDS`` times into
the LanceDB table ``chunks`` in ``DIR`` (text: ``TAG``), as another process writing the same documents would."""

from __future__ import annotations

import asyncio
import sys

from shared.index.lancedb_target import LanceDBTarget


async def main(where: str, tag: str, rounds: int) -> None:
    target = LanceDBTarget(where, "chunks")
    for r in range(rounds):
        rows = [{"chunk_id": f"{r:04d}{k:028d}", "doc_id": f"d{k}", "source_id": "notes", "url": "u", "title": "t",
                 "ordinal": 0, "text": tag, "content_hash": "h", "model": "m", "run_id": tag, "created_at": "x",
                 "vector": [float(k % 7), 1.0, 0.5, 0.25]} for k in range(50)]
        await target.upsert("chunks", rows)
    await target.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
