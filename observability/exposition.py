"""The /metrics text: the process's instruments plus per-projection gauges read at scrape time.

Projection figures are read from Redis and the log when scraped rather than kept
in the process: any API process answers for projectors running anywhere, and
there is nothing to add up across workers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from observability.metrics import Metrics
from observability.progress import Progress

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Exposition:
    def __init__(self, metrics: Metrics, multiprocess_dir: Path | None) -> None:
        """With `multiprocess_dir`, the instruments of every process writing there are summed."""
        self._multiprocess_dir = multiprocess_dir
        if multiprocess_dir is None:
            self._instruments = metrics.registry
        else:
            self._instruments = CollectorRegistry()
            MultiProcessCollector(  # type: ignore[no-untyped-call]
                self._instruments, path=str(multiprocess_dir)
            )

    def render(self, progress: Sequence[Progress] | None) -> bytes:
        """`progress` None means it could not be read: the projection gauges are left out
        rather than reported as zeros, and `inkwell_projection_progress_unreadable` says so."""
        if self._multiprocess_dir is not None:
            forget_dead_processes(self._multiprocess_dir)
        return generate_latest(_Scrape(self._instruments, progress))


def forget_dead_processes(directory: Path) -> None:
    """Drops the live gauges of processes that are gone. A process that stops marks its own
    dead (wiring/bootstrap.py); one killed (SIGKILL, the OOM killer) cannot, and its file
    was summed in for good: with an `api --workers 2` worker holding 15 of 20 WebSockets
    killed, /metrics went on reporting 20 connections and 20 subscriptions. uvicorn
    starts a new worker but tells no one which died; the files name their process."""
    for path in directory.glob("gauge_live*_*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _running(int(pid)):
            multiprocess.mark_process_dead(int(pid), str(directory))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process, alive
        pass
    return True


class _Scrape:
    """What generate_latest walks: anything with collect()."""

    def __init__(self, instruments: CollectorRegistry, progress: Sequence[Progress] | None) -> None:
        self._instruments = instruments
        self._progress = progress

    def collect(self) -> Iterator[Metric]:
        yield from self._instruments.collect()
        yield GaugeMetricFamily(
            "inkwell_projection_progress_unreadable",
            "1 when this scrape could not read the projections' progress from Redis or the log.",
            value=int(self._progress is None),
        )
        if self._progress is not None:
            yield from projection_families(self._progress)


def projection_families(progress: Iterable[Progress]) -> list[Metric]:
    families = {
        "position": GaugeMetricFamily(
            "inkwell_projection_position",
            "Last log position the projection applied.",
            labels=["projection"],
        ),
        "head": GaugeMetricFamily(
            "inkwell_projection_head_position", "Last position in the log.", labels=["projection"]
        ),
        "lag": GaugeMetricFamily(
            "inkwell_projection_lag_events",
            "Events in the log not yet applied; 0 when the checkpoint is past the head "
            "(see inkwell_projection_ahead_of_log_events).",
            labels=["projection"],
        ),
        "ahead": GaugeMetricFamily(
            "inkwell_projection_ahead_of_log_events",
            "Events the read models hold past the log's head (checkpoint minus head): the "
            "log went back, restored from an older backup or replaced, and queries serve "
            "events it does not have until the projector's rebuild swaps in. 0 otherwise.",
            labels=["projection"],
        ),
        "went_back": GaugeMetricFamily(
            "inkwell_projection_log_went_back",
            "1 when the log holds another event at the checkpoint than the one the read "
            "models applied there: restored from an older backup and written past the "
            "checkpoint since, which neither lag nor ahead-of-log shows; queries serve "
            "events the log does not have until the projector's rebuild swaps in. 0 otherwise.",
            labels=["projection"],
        ),
        "lag_seconds": GaugeMetricFamily(
            "inkwell_projection_lag_seconds",
            "Age of the oldest event not yet applied (its commit time); 0 when caught up.",
            labels=["projection"],
        ),
        "parked": GaugeMetricFamily(
            "inkwell_projection_parked_events",
            "Events set aside because they failed to apply, or wait behind one that did.",
            labels=["projection"],
        ),
        "parked_streams": GaugeMetricFamily(
            "inkwell_projection_parked_streams",
            "Streams whose events are parked; other streams keep flowing.",
            labels=["projection"],
        ),
        "advanced": GaugeMetricFamily(
            "inkwell_projection_last_advanced_timestamp_seconds",
            "When the checkpoint last moved (Unix time).",
            labels=["projection"],
        ),
        "built": GaugeMetricFamily(
            "inkwell_projection_last_build_timestamp_seconds",
            "When the projection's last build was swapped in (Unix time): it moves with "
            "every rebuild, including one after Redis lost the read models, which starts "
            "the rebuild and applied counters again.",
            labels=["projection"],
        ),
    }
    applied = CounterMetricFamily(
        "inkwell_projection_events_applied",
        "Events applied by the projection's runners, ever.",
        labels=["projection"],
    )
    rebuilds = CounterMetricFamily(
        "inkwell_projection_rebuilds",
        "Builds of the projection swapped in: its first, each automatic one after Redis "
        "half-applied its read models, and each `inkwell rebuild`. Kept in Redis: when "
        "Redis loses the read models it starts again at the build that follows (alert "
        "on changes of inkwell_projection_last_build_timestamp_seconds).",
        labels=["projection"],
    )
    for p in progress:
        families["position"].add_metric([p.name], p.position)
        families["head"].add_metric([p.name], p.head)
        families["lag"].add_metric([p.name], p.lag)
        families["ahead"].add_metric([p.name], p.ahead)
        families["went_back"].add_metric([p.name], int(p.went_back))
        families["lag_seconds"].add_metric([p.name], p.lag_seconds)
        families["parked"].add_metric([p.name], p.parked)
        families["parked_streams"].add_metric([p.name], p.parked_streams)
        if p.advanced_at is not None:
            families["advanced"].add_metric([p.name], p.advanced_at)
        if p.built_at is not None:
            families["built"].add_metric([p.name], p.built_at)
        applied.add_metric([p.name], p.applied)
        rebuilds.add_metric([p.name], p.rebuilds)
    return [*families.values(), applied, rebuilds]
