"""The ``plugyard`` command line: translates arguments into host and plugin calls."""

from plugyard.cli.main import main

__all__ = ["main"]
