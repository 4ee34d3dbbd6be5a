"""Event messages: a message decodes to the events encoded, once per message for the whole
process, and a runner takes messages until it holds its batch."""

from __future__ import annotations

from projections.live.broadcast import Inbox
from projections.projectors import messages
from tests.support.recorded import recorded


def test_a_message_decodes_once_to_the_events_encoded_in_order() -> None:
    [payload] = messages.encode([recorded(7), recorded(8)])
    first = messages.decode(payload)
    assert first == (recorded(7), recorded(8))
    # Every projection of the process gets the same message: the same decoded events.
    assert messages.decode(payload) is first
    # A different message is decoded for itself.
    [other] = messages.encode([recorded(9)])
    assert [e.position for e in messages.decode(other)] == [9]


def test_messages_are_cut_by_count_and_by_size() -> None:
    """A hundred posts of the longest content allowed must not make one message of tens
    of megabytes: Redis drops a subscriber whose unsent messages pass 32 MB."""
    count = [len(messages.decode(m)) for m in messages.encode(map(recorded, range(1, 251)))]
    assert count == [messages.MESSAGE_EVENTS, messages.MESSAGE_EVENTS, 50]

    third = messages.MESSAGE_BYTES // 3
    events = [recorded(position, body="x" * third) for position in range(1, 8)]
    events.append(recorded(8, body="y" * (messages.MESSAGE_BYTES + 1)))  # too big even alone
    events.append(recorded(9))
    cut = messages.encode(events)
    assert [len(messages.decode(m)) for m in cut] == [2, 2, 2, 1, 1, 1]
    assert [len(m) <= messages.MESSAGE_BYTES for m in cut] == [True] * 4 + [False, True]
    assert [e for m in cut for e in messages.decode(m)] == events


def inbox_of(*sizes: int) -> Inbox:
    """An inbox holding one message per size, of that many events, positions counting up."""
    inbox, position = Inbox(maxsize=100), 0
    for size in sizes:
        [message] = messages.encode([recorded(position + n + 1) for n in range(size)])
        inbox.put(message.decode())
        position += size
    return inbox


def test_messages_are_taken_until_the_batch_is_full_and_the_rest_wait() -> None:
    inbox = inbox_of(100, 100, 100, 100)
    first = messages.take_events(inbox, 250)
    # Whole messages: the third takes the batch past its size; the fourth waits.
    assert first is not None and [e.position for e in first] == list(range(1, 301))
    assert [e.position for e in messages.take_events(inbox, 250) or []] == list(range(301, 401))
    assert messages.take_events(inbox, 250) == []


def test_a_lost_or_undecodable_message_sends_the_runner_to_the_log() -> None:
    lost = inbox_of(3)
    lost.mark_lost()  # the connection dropped: a gap nobody can see
    assert messages.take_events(lost, 500) is None
    assert messages.take_events(lost, 500) == []  # the loss was reported once

    newer = inbox_of(3)
    newer.put('{"a message": "of a format this process does not know"}')
    assert messages.take_events(newer, 500) is None
