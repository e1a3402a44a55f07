"""Resolves a host name at import time."""

import socket

ADDRESS = socket.getaddrinfo("example.org", 443)
