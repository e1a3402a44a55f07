"""One module per ``harvest`` command group; each has ``register(app)``."""
