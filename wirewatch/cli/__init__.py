"""The `wirewatch` command line: one module per command or command group.

`main` is the entry point; `roles` has the pipeline and its cluster roles (run, connect,
worker, deliver, web), every other module the command it is named after.
"""

from wirewatch.cli.main import main

__all__ = ["main"]
