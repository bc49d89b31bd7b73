"""Cached engine and read models for the pages; the only place the app reaches the database.

Reads are `st.cache_data` with a short TTL and a bound on entries, keyed by database URL and
viewer, so one vendor's cached rows are never served to another. Writes open one unit of work
and clear the caches they make stale.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import streamlit as st
from sqlalchemy import Engine

from core import auth
from core.access import SYSTEM, Viewer
from core.config import Settings, get_settings
from core.db import engine_for, migrate, unit_of_work
from core.imports import ImportResult
from core.live import LiveMap, hub_table, read_live_map
from core.orders_view import (
    OrderFacets,
    OrderQuery,
    OrderSearch,
    import_orders_as,
    order_facets,
    search_orders,
)
from core.sim import control as sim_control
from core.timeutil import local_today
from ui.live_feed import LiveFeed, Snapshot

LIVE_REFRESH_S = 5
SIM_STATE_TTL_S = 1  # the simulator's clock is read at most this often (it moves once a tick)


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """One engine per database URL, migrated to head when first made (start-up)."""
    made = engine_for(url)
    migrate(made)
    return made


def settings() -> Settings:
    return get_settings()


def current_engine() -> Engine:
    return engine(settings().database_url)


@st.cache_data(ttl=SIM_STATE_TTL_S, max_entries=8, show_spinner=False)
def _sim_state(url: str) -> sim_control.SimStateView | None:
    with unit_of_work(engine(url), read_only=True) as session:
        return sim_control.current(session)


def sim_clock() -> sim_control.SimStateView | None:
    """The running (or paused) simulator's clock; None when no simulator is live."""
    state = _sim_state(settings().database_url)
    return state if state is not None and state.live(datetime.now(UTC)) else None


def sim_day_ended() -> sim_control.SimStateView | None:
    """The last simulator's state when it ran its day to the end and none runs now: the app
    stays on that day (`now`) until a person starts another."""
    state = _sim_state(settings().database_url)
    if state is None or state.live(datetime.now(UTC)) or not state.finished(settings().timezone):
        return None
    return state


def now() -> datetime:
    """The app's one clock (aware UTC): the simulator's time while one runs or is paused, or
    after it finished its day; else the wall clock (the rule of `core.sim.control.app_now`; the
    state is read at most once per `SIM_STATE_TTL_S`)."""
    wall = datetime.now(UTC)
    state = _sim_state(settings().database_url)
    return state.clock(wall, settings().timezone) if state is not None else wall


def simulated() -> bool:
    """Times on screen come from a simulated clock (running, paused or its finished day)."""
    return sim_clock() is not None or sim_day_ended() is not None


def set_paused(paused: bool) -> None:
    """Hold or release the simulator (it obeys at its next tick); a button callback."""
    with unit_of_work(current_engine()) as session:
        sim_control.set_paused(session, paused)
    _sim_state.clear()


def today() -> date:
    """Today at the hubs."""
    return local_today(settings().timezone, now())


@st.cache_resource(show_spinner=False)
def _secret_key() -> bytes:
    return auth.load_secret_key()


def server_address() -> str | None:
    """The address the server listens on (`server.address`); unset means every interface."""
    value = st.get_option("server.address")
    return str(value) if value else None


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@st.cache_data(ttl=60, max_entries=4, show_spinner=False)
def _demo_passwords_in_use(url: str) -> list[str]:
    with unit_of_work(engine(url), read_only=True) as session:
        return auth.demo_passwords_in_use(session)


def demo_passwords_in_use() -> list[str]:
    """Demo users still on their published password (checked at most once a minute)."""
    return _demo_passwords_in_use(settings().database_url)


def wall_now() -> datetime:
    """The wall clock: sign-ins expire on it, never on the simulator's clock."""
    return datetime.now(UTC)


def sign_in(username: str, password: str) -> auth.SignIn | None:
    """Check the password and open a session (one write)."""
    with unit_of_work(current_engine()) as session:
        return auth.authenticate(
            session,
            username,
            password,
            _secret_key(),
            now=wall_now(),
            lifetime=timedelta(hours=settings().session_hours),
        )


def resume(token: str) -> auth.SignIn | None:
    """The sign-in `token` names while its session is open (checked on every run)."""
    with unit_of_work(current_engine(), read_only=True) as session:
        return auth.resume(session, token, _secret_key(), now=wall_now())


def sign_out(token: str) -> None:
    """End the session: every tab that holds it shows the sign-in on its next run."""
    with unit_of_work(current_engine()) as session:
        auth.sign_out(session, token, _secret_key(), now=wall_now())


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _hubs(url: str) -> pd.DataFrame:
    with unit_of_work(engine(url), read_only=True) as session:
        return hub_table(session)


def hubs() -> pd.DataFrame:
    """Every hub: hub_id, code, name, lat, lon, timezone (hubs are not secret to anyone)."""
    return _hubs(settings().database_url)


@st.cache_resource(max_entries=16, show_spinner=False)
def _live_feed(url: str, viewer: Viewer, tz: str) -> LiveFeed:
    """One feed per scope, shared by its viewers: its snapshot is a resource, not data, so
    no rerun unpickles a copy of a 1,000-driver day (5 MB). Nothing mutates a LiveMap."""
    return LiveFeed(lambda: wall_now().timestamp(), LIVE_REFRESH_S)


def day_changed() -> None:
    """The plan changed: every cached read of the day (the map included) is stale."""
    st.cache_data.clear()
    _live_feed.clear()


def _scope(viewer: Viewer) -> Viewer:
    """What a read depends on: everyone with the full view shares one cache entry; a vendor
    its vendor's, a driver their own. Never wider than the viewer."""
    if viewer.sees_everything:
        return SYSTEM
    return Viewer(
        username=viewer.role.value, role=viewer.role, vendor_id=viewer.vendor_id, driver_id=viewer.driver_id
    )


def live_snapshot(viewer: Viewer) -> tuple[LiveFeed, Snapshot]:
    """The viewer's live map as last read (shared by every viewer alike) and its feed; a read
    is at most `LIVE_REFRESH_S` of wall time old when a viewer asks, and then made behind them
    (see `ui.live_feed`). The wall clock's: a simulator at 60x moves its clock 300 s per
    refresh, and reading on it would read (and keep) a 1,000-driver map on every rerun."""
    url, scope, tz = settings().database_url, _scope(viewer), settings().timezone
    at, source = now(), engine(url)

    def read() -> LiveMap:
        with unit_of_work(source, read_only=True) as session:
            return read_live_map(session, scope, local_today(tz, at), at, tz)

    feed = _live_feed(url, scope, tz)
    return feed, feed.snapshot(read)


def live_map(viewer: Viewer) -> LiveMap:
    """The viewer's live map as last read (see `live_snapshot`)."""
    return live_snapshot(viewer)[1].live


@st.cache_data(ttl=LIVE_REFRESH_S, max_entries=64, show_spinner=False)
def _orders(url: str, viewer: Viewer, day: date, query: OrderQuery) -> OrderSearch:
    with unit_of_work(engine(url), read_only=True) as session:
        return search_orders(session, viewer, day, query)


def orders(viewer: Viewer, query: OrderQuery) -> OrderSearch:
    return _orders(settings().database_url, _scope(viewer), today(), query)


@st.cache_data(ttl=60, max_entries=32, show_spinner=False)
def _facets(url: str, viewer: Viewer, day: date) -> OrderFacets:
    with unit_of_work(engine(url), read_only=True) as session:
        return order_facets(session, viewer, day)


def facets(viewer: Viewer) -> OrderFacets:
    return _facets(settings().database_url, _scope(viewer), today())


def import_orders(viewer: Viewer, data: bytes) -> ImportResult:
    """One user action, one transaction: all rows or none (raises `ImportRejectedError`)."""
    with unit_of_work(current_engine()) as session:
        result = import_orders_as(session, viewer, data, now=now())
    for cached in (_orders, _facets, _live_feed):
        cached.clear()
    return result
