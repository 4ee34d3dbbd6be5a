"""Every Redis key and channel Inkwell uses, in one place. Nobody else builds key strings.

All names start with the prefix, so tests and instances each live in their own
namespace. Within it, each projection's read models live in a versioned space of
their own (`<prefix>:<projection>.<version>`), named by its `namespace` key: a
rebuild fills a new space while queries read the old one, then swaps the name.
Every read model is reached by a name built from ids the caller already has:
nothing on the hot path needs SCAN.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from projections.keyspace.active_spaces import ActiveSpaces


@dataclass(frozen=True)
class Keys:
    prefix: str
    # Each projection's active space, kept current in place by whoever reads the
    # namespace keys (ActiveNamespaces above all).
    spaces: ActiveSpaces = field(default_factory=ActiveSpaces, compare=False, hash=False)

    def space(self, projection: str) -> str:
        """Where the projection's read models live; a space no build ever fills when
        none is active (nothing built yet, or Redis lost it)."""
        return self.spaces.active.get(projection) or f"{self.prefix}:{projection}"

    def with_space(self, projection: str, space: str) -> Keys:
        """These names, with the projection's read models in `space` (a rebuild's)."""
        return replace(self, spaces=self.spaces.with_space(projection, space))

    def new_space(self, projection: str, version: str) -> str:
        return f"{self.prefix}:{projection}.{version}"

    # Versioned spaces and their bookkeeping.
    def namespace(self, projection: str) -> str:
        """The projection's active space. Written only by a swap (a build's last step),
        so its absence means no read model exists: never built, or lost by Redis."""
        return f"{self.prefix}:namespace:{projection}"

    def space_checkpoint(self, space: str) -> str:
        """How far a space being built has got; set to 0 when the build starts, so a
        Redis that loses it mid-build is noticed."""
        return space + self.SPACE_CHECKPOINT

    SPACE_CHECKPOINT = ":checkpoint"
    # Not read models, so verify skips them: a build's checkpoint, and what a scratch
    # build (verify's) parked, kept in its own space rather than the live parked lists.
    SPACE_BOOKKEEPING = (SPACE_CHECKPOINT, ":parked")

    def space_registry(self, projection: str) -> str:
        """A sorted set of the projection's spaces a rebuild made, scored by when each
        was last needed (a build's latest batch, an old space's swap): what a rebuild killed
        before its cleanup left behind is found here and deleted by the next one."""
        return f"{self.prefix}:spaces:{projection}"

    def unconfirmed(self, projection: str) -> str:
        """Set in a batch's MULTI, deleted once every reply of it was checked: while it
        exists, the active space may hold a half-applied batch and must be rebuilt."""
        return f"{self.prefix}:unconfirmed:{projection}"

    def rebuilding(self, projection: str) -> str:
        """A lease held by the one rebuild of the projection that may run."""
        return f"{self.prefix}:rebuilding:{projection}"

    # Plumbing: the log's head, the projections' checkpoints, the pub/sub channels.
    def log(self) -> str:
        """The identity of the event log the read models under this prefix are built from
        (projections/keyspace/log_binding.py)."""
        return f"{self.prefix}:log"

    def log_processes(self) -> str:
        """The processes that serve or project the read models' log: a sorted set of
        holder ids (projections/projectors/lease.py) scored by when each one's presence
        ends, in Redis's own milliseconds (projections/projectors/log_binding.py)."""
        return f"{self.prefix}:log-processes"

    def evictions_accounted(self) -> str:
        """Redis's evicted-keys count when a full rebuild or a matching verify last showed
        the read models whole (observability/evictions.py)."""
        return f"{self.prefix}:evictions-accounted"

    def write_probe(self) -> str:
        """A short-lived key `inkwell status` writes to learn whether Redis takes writes
        (observability/redis_writes.py)."""
        return f"{self.prefix}:write-probe"

    def head(self) -> str:
        """A sorted set with one member, 'head', scored by the highest position seen."""
        return f"{self.prefix}:head"

    def commit_times(self) -> str:
        """When each of the newest events was committed: a sorted set scored by position,
        each member `<position>:<Unix milliseconds>`, written by the publisher beside the
        head and cut to COMMIT_TIMES_KEPT, so that a query can tell how long a projection's
        oldest unapplied event has waited (projections/readers/statuses.py) without
        reading the log, and while every projector is stopped."""
        return f"{self.prefix}:commit-times"

    COMMIT_TIMES_KEPT = 10_000

    def checkpoint(self, projection: str) -> str:
        return f"{self.prefix}:checkpoint:{projection}"

    def checkpoint_event(self, projection: str) -> str:
        """The checkpoint's position and the event the projection applied there
        (projections/projectors/checkpoint_events.py)."""
        return f"{self.prefix}:checkpoint-event:{projection}"

    def lease(self, projection: str) -> str:
        """Who runs the projection now: the owner id of one process, expiring unless renewed."""
        return f"{self.prefix}:lease:{projection}"

    # Parking (projections/projectors/parking.py): per projection, the events set aside, in order.
    def parked(self, projection: str) -> str:
        """A sorted set of the parked positions (member and score: the position)."""
        return f"{self.prefix}:parked:{projection}"

    def parked_events(self, projection: str) -> str:
        """A hash: position -> the parked event's record (stream, type, error, when, behind)."""
        return f"{self.prefix}:parked:{projection}:events"

    def parked_streams(self, projection: str) -> str:
        """A hash: stream id -> the position of its first parked event. A stream named
        here has every later event parked behind that one."""
        return f"{self.prefix}:parked:{projection}:streams"

    def parked_audit(self) -> str:
        """A capped list of what operators did to parked events: who, when, what."""
        return f"{self.prefix}:parked-audit"


    def events_channel(self) -> str:
        return f"{self.prefix}:events"

    def checkpoints_channel(self) -> str:
        """Notices of progress: {"projection", "position"} per applied batch, and
        {"head"} when the log's head moves."""
        return f"{self.prefix}:checkpoints"

    def post_changed_channel(self, post_id: str) -> str:
        """Notices that one post's read model changed, carrying the position it reached."""
        return f"{self.prefix}:changed:post:{post_id}"

    def posts_changed_channel(self) -> str:
        """Notices of every post change, carrying the post's id: what the feed follows."""
        return f"{self.prefix}:changed:posts"

    def comment_added_channel(self, post_id: str) -> str:
        """Notices of comments added to one post, carrying the comment's id."""
        return f"{self.prefix}:changed:comments:{post_id}"

    def post_changes(self) -> str:
        """A sorted set of post ids scored by the position of their read model's last
        change: what a live subscriber that missed notices asks for
        (projections/live/read_models.py). In the posts space, so that a rebuild writes its
        own and swaps it in with the rest."""
        return f"{self.space('posts')}:changes:posts"

    def comment_additions(self, post_id: str) -> str:
        """A post's live comment ids scored by the position that added them."""
        return f"{self.space('posts')}:changes:comments:{post_id}"

    # Rate limiting (protection/throttle.py): the `limits` library names its counters.
    def rate_limits(self) -> str:
        """What every rate-limit counter's name starts with."""
        return f"{self.prefix}:rate"

    # The API's automatic persisted queries: not a read model, a cache of documents.
    def persisted_query(self, sha256: str) -> str:
        """The text of the GraphQL document with this hash, expiring unless used."""
        return f"{self.prefix}:apq:{sha256}"

    def persisted_queries(self) -> str:
        """A sorted set of the stored hashes by time stored, to evict the oldest first."""
        return f"{self.prefix}:apq-index"

    # The posts projection: one hash per post, with the author's name copied in.
    def post(self, post_id: str) -> str:
        return f"{self.space('posts')}:post:{post_id}"

    def post_prefix(self) -> str:
        """`post_prefix() + id == post(id)`, for Lua scripts that walk a set of ids."""
        return self.post("")

    def post_comment_ids(self, post_id: str) -> str:
        """A post's comment ids, scored by creation time (µs): the comments page, oldest first."""
        return self.post(post_id) + self.COMMENT_IDS_SUFFIX

    COMMENT_IDS_SUFFIX = ":comment-ids"

    def post_likers(self, post_id: str) -> str:
        """Who likes the post: likedByViewer is one SISMEMBER."""
        return f"{self.post(post_id)}:likers"

    def comment(self, comment_id: str) -> str:
        return f"{self.space('posts')}:comment:{comment_id}"

    def comment_prefix(self) -> str:
        return self.comment("")

    def author(self, user_id: str) -> str:
        """The posts projection's own copy of an author's name and avatar."""
        return f"{self.space('posts')}:author:{user_id}"

    def author_post_ids(self, user_id: str) -> str:
        """Every post an author wrote: the fan-out list when they rename themself."""
        return f"{self.space('posts')}:author:{user_id}:post-ids"

    def author_comment_ids(self, user_id: str) -> str:
        """Every live comment an author wrote: the other half of the rename fan-out."""
        return f"{self.space('posts')}:author:{user_id}:comment-ids"

    # The feeds projection: sorted sets of post ids, scored by time in microseconds.
    def recent(self) -> str:
        return f"{self.space('feeds')}:feed:recent"

    def by_author(self, user_id: str) -> str:
        """An author's published posts, by publish time."""
        return f"{self.space('feeds')}:feed:author:{user_id}"

    def by_author_with_drafts(self, user_id: str) -> str:
        """What an author sees of their own posts, drafts and published alike, by creation
        time: publishing one does not move it (the public list orders by publish time)."""
        return f"{self.space('feeds')}:feed:author:{user_id}:own"

    def by_tag(self, tag: str) -> str:
        return f"{self.space('feeds')}:feed:tag:{tag}"

    def tag_prefix(self) -> str:
        return self.by_tag("")

    def popular(self) -> str:
        """Published posts scored likes * 2**32 + the position of their publication."""
        return f"{self.space('feeds')}:feed:popular"

    def post_tags(self, post_id: str) -> str:
        """The feeds projection's record of a post's current tags."""
        return f"{self.space('feeds')}:feed:post-tags:{post_id}"

    # The search projection: an inverted index of sorted sets, one per word.
    def search_word(self, word: str) -> str:
        """Published posts containing the word, scored by publish time (µs)."""
        return f"{self.space('search')}:search:word:{word}"

    def search_word_prefix(self) -> str:
        return self.search_word("")

    def search_post_words(self, post_id: str) -> str:
        """The words a post is indexed under now, so an edit can take back the old ones."""
        return f"{self.space('search')}:search:post-words:{post_id}"

    def search_published(self) -> str:
        """The search projection's own list of published posts and their publish times."""
        return f"{self.space('search')}:search:published"

    # The users projection.
    def user(self, user_id: str) -> str:
        return f"{self.space('users')}:user:{user_id}"

    # The recent-events projection.
    def recent_events(self) -> str:
        """The newest events of the log, scored by position, capped at RECENT_EVENTS_KEPT:
        what the live page shows. In the projection's space, like every read model, so
        that verify compares it and a rebuild swaps in its own."""
        return f"{self.space('recent_events')}:recent-events"

    RECENT_EVENTS_KEPT = 100

    # Who sees which entries, recomputed at the end of every batch from the list and the
    # posts' audiences, so that a read is a ZREVRANGE or two.
    def recent_public_events(self) -> str:
        """The entries of recent_events() that everybody may see, scored alike."""
        return f"{self.space('recent_events')}:recent-events:public"

    def recent_own_events(self, user_id: str) -> str:
        """The entries of recent_events() shown to one author alone: their posts' events
        that everybody else may not see."""
        return f"{self.space('recent_events')}:recent-events:author:{user_id}"

    def recent_own_events_prefix(self) -> str:
        return self.recent_own_events("")

    def recent_events_authors(self) -> str:
        """The authors who have a recent_own_events() list, so a recompute finds them."""
        return f"{self.space('recent_events')}:recent-events:authors"

    def recent_events_post(self, post_id: str) -> str:
        """Who may see the listed events of one post (its own, its likes', its comments'):
        its author's id, then, while it is published, a space and the position of its
        publication."""
        return f"{self.space('recent_events')}:post:{post_id}"

    def recent_events_post_prefix(self) -> str:
        """`recent_events_post_prefix() + id == recent_events_post(id)`, for Lua scripts."""
        return self.recent_events_post("")

    # Operations: what each runner records of its own progress, for health checks and metrics.
    def progress(self, projection: str) -> str:
        """A hash written in the same MULTI as the checkpoint: `applied` (events applied,
        ever) and `advancedAt` (epoch seconds when the checkpoint last moved)."""
        return f"{self.prefix}:progress:{projection}"
