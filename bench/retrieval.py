"""Retrieval check on the bundled samples: does a sentence taken from a document find that document first?

Run after `make run` (it reads the corpus in the default storage):

    .venv/bin/python -m bench.retrieval [--per-doc 2] [--seed 1]

Prints how many sampled sentences ranked their own document first, and the misses.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re

from devhost.environment import prepare
from shared.corpus.read import iter_chunks, search
from shared.pipeline.context import open_context

SENTENCE = re.compile(r"(?<=[.!?])\s+")


async def check(per_doc: int, seed: int) -> tuple[int, int, list[tuple[str, str, str]]]:
    async with open_context() as ctx:
        by_doc: dict[str, list[str]] = {}
        async for row in iter_chunks(ctx.store):
            by_doc.setdefault(row["doc_id"], []).append(row["text"])
        rnd = random.Random(seed)
        hits, total, misses = 0, 0, []
        for doc, texts in sorted(by_doc.items()):
            sentences = [s.strip() for t in texts for s in SENTENCE.split(t)
                         if 8 <= len(s.split()) <= 40 and not s.lstrip().startswith("#")]
            for sentence in rnd.sample(sentences, min(per_doc, len(sentences))):
                found = await search(ctx.store, ctx.embedder, sentence, 1)
                total += 1
                if found and found[0].chunk["doc_id"] == doc:
                    hits += 1
                else:
                    misses.append((doc, sentence, found[0].chunk["doc_id"] if found else "-"))
        return hits, total, misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-doc", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = prepare(quiet=True)
    try:
        hits, total, misses = asyncio.run(check(args.per_doc, args.seed))
    finally:
        env.close()
    print(f"{hits}/{total} sentences ranked their own document first")
    for doc, sentence, got in misses:
        print(f"  miss: {doc}: {sentence!r} -> {got}")


if __name__ == "__main__":
    main()
