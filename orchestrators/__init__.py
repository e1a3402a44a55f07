"""Durable orchestrators: pure generator functions (no I/O, no clock, no randomness, no settings)."""
