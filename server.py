"""Starts Inkwell: `python server.py [command]`, the same as the `inkwell` command.

With no command it serves GraphQL and runs the projectors (`serve`). What runs is
elsewhere: the commands in cli/ (cli/commands.py lists them), the ASGI apps in
wiring/asgi.py, and the wiring of every adapter in wiring/bootstrap.py.
"""

from __future__ import annotations

from cli.commands import cli

__all__ = ["cli"]

if __name__ == "__main__":
    cli()
