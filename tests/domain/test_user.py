"""The User aggregate's rules: given events, when a command, then events or a refusal."""

from datetime import UTC, datetime

import pytest

from domain.errors import BusinessRuleViolation, Forbidden, InvalidInput
from domain.events import ProfileUpdated, UserRegistered
from domain.user import User

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def registered() -> UserRegistered:
    return UserRegistered(
        user_id="u1",
        name="Ann",
        avatar_url="https://example.com/a.png",
        bio="Hi",
        registered_at=NOW,
    )


def given(*events: object) -> User:
    user = User.from_history(list(events))  # type: ignore[arg-type]
    assert user is not None
    return user


def test_registering_trims_the_name() -> None:
    event = User.register("u1", "  Ann ", "https://example.com/a.png", "Hi", NOW)
    assert event == registered()


@pytest.mark.parametrize(
    ("field", "name", "avatar", "bio"),
    [
        ("name", "", None, ""),
        ("name", "x" * 101, None, ""),
        ("avatarUrl", "Ann", "javascript:alert(1)", ""),
        ("avatarUrl", "Ann", "https://" + "x" * 2000, ""),
        ("bio", "Ann", None, "x" * 2001),
    ],
)
def test_registration_input_is_checked(field: str, name: str, avatar: str | None, bio: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        User.register("u1", name, avatar, bio, NOW)
    assert refused.value.field == field


@pytest.mark.parametrize(
    "avatar",
    [
        "http://example.com:99999/a.png",
        "http://[::1/a.png",
        "https://%zz/a",
        "http://a.com:0/x",
        "http://-/x",
        "http://999.1.1.1/a.png",
        "http://[1.2.3.4]/a.png",
        "http://user:pw@example.com/a.png",
        "https://trusted.example@evil.example/a.png",
        "http://[::1]x/a.png",
        "http://[::1]]/a.png",
        "http://[fe80::1%25eth0]/a.png",
        "http://example.0x7f/a.png",
        "http://0x7f000001/a.png",
        "http://1.2.3.0x4/a.png",
        "http://010.1.1.1/a.png",
        "http://xn--a/a.png",
        "http://xn--55555577/a.png",
        "http://xn--dca.example/a.png",
        "http://xn--ph7c.example/a.png",
        "http://xn--a-wbb.example/a.png",
        "http://xn--ab-r13a.example/a.png",
        "http://xn--a-1hc.example/a.png",
        "http://xn--oce.example/a.png",
        "http://xn--85j.example/a.png",
        "http://a..b/a.png",
    ],
)
def test_an_avatar_url_must_name_a_server_every_parser_reads_alike(avatar: str) -> None:
    """Stored, each made browsers' `new URL()` or Python's `urlsplit` throw on one user's
    profile, or showed one host and fetched another (outside probes:
    domain/avatar_hosts.py)."""
    with pytest.raises(InvalidInput, match="must name a host") as refused:
        User.register("u1", "Ann", avatar, "", NOW)
    assert refused.value.field == "avatarUrl"


@pytest.mark.parametrize(
    "avatar",
    [
        "http://[::1]:8080/a.png",
        "http://127.0.0.1/a.png",
        "https://CDN_1.example.com./a.png?s=64#x",
        "http://localhost:8000/a.png",
        "https://xn--bcher-kva.example/a.png",
        "HTTP://example.com/a.png",
        "http://xn--r8jz45g.jp/a.png",
        "http://xn--mgbh0fb.example/a.png",
        "http://xn--zca.xn--p1ai/a.png",
        "http://[::ffff:1.2.3.4]/a.png",
        "http://example.com:080/a.png",
        "https://res.cloudinary.com/demo/image/upload/w_100,h_100,c_fill/a.jpg?size[w]=64",
    ],
)
def test_an_avatar_url_may_name_any_host_and_port(avatar: str) -> None:
    assert User.register("u1", "Ann", avatar, "", NOW).avatar_url == avatar


def test_a_profile_update_keeps_what_it_does_not_name() -> None:
    event = given(registered()).update_profile("u1", "Annie", None, None, NOW)
    assert event == ProfileUpdated(
        user_id="u1", name="Annie", avatar_url="https://example.com/a.png", bio="Hi", updated_at=NOW
    )


def test_an_empty_avatar_url_removes_the_avatar() -> None:
    assert given(registered()).update_profile("u1", None, "", None, NOW).avatar_url is None


def test_only_the_user_may_change_their_profile() -> None:
    with pytest.raises(Forbidden):
        given(registered()).update_profile("u2", "Mallory", None, None, NOW)


def test_replaying_the_history_rebuilds_the_profile() -> None:
    update = ProfileUpdated(user_id="u1", name="B", avatar_url=None, bio="", updated_at=NOW)
    assert given(registered(), update) == User("u1", "B", None, "")


@pytest.mark.parametrize(
    ("name", "avatar", "bio"),
    [(None, None, None), ("Ann", None, None), (" Ann ", "https://example.com/a.png", "Hi")],
)
def test_a_profile_update_that_changes_nothing_is_refused(
    name: str | None, avatar: str | None, bio: str | None
) -> None:
    """Recorded, it moved the user's version for nothing; the author's posts were all
    rewritten and sent to live subscribers too (an outside probe)."""
    with pytest.raises(BusinessRuleViolation) as refused:
        given(registered()).update_profile("u1", name, avatar, bio, NOW)
    assert refused.value.reason == "NOTHING_CHANGED"
