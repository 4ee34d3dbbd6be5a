"""The User aggregate: a registered person and their public profile."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from domain import rules
from domain.errors import BusinessRuleViolation, Forbidden
from domain.events import Event, ProfileUpdated, UserRegistered
from domain.replay import replay


@dataclass(frozen=True)
class User:
    id: str
    name: str
    avatar_url: str | None
    bio: str

    @staticmethod
    def register(
        user_id: str, name: str, avatar_url: str | None, bio: str, now: datetime
    ) -> UserRegistered:
        return UserRegistered(
            user_id=user_id,
            name=rules.name(name),
            avatar_url=rules.avatar_url(avatar_url),
            bio=rules.bio(bio),
            registered_at=now,
        )

    def update_profile(
        self,
        actor_id: str,
        name: str | None,
        avatar_url: str | None,
        bio: str | None,
        now: datetime,
    ) -> ProfileUpdated:
        if actor_id != self.id:
            raise Forbidden("only the user may change their profile")
        updated = ProfileUpdated(
            user_id=self.id,
            name=self.name if name is None else rules.name(name),
            avatar_url=self.avatar_url if avatar_url is None else rules.avatar_url(avatar_url),
            bio=self.bio if bio is None else rules.bio(bio),
            updated_at=now,
        )
        if (updated.name, updated.avatar_url, updated.bio) == (
            self.name,
            self.avatar_url,
            self.bio,
        ):
            raise BusinessRuleViolation(
                "NOTHING_CHANGED", "the profile already has this name, avatar and bio"
            )
        return updated

    def evolve(self, event: Event) -> User:
        match event:
            case ProfileUpdated():
                return replace(self, name=event.name, avatar_url=event.avatar_url, bio=event.bio)
        raise TypeError(f"a user does not take {type(event).__name__}")

    @staticmethod
    def from_history(events: list[Event]) -> User | None:
        """Replays a stream; None when the user never registered."""
        return replay(
            events,
            UserRegistered,
            lambda first: User(first.user_id, first.name, first.avatar_url, first.bio),
        )
