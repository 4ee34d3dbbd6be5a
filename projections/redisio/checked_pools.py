"""Pools that replace a connection Redis closed while it sat idle, before handing it out.

redis-py 8 turns its "maintenance notifications" on by default ("auto"), and with them
on, a pool skips the check that finds a pooled connection the server has closed (Redis's
idle `timeout`, a proxy's, a restart): the connection is handed out, and the first
command on it fails. redis-py's own commands then try again, each counted as a Redis
error; a bulk batch (bulk_pipeline.py) does not. With Redis's `timeout` set, after each
quiet spell longer than it the first commit's event notices were lost ("could not
publish"), and that write's read-your-writes answer waited about a second for the
projectors' own look at the log. The notifications serve Redis Enterprise's maintenance
moves over RESP3, which Inkwell does not use.
"""

from __future__ import annotations

from typing import Any

from redis.maint_notifications import MaintNotificationsConfig

CHECKED: dict[str, Any] = {"maint_notifications_config": MaintNotificationsConfig(enabled=False)}
