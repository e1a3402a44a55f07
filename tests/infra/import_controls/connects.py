"""Opens a connection at import time (the audit hook blocks it before anything is sent)."""

import socket

CONNECTION = socket.create_connection(("127.0.0.1", 9), timeout=1)
