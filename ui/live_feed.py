"""The live map's snapshot for one viewer scope, re-read behind the viewers.

A map refresh never waits for the database: once the snapshot is a refresh period old, the
next viewer to ask starts a read in a background thread and is shown the snapshot as it is;
the viewers after it get the new one. Only a snapshot older than `STALE_PERIODS` refresh
periods (nobody asked for a while, or the background reads fail) is read while the viewer
waits, so a read's error reaches a page. What every viewer derives from one snapshot with the
same filters (the filtered frames, the deck and its JSON) is built once and shared, and the
background read builds it again for the new snapshot, for every key asked of the old one.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from core.live import LiveMap

T = TypeVar("T")
STALE_PERIODS = 3  # a snapshot this many refresh periods old is read again before it is shown
SHARED_PER_SNAPSHOT = 32  # derived views kept for the current snapshot (filter combinations)

log = logging.getLogger(__name__)
Make = Callable[[LiveMap], Any]  # derives a view from a snapshot's map


@dataclass(frozen=True)
class Snapshot:
    """One read of the live map: `serial` counts the feed's reads, `read_at_s` its clock's."""

    live: LiveMap
    serial: int
    read_at_s: float


class LiveFeed:
    """The latest snapshot of one scope; `clock` gives seconds (a snapshot's age is on it)."""

    def __init__(self, clock: Callable[[], float], refresh_s: float) -> None:
        self._clock, self._refresh_s = clock, refresh_s
        self._lock = threading.Lock()  # guards the fields below
        self._reading = threading.Lock()  # one read at a time, in the foreground or not
        self._snapshot: Snapshot | None = None
        self._refreshing = False
        # (serial, key) -> (make, make's value): derived views of the latest snapshot
        self._shared: OrderedDict[tuple[int, Hashable], tuple[Make, Any]] = OrderedDict()

    def snapshot(self, read: Callable[[], LiveMap]) -> Snapshot:
        """The latest snapshot; `read` reads the map now (in this thread or a background one)
        when the snapshot is a refresh period old."""
        with self._lock:
            current = self._snapshot
            age = None if current is None else self._clock() - current.read_at_s
            start = (
                current is not None
                and age is not None
                and self._refresh_s <= age < STALE_PERIODS * self._refresh_s
                and not self._refreshing
            )
            if start:
                self._refreshing = True
        if current is None or age is None or age >= STALE_PERIODS * self._refresh_s:
            return self._read_now(current, read)
        if start:
            threading.Thread(target=self._refresh, args=(read,), name="live-map-read", daemon=True).start()
        return current

    def shared(self, snapshot: Snapshot, key: Hashable, make: Callable[[LiveMap], T]) -> T:
        """`make(snapshot.live)` for this snapshot and key, made once for every viewer."""
        slot = (snapshot.serial, key)
        with self._lock:
            if slot in self._shared:
                return self._shared[slot][1]  # type: ignore[no-any-return]
        value = make(snapshot.live)
        self._keep(snapshot.serial, key, make, value)
        return value

    def _keep(self, serial: int, key: Hashable, make: Make, value: object) -> None:
        """Keep a derived value for the latest snapshot only, at most `SHARED_PER_SNAPSHOT`."""
        with self._lock:
            latest = self._snapshot.serial if self._snapshot is not None else serial
            for old in [s for s in self._shared if s[0] < latest]:
                del self._shared[old]
            if serial >= latest:
                self._shared[(serial, key)] = (make, value)
                while len(self._shared) > SHARED_PER_SNAPSHOT:
                    self._shared.popitem(last=False)

    def _read_now(self, seen: Snapshot | None, read: Callable[[], LiveMap]) -> Snapshot:
        with self._reading:
            with self._lock:
                if self._snapshot is not seen:  # another viewer read it while this one waited
                    return self._snapshot  # type: ignore[return-value]
            return self._store(self._clock(), read())

    def _refresh(self, read: Callable[[], LiveMap]) -> None:
        try:
            with self._reading:
                with self._lock:
                    asked = [(key, make) for (_, key), (make, _) in self._shared.items()]
                started = self._clock()
                live = read()
                # what viewers asked of the old snapshot, made before the new one is shown
                made = [(key, make, make(live)) for key, make in asked]
                self._store(started, live, made)
        except Exception:  # noqa: BLE001 - the viewers keep the last snapshot; a stale one is read in front
            log.exception("background read of the live map failed")
        finally:
            with self._lock:
                self._refreshing = False

    def _store(
        self,
        started_s: float,
        live: LiveMap,
        made: Sequence[tuple[Hashable, Make, Any]] = (),
    ) -> Snapshot:
        """Show the new snapshot, with what was already made of it, in one step."""
        with self._lock:
            serial = self._snapshot.serial + 1 if self._snapshot is not None else 1
            self._snapshot = Snapshot(live, serial, started_s)
            self._shared.clear()
            for key, make, value in made:
                self._shared[(serial, key)] = (make, value)
            return self._snapshot
