"""Text that came from outside (imports, drivers, customers) is shown as text on every page:
Markdown links and images planted in names, addresses and notes render as plain characters,
and a file the import refuses shows a clear error on the Orders page, never a traceback."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update
from streamlit.testing.v1 import AppTest

from core.db import engine_for, unit_of_work
from core.models import Driver, Hub, Order, Vendor
from tests.app.conftest import signed_in
from ui import navigation

HOSTILE = (
    "![a](http://127.0.0.1:9/p.png) [Call dispatch](http://127.0.0.1:9/x) <img src=http://127.0.0.1:9/i>"
)
LIVE_MARKUP = re.compile(r"(?<!\\)!\[|(?<!\\)\]\(|(?<!\\)<img")
AUTOLINK = re.compile(r"(?i)https?://|www\.")  # GFM links these in the text left after escapes


@pytest.fixture
def hostile_db(scratch_db_url: str) -> str:
    with unit_of_work(engine_for(scratch_db_url)) as s:
        s.execute(update(Order).values(address=HOSTILE, customer_name=HOSTILE, safe_place_note=HOSTILE))
        s.execute(update(Driver).values(name=HOSTILE))
        s.execute(update(Vendor).values(name=HOSTILE))
        s.execute(update(Hub).values(name=HOSTILE))
    return scratch_db_url


def _rendered_markdown(at: AppTest) -> list[str]:
    """Every string the page hands to an element that renders Markdown."""
    texts = [
        e.value for kind in ("markdown", "caption", "title", "header", "subheader") for e in getattr(at, kind)
    ]
    texts += [e.value for kind in ("info", "error", "warning", "success") for e in getattr(at, kind)]
    texts += [m.label for m in at.metric] + [b.label for b in at.button]
    texts += [str(m.proto.help) for m in at.metric]
    return [t for t in texts if isinstance(t, str)]


@pytest.mark.parametrize(
    ("username", "path"), [*(("priya", p.path) for p in navigation.PAGES), ("sam", "copilot.py")]
)
def test_planted_links_and_images_render_as_text_on_every_page(
    hostile_db: str, username: str, path: str
) -> None:
    at = signed_in(username)
    at.switch_page(path).run(timeout=60)
    assert not at.exception
    texts = _rendered_markdown(at)
    assert any("127" in t for t in texts) or path != "copilot.py"  # the co-pilot shows the planted address
    assert [t for t in texts if LIVE_MARKUP.search(t)] == []
    assert [t for t in texts if AUTOLINK.search(re.sub(r"\\(.)", r"\1", t))] == []


HEADER = "external_ref,hub,address,lat,lon,window_start,window_end"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("R-1,BKN,1 Court St,40.69,-73.99," + "x" * 200_000 + ",2026-11-28T12:00", "longer than 131,072"),
        ("R-1,BKN,1 Court St,40.69,-73.99,2026-03-08T02:30,2026-03-08T03:30", "does not exist"),
        ("R-1,BKN,1 Court\x00St,40.69,-73.99,2026-11-28T10:00,2026-11-28T12:00", "NUL byte"),
        ("R-1,BKN,1 Court St,40.69,-73.99,9999-12-31T22:00,9999-12-31T23:00", "year 9999"),
    ],
)
def test_the_orders_page_shows_a_clear_refusal_for_a_hostile_file(
    scratch_db_url: str, row: str, reason: str
) -> None:
    at = signed_in("priya")
    at.switch_page("orders.py").run()
    at.file_uploader(key="orders.upload").upload(
        "orders.csv", f"{HEADER}\n{row}\n".encode(), "text/csv"
    ).run()
    at.button(key="orders.import").click().run()
    assert not at.exception
    assert "nothing was written" in at.error[0].value
    messages = " ".join(at.dataframe[-1].value["message"])
    assert reason in messages
