"""The write side of one projector batch: the commands it queues (a runner's MULTI, a rebuild's
bulk batch) plus the names and scripts they need, the recomputations due at its end, and
the change notices the batch will publish when it commits."""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import orjson
from redis.commands.core import AsyncScript

from projections.keyspace.keys import Keys
from projections.projectors.commands import Commands, Value
from projections.projectors.scripts import Scripts

# Where a batch stood before an event was queued (Tx.mark): how many commands were
# queued, how many recomputations had been asked for. A plain tuple: one is taken per
# event and projection, and a NamedTuple's constructor cost 4% of a rebuild.
Mark = tuple[int, int]

# A script call: the script, its keys, its arguments.
ScriptCall = tuple[AsyncScript, Sequence[str], Sequence[str | int]]

# Authors by id: the name and avatar URL (or None) their hash in the posts space holds.
Authors = dict[str, tuple[str, str | None]]

# A capped set's held entries are pruned to its length when they reach this many times it.
PRUNE_AT = 4


class CappedEntries:
    """The entries a batch adds to a sorted set cut to its `kept` highest scores: only
    those can stay, so only they are made (`member()`) and sent, in one ZADD before the
    cut, and the set ends as if each had been added and the set cut once. Scores are
    unique (log positions); an entry added again under its score replaces itself. The
    held entries are pruned to the `kept` highest before one is added, so an entry is
    only ever pushed out by those of events already applied (an event adds one entry
    per set), and `discard_after` takes back exactly what a failed event added."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        # By score: the member's maker and the order it was asked in (Recomputes.asked).
        self._held: dict[int, tuple[Callable[[], Value], int]] = {}

    def __bool__(self) -> bool:
        return bool(self._held)

    def add(self, score: int, member: Callable[[], Value], asked: int) -> None:
        if len(self._held) >= PRUNE_AT * self.kept:
            self._held = dict(heapq.nlargest(self.kept, self._held.items()))
        self._held[score] = (member, asked)

    def discard_after(self, asked: int) -> None:
        self._held = {score: e for score, e in self._held.items() if e[1] < asked}

    def commands(self, key: str) -> list[tuple[Value, ...]]:
        newest = heapq.nlargest(self.kept, self._held.items())
        pairs = [item for score, (member, _) in newest for item in (score, member())]
        return [("ZADD", key, *pairs), ("ZREMRANGEBYRANK", key, 0, -self.kept - 1)]


class Recomputes:
    """Commands that recompute a value from what a batch leaves (a post's top comments
    from its comments; the recent events cut to length), due once at the batch's end
    however many of its events ask: a burst of comments on one post costs one
    recomputation, not one each. A rebuild keeps them across its batches (its spaces
    are unseen until the swap) and queues them now and then. Only for commands whose
    result depends on nothing but the state of the keys they read: run later, they see
    the later writes, as the last one asked would have."""

    def __init__(self) -> None:
        # Each command, with its script (if any) and the order it was first asked in.
        self._due: dict[tuple[Value, ...], tuple[AsyncScript | None, int]] = {}
        self._capped: dict[str, CappedEntries] = {}  # by the sorted set's key
        self._named: dict[str, tuple[Value, ...]] = {}  # add_named's commands, by name
        self.asked = 0  # how many were asked for first, ever: the order of the next

    def __len__(self) -> int:
        return len(self._due) + sum(1 for entries in self._capped.values() if entries)

    def add(self, command: tuple[Value, ...], script: AsyncScript | None) -> None:
        if command not in self._due:
            self._due[command] = (script, self.asked)
            self.asked += 1

    def add_named(
        self, name: str, make: Callable[[], tuple[tuple[Value, ...], AsyncScript]]
    ) -> None:
        """`add(*make())`, with the command made only when the one made under `name` is
        not due already: for a command that `name` identifies, which every event asks
        for (Tx.recompute_once)."""
        command = self._named.get(name)
        if command is None or command not in self._due:
            command, script = make()
            self._named[name] = command
            self.add(command, script)

    def add_capped(self, key: str, kept: int, score: int, member: Callable[[], Value]) -> None:
        """ZADD key score member(), for a sorted set cut to its `kept` highest scores at
        the end (CappedEntries)."""
        entries = self._capped.get(key)
        if entries is None:  # not setdefault: that would make one per event
            entries = self._capped[key] = CappedEntries(kept)
        entries.add(score, member, self.asked)
        self.asked += 1

    def discard_after(self, asked: int) -> None:
        """Forgets those first asked for from the `asked`-th on (by an event that failed
        to apply: `asked` is its mark's); what an earlier event asked for stays due."""
        self._due = {command: due for command, due in self._due.items() if due[1] < asked}
        for entries in self._capped.values():
            entries.discard_after(asked)

    def queue(self, pipe: Commands) -> None:
        """Queues the due commands on `pipe` and forgets them."""
        for key, entries in self._capped.items():
            if entries:
                pipe.stack.extend(entries.commands(key))
        self._capped.clear()
        for command, (script, _) in self._due.items():
            if script is not None:
                pipe.scripts.add(script)
            pipe.stack.append(command)
        self._due.clear()


@dataclass
class Tx:
    pipe: Commands
    keys: Keys
    scripts: Scripts
    position: int  # the checkpoint this batch moves to
    event_position: int = 0  # the event being applied (Projection.apply sets it)
    recomputes: Recomputes = field(default_factory=Recomputes)
    # What the batch's notices will name, once each and in order: their messages are
    # made only if the batch publishes them (a rebuild does not).
    changed_posts: dict[str, None] = field(default_factory=dict)
    added_comments: dict[tuple[str, str], None] = field(default_factory=dict)
    # Applied behind the checkpoint (a parked event retried): its changes are recorded at
    # positions live topics have read past, so its notices say so, and a topic reads
    # each id they name as it is now (projections/live/read_models.py).
    late: bool = False
    # False for a batch whose changes no live subscriber can see (a rebuild's, into
    # spaces not yet active): it publishes no notices, not even from a script.
    notices: bool = True
    # Every author the space holds, when the batch's owner knows them all: a rebuild,
    # which applies the log from its start (posts.py keeps them). A post or comment then
    # copies its author's name and avatar in plain commands, not a script that reads them.
    authors: Authors | None = None

    def post_changed(self, post_id: str) -> None:
        """Tells live subscribers the post's read model changed (once per batch), and
        records when (Keys.post_changes): at the event's position, not the batch's, so
        that a replay, batched differently, records the same."""
        self.changed_posts[post_id] = None
        self.pipe.zadd(self.keys.post_changes(), {post_id: self.event_position})

    def comment_added(self, post_id: str, comment_id: str) -> None:
        self.added_comments[(post_id, comment_id)] = None
        self.pipe.zadd(self.keys.comment_additions(post_id), {comment_id: self.event_position})

    def publish_notices(self) -> None:
        """Queues the notices as PUBLISHes, for writes outside a runner's batch."""
        for channel, body in self._notices():
            self.pipe.publish(channel, body)

    def notice_args(self) -> list[str | bytes]:
        """channel, message, channel, message, ...: published when the batch is confirmed,
        so a notice exists only if its change does."""
        return [item for notice in self._notices() for item in notice]

    def _notices(self) -> Iterator[tuple[str, bytes]]:
        everything = self.keys.posts_changed_channel()
        late = {"late": True} if self.late else {}
        for post_id in self.changed_posts:
            body = orjson.dumps({"id": post_id, "position": self.position} | late)
            yield self.keys.post_changed_channel(post_id), body
            yield everything, body
        for post_id, comment_id in self.added_comments:
            body = orjson.dumps({"id": comment_id, "position": self.position} | late)
            yield self.keys.comment_added_channel(post_id), body

    def hset(self, key: str, fields: Mapping[str, str | int]) -> None:
        """HSET of several fields."""
        self.pipe.hset(key, mapping=fields)

    def run(self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]) -> None:
        """Queues a script call. The script is loaded before the batch runs (before MULTI,
        or at a bulk batch's head), so a Redis that restarted and forgot it cannot fail
        half of a batch."""
        self.pipe.scripts.add(script)
        self.pipe.evalsha(script.sha, len(keys), *keys, *args)

    def recompute(
        self, script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]
    ) -> None:
        """Asks for a script call at the batch's end (Recomputes): the batch's owner
        queues them (`queue_recomputes`) after every event's commands."""
        self.recomputes.add(_evalsha(script, keys, args), script)

    def recompute_once(self, name: str, call: Callable[[], ScriptCall]) -> None:
        """`recompute(*call())` for a script call that `name` identifies (a key name it
        writes): the call's key names are built once per batch, not once per event that
        asks. The recent events ask with every event, and building their six names was a
        third of their projection's CPU in a rebuild (py-spy)."""

        def make() -> tuple[tuple[Value, ...], AsyncScript]:
            script, keys, args = call()
            return _evalsha(script, keys, args), script

        self.recomputes.add_named(name, make)

    def add_capped(self, key: str, kept: int, score: int, member: Callable[[], Value]) -> None:
        """Adds to a sorted set kept to its `kept` highest scores (Recomputes.add_capped):
        sent at the batch's end, with the cut."""
        self.recomputes.add_capped(key, kept, score, member)

    def queue_recomputes(self) -> None:
        self.recomputes.queue(self.pipe)

    def mark(self) -> Mark:
        return len(self.pipe.stack), self.recomputes.asked

    def discard_after(self, mark: Mark) -> None:
        """Drops what was queued after `mark`: the commands of an event that failed to
        apply, and the recomputations it asked for first."""
        commands, asked = mark
        self.pipe.discard_after(commands)
        self.recomputes.discard_after(asked)


def _evalsha(
    script: AsyncScript, keys: Sequence[str], args: Sequence[str | int]
) -> tuple[Value, ...]:
    return ("EVALSHA", script.sha, len(keys), *keys, *args)
