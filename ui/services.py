"""Cached engine and read models for the pages; the only place the app reaches the database."""

from __future__ import annotations

from datetime import date

import streamlit as st
from sqlalchemy import Engine

from core.config import get_settings
from core.db import engine_for, migrate, unit_of_work
from core.overview import FleetView, HubView, fleet_overview, hub_overview


@st.cache_resource(show_spinner=False)
def engine(url: str) -> Engine:
    """One engine per database URL, migrated to head when first made (start-up)."""
    made = engine_for(url)
    migrate(made)
    return made


def current_engine() -> Engine:
    return engine(get_settings().database_url)


@st.cache_data(ttl=5, max_entries=64, show_spinner=False)
def hubs(url: str, day: date) -> list[HubView]:
    with unit_of_work(engine(url), read_only=True) as session:
        return hub_overview(session, day)


@st.cache_data(ttl=30, max_entries=16, show_spinner=False)
def fleets(url: str) -> list[FleetView]:
    with unit_of_work(engine(url), read_only=True) as session:
        return fleet_overview(session)
