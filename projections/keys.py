"""Every Redis key and channel Inkwell uses, in one place. Nobody else builds key strings.

All names start with the prefix, so tests, instances and a rebuild in progress
each live in their own namespace. Every read model is reached by a name built
from ids the caller already has: nothing on the hot path needs SCAN.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str

    # Plumbing: the log's head, the projections' checkpoints, the pub/sub channels.
    def head(self) -> str:
        """A sorted set with one member, 'head', scored by the highest position seen."""
        return f"{self.prefix}:head"

    def checkpoint(self, projection: str) -> str:
        return f"{self.prefix}:checkpoint:{projection}"

    def parked(self, projection: str) -> str:
        """A list of events a projector could not apply, with the error, for retry."""
        return f"{self.prefix}:parked:{projection}"

    def events_channel(self) -> str:
        return f"{self.prefix}:events"

    def checkpoints_channel(self) -> str:
        return f"{self.prefix}:checkpoints"

    # The posts projection: one hash per post, with the author's name copied in.
    def post(self, post_id: str) -> str:
        return f"{self.prefix}:post:{post_id}"

    def post_prefix(self) -> str:
        """`post_prefix() + id == post(id)`, for Lua scripts that walk a set of ids."""
        return self.post("")

    def author(self, user_id: str) -> str:
        """The posts projection's own copy of an author's name and avatar."""
        return f"{self.prefix}:author:{user_id}"

    def author_post_ids(self, user_id: str) -> str:
        """Every post an author wrote: the fan-out list when they rename themself."""
        return f"{self.prefix}:author:{user_id}:post-ids"

    # The feeds projection: sorted sets of post ids, scored by time in microseconds.
    def recent(self) -> str:
        return f"{self.prefix}:feed:recent"

    def by_author(self, user_id: str) -> str:
        """An author's published posts, by publish time."""
        return f"{self.prefix}:feed:author:{user_id}"

    def by_author_with_drafts(self, user_id: str) -> str:
        """What an author sees of their own posts: drafts by creation, published by publish time."""
        return f"{self.prefix}:feed:author:{user_id}:own"

    def by_tag(self, tag: str) -> str:
        return f"{self.prefix}:feed:tag:{tag}"

    def tag_prefix(self) -> str:
        return self.by_tag("")

    def post_tags(self, post_id: str) -> str:
        """The feeds projection's record of a post's current tags."""
        return f"{self.prefix}:feed:post-tags:{post_id}"

    # The users projection.
    def user(self, user_id: str) -> str:
        return f"{self.prefix}:user:{user_id}"

    # Operations: what each runner records of its own progress, for health checks and metrics.
    def progress(self, projection: str) -> str:
        """A hash written in the same MULTI as the checkpoint: `applied` (events applied,
        ever) and `advancedAt` (epoch seconds when the checkpoint last moved)."""
        return f"{self.prefix}:progress:{projection}"
