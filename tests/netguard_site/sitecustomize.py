"""Installs the test network guard in Python subprocesses started by tests (see ``tests/netguard.py``)."""

from tests.netguard import install

install()
