"""Turns events into table rows and rows back into recorded events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.events import event_from_dict, event_to_dict
from domain.ports import AppendRequest, RecordedEvent


def event_rows(request: AppendRequest, recorded_at: datetime) -> list[dict[str, Any]]:
    meta = orjson.dumps(
        {
            "command_id": request.command.command_id,
            "command_type": request.command.command_type,
            "actor_id": request.command.actor_id,
            "correlation_id": request.command.correlation_id,
        }
    ).decode()
    return [
        {
            "stream_id": request.stream_id,
            "version": request.expected_version + offset + 1,
            "type": type(event).__name__,
            "schema_version": event.SCHEMA_VERSION,
            "data": orjson.dumps(event_to_dict(event)).decode(),
            "meta": meta,
            "recorded_at": recorded_at,
        }
        for offset, event in enumerate(request.events)
    ]


def recorded_events(
    request: AppendRequest, positions: list[int], recorded_at: datetime
) -> list[RecordedEvent]:
    """The request's events as the log now holds them, without a round trip through JSON."""
    return [
        RecordedEvent(
            position=position,
            stream_id=request.stream_id,
            version=request.expected_version + offset + 1,
            event=event,
            command_id=request.command.command_id,
            actor_id=request.command.actor_id,
            correlation_id=request.command.correlation_id,
            recorded_at=recorded_at,
        )
        for offset, (event, position) in enumerate(zip(request.events, positions, strict=True))
    ]


def recorded_event(row: Mapping[Any, Any]) -> RecordedEvent:
    meta = orjson.loads(row["meta"])
    return RecordedEvent(
        position=row["position"],
        stream_id=row["stream_id"],
        version=row["version"],
        event=event_from_dict(row["type"], orjson.loads(row["data"])),
        command_id=meta["command_id"],
        actor_id=meta["actor_id"],
        correlation_id=meta["correlation_id"],
        recorded_at=as_utc(row["recorded_at"]),
    )


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything written was UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
