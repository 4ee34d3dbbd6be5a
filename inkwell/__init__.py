"""The `inkwell` command's launcher: the one name Inkwell puts into site-packages.

The application's folders keep their short names (`schema/`, `domain/`, `server.py`,
...), and names that short belong to other PyPI distributions too. So they are never
installed at the top of site-packages: a wheel carries them under `inkwell/app/`, and an
editable install (what `make run` does) puts the repository itself on the venv's path.
The launcher adds the right folder to `sys.path` of its own process only, then runs the
CLI that `server.py` starts (cli/commands.py).
"""
