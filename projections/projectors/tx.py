"""The write side of one projector batch: the commands it queues (a runner's MULTI, a rebuild's
bulk batch) plus the names and scripts they need, and the change notices the batch will
publish when it commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson
from redis.commands.core import AsyncScript

from projections.keyspace.keys import Keys
from projections.projectors.commands import Commands
from projections.projectors.scripts import Scripts


@dataclass
class Tx:
    pipe: Commands
    keys: Keys
    scripts: Scripts
    position: int  # the checkpoint this batch moves to
    notices: dict[tuple[str, str], bytes] = field(default_factory=dict)
    event_position: int = 0  # the event being applied (Projection.apply sets it)

    def post_changed(self, post_id: str) -> None:
        """Tells live subscribers the post's read model changed (once per batch), and
        records when (Keys.post_changes): at the event's position, not the batch's, so
        that a replay, batched differently, records the same."""
        body = orjson.dumps({"id": post_id, "position": self.position})
        self.notices[(self.keys.post_changed_channel(post_id), "")] = body
        self.notices[(self.keys.posts_changed_channel(), post_id)] = body
        self.pipe.zadd(self.keys.post_changes(), {post_id: self.event_position})

    def comment_added(self, post_id: str, comment_id: str) -> None:
        body = orjson.dumps({"id": comment_id, "position": self.position})
        self.notices[(self.keys.comment_added_channel(post_id), comment_id)] = body
        self.pipe.zadd(self.keys.comment_additions(post_id), {comment_id: self.event_position})

    def publish_notices(self) -> None:
        """Queues the notices as PUBLISHes, for writes outside a runner's batch."""
        for (channel, _), body in self.notices.items():
            self.pipe.publish(channel, body)

    def notice_args(self) -> list[str | bytes]:
        """channel, message, channel, message, ...: published when the batch is confirmed,
        so a notice exists only if its change does."""
        return [item for (channel, _), body in self.notices.items() for item in (channel, body)]

    def hset(self, key: str, fields: Mapping[str, str | int]) -> None:
        """HSET of several fields."""
        self.pipe.hset(key, mapping=fields)

    def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]) -> None:
        """Queues a script call. The script is loaded before the batch runs (before MULTI,
        or at a bulk batch's head), so a Redis that restarted and forgot it cannot fail
        half of a batch."""
        self.pipe.scripts.add(script)
        self.pipe.evalsha(script.sha, len(keys), *keys, *args)

    def queued(self) -> int:
        return len(self.pipe.stack)

    def discard_after(self, mark: int) -> None:
        """Drops what was queued after `mark`: the commands of an event that failed to apply."""
        self.pipe.discard_after(mark)
