"""Durable activities: thin adapters that validate their input, call ``shared/`` and return small results."""
