"""The process's own instruments: commands, appends, connections and store errors.

Each running Inkwell gets its own registry, so two in one process (tests, the
demo) never collide. With PROMETHEUS_MULTIPROC_DIR set before the process starts,
prometheus-client keeps these values in files there and `/metrics` adds up every
worker's; per-projection figures are not here at all (see `exposition.py`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from domain.ports import CommandRecord, Outcome, RecordedEvent

# From a cached no-op (~1 ms) to a commit queued behind a busy disk or a retried race.
COMMAND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# From a SQLite commit on a fast disk (~0.15 ms) to SQLite's busy timeout behind another
# process's lock (10 s, eventstore/engines.py).
TRANSACTION_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0
)  # fmt: skip
# Appends per transaction: one when commands come one at a time, up to the writer's
# MAX_BATCH (eventstore/writer.py) when they queue behind a commit in flight.
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.commands = Counter(
            "inkwell_commands",
            "Commands handled, by type and outcome (ok, or the error's class).",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "inkwell_command_duration_seconds",
            "Time from dispatch to outcome, retries included.",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self.events_appended = Counter(
            "inkwell_events_appended",
            "Events committed to the log by this process, by type.",
            ["type"],
            registry=self.registry,
        )
        self.log_transaction_seconds = Histogram(
            "inkwell_log_transaction_duration_seconds",
            "The group-commit writer's transactions: from taking the connection to the "
            "check after COMMIT, by outcome (committed, failed).",
            ["outcome"],
            buckets=TRANSACTION_BUCKETS,
            registry=self.registry,
        )
        self.log_transaction_appends = Histogram(
            "inkwell_log_transaction_appends",
            "Commands' appends per transaction of the group-commit writer (its batches).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.websockets = Gauge(
            "inkwell_websocket_connections",
            "Open WebSocket connections.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.subscriptions = Gauge(
            "inkwell_graphql_subscriptions",
            "Active GraphQL subscriptions.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.redis_errors = Counter(
            "inkwell_redis_errors",
            "Failed Redis operations (each attempt), by error class.",
            ["error"],
            registry=self.registry,
        )
        self.pubsub_disconnects = Counter(
            "inkwell_pubsub_disconnects",
            "Times the pub/sub connection to Redis dropped; live subscriptions then resync.",
            registry=self.registry,
        )
        self.live_resyncs = Counter(
            "inkwell_live_resyncs",
            "Live topics that read what changed since their last delivery after a gap "
            "(a pub/sub drop, an overflow, a quiet second with changes), by outcome: "
            "resumed, or ended (subscribers told to resubscribe).",
            ["outcome"],
            registry=self.registry,
        )
        self.database_errors = Counter(
            "inkwell_database_errors",
            "Failed database operations, by error class.",
            ["error"],
            registry=self.registry,
        )

    def handled(self, record: CommandRecord, result: Outcome | Exception, seconds: float) -> None:
        """The command bus's observer."""
        outcome = "ok" if isinstance(result, Outcome) else type(result).__name__
        self.commands.labels(record.command_type, outcome).inc()
        self.command_seconds.labels(record.command_type).observe(seconds)

    def committed(self, events: list[RecordedEvent]) -> None:
        """Called by the writer thread after each commit; prometheus-client is thread-safe."""
        for recorded in events:
            self.events_appended.labels(type(recorded.event).__name__).inc()

    def log_transaction(self, appends: int, seconds: float, committed: bool) -> None:
        """Called by the writer thread after each transaction (eventstore/writer.py)."""
        outcome = "committed" if committed else "failed"
        self.log_transaction_seconds.labels(outcome).observe(seconds)
        self.log_transaction_appends.observe(appends)

    def redis_error(self, error: BaseException) -> None:
        self.redis_errors.labels(type(error).__name__).inc()

    def database_error(self, error: BaseException) -> None:
        self.database_errors.labels(type(error).__name__).inc()

    @contextmanager
    def subscription(self) -> Iterator[None]:
        """A subscription's lifetime, counted in the subscriptions gauge."""
        self.subscriptions.inc()
        try:
            yield
        finally:
            self.subscriptions.dec()
