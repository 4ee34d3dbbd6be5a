"""Processes of a running Inkwell, as tests find them: the embedded Redis servers on this
machine, and the projector process `serve` starts."""

from __future__ import annotations

from pathlib import Path

import psutil

from harness.server_process import ServerProcess
from infra.embedded_redis import socket_path


def servers_on(data_dir: Path) -> list[str]:
    """The command lines of the processes listening on the data directory's socket (Valkey
    names its socket in its process title)."""
    socket = str(socket_path(data_dir))
    lines = []
    for process in psutil.process_iter(["cmdline"]):
        command = " ".join(process.info["cmdline"] or ())  # None when it is gone
        if socket in command:
            lines.append(command)
    return lines


def projector_of(server: ServerProcess) -> psutil.Process:
    """The projector process of a `serve`."""
    assert server.process is not None
    children = [
        child
        for child in psutil.Process(server.process.pid).children()
        if "--until-stdin-closes" in child.cmdline()
    ]
    assert len(children) == 1, [child.cmdline() for child in children]
    return children[0]
