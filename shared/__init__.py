"""Harvest's host-free core: settings, models, sources, extraction, chunking, embedding, storage.

Nothing in this package imports ``azure.functions`` or ``azure.durable_functions``; the Functions
app (``triggers/``, ``orchestrators/``, ``activities/``) and the local host adapt it.
"""
