"""The `inkwell` command line: `commands.py` is the typer app; every other module holds one
command or command group (serve/api/project, status, events, parked, seed, demo, verify,
rebuild), with the tools it prints through."""
