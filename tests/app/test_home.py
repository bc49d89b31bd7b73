"""The first home page lists hubs, fleets and today's order counts from the database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.config import get_settings
from core.db import engine_for, unit_of_work
from core.models import Hub, Order
from tests.app.conftest import APP


def test_home_shows_hubs_and_todays_counts(app_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with unit_of_work(engine_for(app_db_url), read_only=True) as s:
        hubs = {h.code: h.name for h in s.scalars(select(Hub))}
        per_hub = dict(s.execute(select(Hub.code, func.count(Order.id)).join(Order, Order.hub_id == Hub.id)
                                 .where(Order.service_date == date(2026, 11, 27)).group_by(Hub.code)).all())
    monkeypatch.setattr("core.timeutil.local_today", lambda tz, now=None: date(2026, 11, 27))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    table = at.dataframe[0].value.set_index("hub")
    assert set(table.index) == set(hubs)
    assert {code: int(table.loc[code, "orders"]) for code in hubs} == per_hub
    fleets = at.dataframe[1].value
    assert set(fleets["fleet_type"]) == {"captive", "third_party", "gig"}
    assert get_settings().database_url == app_db_url
