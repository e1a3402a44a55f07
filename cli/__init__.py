"""The ``harvest`` command line: a client of the app (its HTTP API and its Blob storage) that can also start
the local Functions host (``devhost``). ``cli.entry`` is the console script, ``cli.app`` the commands; one module
per command group in ``cli/commands/``; ``cli.render`` draws a run's tables."""
