"""Blob storage for the corpus, document records, source checkpoints, run records and staging."""

from shared.storage.blobs import BlobStore

__all__ = ["BlobStore"]
