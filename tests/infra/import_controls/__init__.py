"""Modules that do I/O at import time, on purpose: the import audit must catch each of them."""
