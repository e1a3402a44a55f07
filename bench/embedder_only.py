"""The limit: the embedder alone on exactly the chunks an ingest embedded, in the pipeline's batch size.

    python -m bench.embedder_only --embedder e5-small --chunks chunks.jsonl   # prints one JSON object

Run as its own process (like the host) so the model loads the same way and starts as cold. The clock
covers only ``embed_passages`` calls, in batches of ``shared.pipeline.embed.EMBED_BATCH`` (what the
embed stage uses), after a one-text warm-up that loads the model.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from shared.embedding import get_embedder
from shared.pipeline.embed import EMBED_BATCH


def measure(embedder_name: str, texts: list[str], batch: int = EMBED_BATCH) -> dict[str, float | int | str]:
    embedder = get_embedder(embedder_name)
    embedder.embed_passages(["warm-up"])
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed_passages(texts[start : start + batch])
    seconds = time.perf_counter() - started
    return {"embedder": embedder_name, "model_id": embedder.model_id, "chunks": len(texts), "batch": batch,
            "seconds": round(seconds, 3), "chunks_per_s": round(len(texts) / seconds, 2) if seconds else 0.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedder", required=True)
    parser.add_argument("--chunks", type=Path, required=True, help="JSON Lines with a 'text' field per chunk")
    parser.add_argument("--batch", type=int, default=EMBED_BATCH)
    args = parser.parse_args(argv)
    texts = [json.loads(line)["text"] for line in args.chunks.read_text(encoding="utf-8").splitlines() if line]
    print(json.dumps(measure(args.embedder, texts, args.batch)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
