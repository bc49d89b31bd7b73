"""The orders page: search and filters over today's orders; the CSV import, all or nothing."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core.db import engine_for, unit_of_work
from core.kinds import OrderStatus
from core.models import Order
from core.scenario.csv_export import orders_csv
from tests.app.conftest import signed_in
from tests.conftest import TEST_DAY


def _orders_page(username: str = "priya") -> AppTest:
    at = signed_in(username)
    at.switch_page("orders.py").run()
    assert not at.exception
    return at


def _table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value  # the orders table comes first; row errors, if any, second


def _count(url: str) -> int:
    with unit_of_work(engine_for(url), read_only=True) as s:
        return int(s.scalar(select(func.count()).select_from(Order)) or 0)


def test_lists_todays_orders(app_db_url: str) -> None:
    at = _orders_page()
    with unit_of_work(engine_for(app_db_url), read_only=True) as s:
        today = s.scalar(select(func.count()).select_from(Order).where(Order.service_date == TEST_DAY))
    table = _table(at)
    assert at.caption[0].value == f"{today:,} orders match"
    assert len(table) == today and table["ref"].str.startswith("ORD-20261127-").all()


def test_search_by_reference_and_filters(live_app: str) -> None:
    at = _orders_page()
    at.text_input(key="orders.ref").input("00001").run()
    table = _table(at)
    assert len(table) > 0 and table["ref"].str.contains("00001").all()
    at.text_input(key="orders.ref").input("").run()
    at.multiselect(key="orders.statuses").set_value([OrderStatus.DELIVERED]).run()
    table = _table(at)
    with unit_of_work(engine_for(live_app), read_only=True) as s:
        delivered = s.scalar(
            select(func.count())
            .select_from(Order)
            .where(Order.service_date == TEST_DAY, Order.status == OrderStatus.DELIVERED)
        )
    assert len(table) == delivered and set(table["status"]) == {"delivered"}
    assert table["driver"].notna().all()
    at.selectbox(key="frame.hub").select("QNS").run()
    assert set(_table(at)["hub"]) == {"QNS"}


def test_a_bad_csv_shows_every_row_error_and_writes_nothing(scratch_db_url: str) -> None:
    before = _count(scratch_db_url)
    lines = orders_csv(3, TEST_DAY + timedelta(days=1), prefix="BAD").splitlines()
    header = lines[0].split(",")
    row2 = lines[2].split(",")
    row2[header.index("hub")] = "XXX"
    row3 = lines[3].split(",")
    row3[header.index("lat")] = "north"
    data = "\n".join([lines[0], lines[1], ",".join(row2), ",".join(row3)]).encode()
    at = _orders_page()
    at.file_uploader(key="orders.upload").upload("orders.csv", data, "text/csv").run()
    at.button(key="orders.import").click().run()
    assert not at.exception
    assert "nothing was written" in at.error[0].value
    errors = at.dataframe[1].value
    assert list(errors.columns) == ["line", "field", "message"]
    assert list(zip(errors["line"], errors["field"], strict=True)) == [(3, "hub"), (4, "lat")]
    assert "unknown hub 'XXX'" in errors["message"].iloc[0]
    assert _count(scratch_db_url) == before


def test_a_good_csv_is_imported_and_counted(scratch_db_url: str) -> None:
    before = _count(scratch_db_url)
    at = _orders_page()
    data = orders_csv(25, TEST_DAY, prefix="NEW").encode()
    at.file_uploader(key="orders.upload").upload("orders.csv", data, "text/csv").run()
    at.button(key="orders.import").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == "Imported 25 orders."
    assert _count(scratch_db_url) == before + 25
    at.text_input(key="orders.ref").input("NEW").run()
    assert len(_table(at)) == 25


@pytest.mark.parametrize("username", ["marcus", "aisha"])
def test_roles_that_may_not_change_the_plan_search_but_cannot_import(username: str) -> None:
    at = _orders_page(username)
    assert len(_table(at)) > 0
    assert not at.file_uploader and not [b for b in at.button if b.key == "orders.import"]
