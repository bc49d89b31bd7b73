"""The live map's feed: a viewer never waits for a read once there is a snapshot less than
`STALE_PERIODS` refreshes old, a read is made once however many viewers ask, and what they
derive from one snapshot is made once."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from ui.live_feed import STALE_PERIODS, LiveFeed

REFRESH_S = 5.0


class Clock:
    def __init__(self) -> None:
        self.s = 1_000.0

    def __call__(self) -> float:
        return self.s


class Reads:
    """A read that returns a new object each time and can be held back or made to fail."""

    def __init__(self) -> None:
        self.count = 0
        self.release = threading.Event()
        self.release.set()
        self.fail = False
        self.done = threading.Event()

    def __call__(self) -> Any:
        self.release.wait(10)
        self.count += 1
        self.done.set()
        if self.fail:
            raise RuntimeError("database gone")
        return ("map", self.count)


def _settle(feed: LiveFeed) -> None:
    """Wait for a background read to end (the feed is idle again)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not feed._refreshing:
            return
        time.sleep(0.01)
    raise AssertionError("the background read never ended")


def test_the_first_viewer_waits_for_a_read_and_the_next_ones_share_it() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    first = feed.snapshot(reads)
    clock.s += REFRESH_S - 0.1
    assert feed.snapshot(reads) is first and reads.count == 1
    assert first.live == ("map", 1) and first.serial == 1


def test_a_snapshot_a_refresh_old_is_shown_while_a_new_one_is_read_behind_the_viewer() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    first = feed.snapshot(reads)
    clock.s += REFRESH_S
    reads.release.clear()  # the database is slow: the viewer must not wait for it
    reads.done.clear()
    started = time.monotonic()
    assert feed.snapshot(reads) is first
    assert feed.snapshot(reads) is first  # a second viewer starts no second read
    assert time.monotonic() - started < 1.0
    reads.release.set()
    assert reads.done.wait(10)
    _settle(feed)
    newer = feed.snapshot(reads)
    assert newer.live == ("map", 2) and newer.serial == 2 and reads.count == 2


def test_a_snapshot_too_old_is_read_again_before_it_is_shown() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    feed.snapshot(reads)
    clock.s += STALE_PERIODS * REFRESH_S
    again = feed.snapshot(reads)
    assert again.live == ("map", 2) and reads.count == 2


def test_a_failed_background_read_keeps_the_snapshot_and_a_stale_one_raises_in_front() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    first = feed.snapshot(reads)
    clock.s += REFRESH_S
    reads.fail = True
    reads.done.clear()
    assert feed.snapshot(reads) is first
    assert reads.done.wait(10)
    _settle(feed)
    assert feed.snapshot(reads) is not None  # a new background read starts; the old map is shown
    _settle(feed)
    clock.s += STALE_PERIODS * REFRESH_S
    with pytest.raises(RuntimeError, match="database gone"):
        feed.snapshot(reads)


def test_viewers_share_what_they_derive_from_one_snapshot_and_not_from_an_older_one() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    made: list[str] = []

    def make(tag: str) -> Any:
        made.append(tag)
        return object()

    first = feed.snapshot(reads)
    a = feed.shared(first, "all hubs", lambda live: make("a"))
    assert feed.shared(first, "all hubs", lambda live: make("b")) is a
    assert feed.shared(first, "one hub", lambda live: make("c")) is not a
    assert made == ["a", "c"]
    clock.s += STALE_PERIODS * REFRESH_S
    second = feed.snapshot(reads)
    assert feed.shared(second, "all hubs", lambda live: make("d")) is not a
    assert made == ["a", "c", "d"]
    # a viewer still on the old snapshot gets its own view, and it is not kept
    feed.shared(first, "all hubs", lambda live: make("e"))
    feed.shared(first, "all hubs", lambda live: make("f"))
    assert made == ["a", "c", "d", "e", "f"]


def test_a_background_read_makes_what_viewers_asked_of_the_old_snapshot_before_showing_it() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    first = feed.snapshot(reads)
    assert feed.shared(first, "all hubs", lambda live: ("view of", live)) == ("view of", ("map", 1))
    clock.s += REFRESH_S
    feed.snapshot(reads)
    _settle(feed)
    second = feed.snapshot(reads)
    assert second.serial == 2

    def never(live: Any) -> Any:
        raise AssertionError("the viewer should find it made")

    assert feed.shared(second, "all hubs", never) == ("view of", ("map", 2))


def test_viewers_asking_at_once_for_a_first_snapshot_cause_one_read() -> None:
    clock, reads = Clock(), Reads()
    feed = LiveFeed(clock, REFRESH_S)
    reads.release.clear()
    got: list[Any] = []
    threads = [threading.Thread(target=lambda: got.append(feed.snapshot(reads))) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    reads.release.set()
    for t in threads:
        t.join(10)
    assert reads.count == 1 and len(got) == 4 and len({id(s) for s in got}) == 1
