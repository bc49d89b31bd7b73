"""In a real browser: planted Markdown links and images stay text and fetch nothing, and a
session cookie copied before "Sign out" no longer signs anyone in.

Same set-up as `test_browser.py` (Debian's chromium, a fresh day under way at 13:00), with
every order's address and every driver's name replaced by hostile text before the server starts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import update

from core.bench.live_map import day_under_way
from core.db import make_engine, migrate, unit_of_work
from core.models import Driver, Order
from core.scenario import ScenarioParams, seed_scenario
from core.timeutil import at_seconds, local_today
from tests.e2e.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CLOCK_FROM_S,
    STEP_MS,
    TZ,
    _need_browser,
    app_server,
)

pytestmark = pytest.mark.e2e
TRAP = "127.0.0.1:9"
HOSTILE = f"![a](http://{TRAP}/p.png) [Call dispatch](http://{TRAP}/x) <img src=http://{TRAP}/i.png>"


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need_browser()
    tmp = tmp_path_factory.mktemp("e2e_hostile")
    url = f"sqlite:///{tmp / 'e2e.db'}"
    engine = make_engine(url)
    migrate(engine)
    today = local_today(TZ)
    now = at_seconds(today, TZ, CLOCK_FROM_S)
    with unit_of_work(engine) as session:
        seed_scenario(session, ScenarioParams(seed=3, orders=200, drivers=24, days=0, today=today))
    with unit_of_work(engine) as session:
        day_under_way(session, today, now, TZ, seed=5)
        session.execute(update(Order).values(address=HOSTILE, safe_place_note=HOSTILE, customer_name=HOSTILE))
        session.execute(update(Driver).values(name=HOSTILE))
    engine.dispose()
    with app_server(tmp, url, today, now, "e2e-" + "h" * 40) as base:
        yield base


def test_planted_markup_stays_text_and_a_copied_cookie_dies_with_sign_out(hostile_server: str) -> None:
    from playwright.sync_api import Route, expect, sync_playwright

    expect.set_options(timeout=STEP_MS)
    trapped: list[str] = []

    def trap(route: Route) -> None:
        trapped.append(route.request.url)
        route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.route(f"http://{TRAP}/**", trap)
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        page.goto(hostile_server)
        page.get_by_label("Username", exact=True).fill("sam")
        page.get_by_label("Password", exact=True).fill("sam-demo")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Next stop")).to_be_visible()  # the driver lands on the co-pilot
        shown = page.locator("[data-testid='stMarkdownContainer']", has_text="[Call dispatch](http")
        expect(shown.first).to_be_visible()  # the planted address, shown as the characters typed
        page.wait_for_timeout(1500)
        links = page.locator(f"a[href*='{TRAP}']")
        assert links.count() == 0, [
            links.nth(i).evaluate("a => a.parentElement.outerHTML") for i in range(links.count())
        ]
        assert page.locator(f"img[src*='{TRAP}']").count() == 0
        assert trapped == []

        page.wait_for_function("document.cookie.includes('ct_session=')")
        copied = next(c for c in context.cookies() if c["name"] == "ct_session")
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.wait_for_function("!document.cookie.includes('ct_session=')")
        context.add_cookies([copied])  # the cookie someone copied while Sam was signed in
        page.reload()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_text("Next stop")).to_have_count(0)
        browser.close()
