"""The real server in a real browser: a dispatcher's journey, then every page as every role sees it.

Starts `streamlit run pages/app.py` on a free port against a freshly seeded SQLite database
with today under way (the app's clock starts at 13:00, published as a simulator's), and
drives Debian's chromium with Playwright (Playwright's own browser download is not possible
here). Every request that would leave the machine is blocked, so the maps must draw from
what the app serves itself. Screenshots land in `test-artifacts/`
(git-ignored): one per page per role, the co-pilot at phone size, the tracking page.

Every page fails the test if it shows a Python exception, the word "None", a code such as
`road_closed` where words belong, or a time labelled UTC.

Without /usr/bin/chromium the test skips with the reason, unless CT_REQUIRE_BROWSER=1 (CI), in
which case it fails.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from sqlalchemy import select

from core.agents.customer import issue_token
from core.bench.live_map import day_under_way
from core.db import make_engine, migrate, unit_of_work
from core.models import Hub, Order, OrderStatus, Plan
from core.scenario import ScenarioParams, seed_scenario
from core.sim import control as sim_control
from core.timeutil import at_seconds, local_today
from ui.copilot import LATER_COLOUR, NEXT_COLOUR
from ui.maps import AFTER_COLOUR, FLEET_COLOURS, ORDER_COLOURS

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TZ = "America/New_York"
CLOCK_FROM_S = 13 * 3600  # the app's clock starts at 13:00 hub time here: the day under way
SERVER_START_S = 120
STEP_MS = 45_000
SETTLE_MS = 15_000
PHONE = {"width": 390, "height": 844}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
RUN_FINISHED = (  # no running indicator, no placeholder, and every chart drawn
    "!document.querySelector(\"[data-testid='stStatusWidgetRunningIcon']\")"
    " && !document.querySelector(\"[data-testid='stSkeleton']\")"
    " && [...document.querySelectorAll(\"[data-testid='stPlotlyChart']\")]"
    ".every(c => c.querySelector('.main-svg'))"
)

# What a page title shows once the page has drawn, per page path.
PAGE_MARK = {
    "live_map": "Live map ·",
    "orders": "Orders for",
    "dispatch": "Dispatch ·",
    "copilot": "Co-pilot ·",
    "fleet_mix": "Fleet mix",
    "compliance": "Driver compliance on",
    "vendor_review": "scorecard",
}
OPERATIONS_PAGES = ["live_map", "orders", "dispatch", "copilot", "fleet_mix", "compliance", "vendor_review"]
ROLES = {  # one user per role -> the pages in that role's menu, in menu order
    "admin": OPERATIONS_PAGES,
    "priya": OPERATIONS_PAGES,  # dispatcher
    "marcus": OPERATIONS_PAGES,  # head of last mile
    "aisha": OPERATIONS_PAGES,  # fleet manager
    "jonas": ["live_map", "compliance", "vendor_review"],  # vendor
    "carla": ["live_map", "copilot"],  # driver (Sam, the other driver, is on the phone below)
}
NAV_TITLES = {
    "live_map": "Live map",
    "orders": "Orders",
    "dispatch": "Dispatch",
    "copilot": "Co-pilot",
    "fleet_mix": "Fleet mix",
    "compliance": "Compliance",
    "vendor_review": "Vendor review",
}
# Words a person should never read: Python's empty value, a time in UTC, an exception, and any
# snake_case code (an enum value such as road_closed or out_for_delivery shown as it is stored).
NONE_WORD = re.compile(r"\bNone\b")
UTC_WORD = re.compile(r"\bUTC\b")
CODE_WORD = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
EXCEPTION_WORDS = re.compile(r"Traceback|Exception:|Error:|KeyError|TypeError|AttributeError")


def _need_browser() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"CT_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base: str
    database_url: str
    tracking_token: str


def _plan_versions(url: str) -> dict[str, int]:
    """Today's plan version per hub code, read straight from the database."""
    engine = make_engine(url)
    with unit_of_work(engine, read_only=True) as session:
        rows = session.execute(
            select(Hub.code, Plan.version)
            .join(Plan, Plan.hub_id == Hub.id)
            .where(Plan.service_date == local_today(TZ))
        ).all()
    engine.dispose()
    return {code: version for code, version in rows}


@contextlib.contextmanager
def running_clock(url: str, day: date, at: datetime) -> Iterator[None]:
    """The app's clock starts at `at` and runs at real speed for as long as the block runs: a
    simulator's state published every second (no simulator moves the day), so the day is under
    way whatever the hour the tests run (at night the wall clock finds every order delivered)."""
    engine = make_engine(url)
    stop = threading.Event()
    started = datetime.now(UTC)

    def publish() -> None:
        wall = datetime.now(UTC)
        with unit_of_work(engine) as session:
            sim_control.publish(session, day, at + (wall - started), 1.0, wall)

    def tick() -> None:
        while not stop.wait(1.0):
            publish()

    publish()
    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        engine.dispose()


@contextlib.contextmanager
def app_server(tmp: Path, url: str, day: date, at: datetime, secret: str) -> Iterator[str]:
    """`streamlit run pages/app.py` on a free port against `url`, its clock started at `at`
    (`running_clock`); yields the base URL once the server answers, and stops it afterwards."""
    env = {**os.environ, "DATABASE_URL": url, "TIMEZONE": TZ, "CT_SECRET_KEY": secret}
    env.pop("BASEMAP_STYLE", None)  # the default street basemap: the tests block its requests
    port = _free_port()
    with running_clock(url, day, at), (tmp / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "pages/app.py", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_S
            while True:
                try:
                    if urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).read() == b"ok":
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = (tmp / "server.log").read_text()[-2000:]
                    pytest.fail(f"the server did not come up; log: {tail}")
                time.sleep(0.5)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on a fresh demo day under way at 13:00 (its clock starts there), with two days of
    history."""
    _need_browser()
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'e2e.db'}"
    engine = make_engine(url)
    migrate(engine)
    today = local_today(TZ)
    now = at_seconds(today, TZ, CLOCK_FROM_S)
    with unit_of_work(engine) as session:
        seed_scenario(session, ScenarioParams(seed=3, orders=400, drivers=40, days=2, today=today))
    with unit_of_work(engine) as session:
        day_under_way(session, today, now, TZ, seed=5)
    with unit_of_work(engine) as session:
        order_id = session.scalars(
            select(Order.id).where(Order.status.in_([OrderStatus.PLANNED, OrderStatus.OUT_FOR_DELIVERY]))
        ).first()
        assert order_id is not None
        token = issue_token(session, order_id, now, timedelta(days=1))
    engine.dispose()
    with app_server(tmp, url, today, now, "e2e-" + "k" * 40) as base:
        yield Server(base, url, token)


def _pixels_near(png: bytes, rgb: tuple[int, int, int], tolerance: int = 28) -> int:
    from PIL import Image

    image = np.asarray(Image.open(BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(image - np.array(rgb, dtype=np.int16)).max(axis=2) <= tolerance).sum())


def _centroid(png: bytes, rgb: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image

    image = np.asarray(Image.open(BytesIO(png)).convert("RGB"), dtype=np.int16)
    ys, xs = np.nonzero(np.abs(image - np.array(rgb, dtype=np.int16)).max(axis=2) <= 28)
    return np.array([xs.mean(), ys.mean()])


class Offline:
    """Blocks every request that would leave the machine and remembers where it was going."""

    def __init__(self) -> None:
        self.blocked: list[str] = []

    def __call__(self, route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS or route.request.url.startswith("data:"):
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort()


def _browser_context(p: Any, offline: Offline, **options: Any) -> Any:
    browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    context = browser.new_context(**options)
    context.route("**/*", offline)
    context.set_default_timeout(STEP_MS)
    return context


def _sign_in(page: Any, base: str, username: str) -> None:
    from playwright.sync_api import expect

    page.goto(base)
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(f"{username}-demo")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def _settled(page: Any) -> None:
    """Wait until the script has finished its run (Streamlit's running indicator is gone). A
    page whose live part reruns every few seconds may never look idle on a loaded machine:
    after `SETTLE_MS` it is taken as it is."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page.wait_for_timeout(300)
    try:
        page.wait_for_function(RUN_FINISHED, timeout=SETTLE_MS)
    except PlaywrightTimeout:
        pass
    page.wait_for_timeout(700)


def _whole_page(page: Any, path: Path) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its own container, so a
    full-page screenshot would stop at the window; the window grows to the content instead."""
    size = page.viewport_size
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 6000)})
    page.wait_for_timeout(800)
    page.screenshot(path=path)
    page.set_viewport_size(size)


VISIBLE_TEXT = """() => {
  const out = [];
  const app = document.querySelector("[data-testid='stApp']");
  const walker = document.createTreeWalker(app, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !el.getClientRects().length) continue;  // not drawn
    if (getComputedStyle(el).fontFamily.includes("Material")) continue;  // an icon's ligature name
    out.push(node.textContent);
  }
  return out.join("\\n");
}"""


def _visible_text(page: Any) -> str:
    """What a person reads: the page's drawn text (icons are ligature names: left out), table
    cells included (the grid draws on a canvas and keeps an accessible copy of its cells)."""
    cells = page.locator("[data-testid='stDataFrame'] td, [data-testid='stDataFrame'] th").all_text_contents()
    return str(page.evaluate(VISIBLE_TEXT)) + "\n" + "\n".join(cells)


def _words_a_person_should_not_read(page: Any, where: str) -> list[str]:
    text = _visible_text(page)
    found = []
    if page.locator("[data-testid='stException']").count():
        found.append(f"{where}: an exception is shown")
    for name, pattern in (("None", NONE_WORD), ("UTC", UTC_WORD), ("exception", EXCEPTION_WORDS)):
        if m := pattern.search(text):
            found.append(f"{where}: {name} in {text[max(0, m.start() - 60) : m.end() + 60]!r}")
    codes = sorted(set(CODE_WORD.findall(text)))
    if codes:
        found.append(f"{where}: codes {codes[:8]}")
    return found


def test_a_dispatcher_signs_in_survives_a_reload_sees_the_map_and_approves(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_MS)  # a loaded CI machine renders WebGL on the CPU
    offline = Offline()
    with sync_playwright() as p:
        context = _browser_context(p, offline, viewport={"width": 1440, "height": 1000})
        page = context.new_page()

        # 1. A deep link without signing in shows only the sign-in.
        page.goto(f"{server.base}/live_map")
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_label("Username", exact=True)).to_be_visible()
        expect(page.locator("[data-testid='stDeckGlJsonChart']")).to_have_count(0)
        expect(page.locator("[data-testid='stSidebarNav']")).to_have_count(0)
        page.screenshot(path=ARTIFACTS / "01_login.png")

        # 2. A wrong password is refused; the right one signs in, on the page the link named.
        page.get_by_label("Username", exact=True).fill("priya")
        page.get_by_label("Password", exact=True).fill("not-her-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Wrong username or password.")).to_be_visible()
        page.get_by_label("Username", exact=True).fill("priya")
        page.get_by_label("Password", exact=True).fill("priya-demo")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Priya (dispatcher)")).to_be_visible()
        assert page.url.rstrip("/").endswith("/live_map")

        # 3. A reload is a new Streamlit session: the signed cookie signs Priya back in.
        page.wait_for_function("document.cookie.includes('ct_session=')")
        page.reload()
        expect(page.get_by_text("Priya (dispatcher)")).to_be_visible()
        expect(page.get_by_role("button", name="Sign in")).to_have_count(0)
        nav = page.locator("[data-testid='stSidebarNav']")
        expect(nav.get_by_text("Live map")).to_be_visible()

        # 4. The live map draws its layers with every outside request blocked (the street
        #    basemap cannot load): count layer colours in an element screenshot.
        chart = page.locator("[data-testid='stDeckGlJsonChart']")
        expect(chart.locator("canvas#deckgl-overlay")).to_be_attached()
        expect(page.get_by_text("On time so far")).to_be_visible()
        page.wait_for_timeout(2500)  # let the first frames render
        _settled(page)  # a rerun fades the page: draw it when none runs
        drawn = chart.screenshot(path=ARTIFACTS / "02_live_map_offline.png")
        fleets = {name: _pixels_near(drawn, FLEET_COLOURS[name]) for name in ("captive", "third_party")}
        orders = {name: _pixels_near(drawn, rgb) for name, rgb in ORDER_COLOURS.items()}
        assert all(n > 30 for n in fleets.values()), fleets  # drivers and their routes
        assert sum(n > 30 for n in orders.values()) >= 2, orders  # orders in at least two states
        assert offline.blocked, "the street basemap was expected to be asked for (and blocked)"

        # 5. A refresh (the fragment reruns every 5 s) keeps the user's pan.
        box = chart.bounding_box()
        assert box is not None
        stamp = page.get_by_text("As of ").inner_text()
        before = _centroid(drawn, FLEET_COLOURS["captive"])
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 + 160, box["y"] + box["height"] / 2 + 90, steps=12)
        page.mouse.up()
        page.wait_for_timeout(800)
        _settled(page)
        panned = _centroid(chart.screenshot(), FLEET_COLOURS["captive"])
        expect(page.get_by_text("As of ")).not_to_have_text(stamp, timeout=STEP_MS)  # refreshed
        page.wait_for_timeout(1500)
        _settled(page)
        refreshed = _centroid(chart.screenshot(), FLEET_COLOURS["captive"])
        assert np.linalg.norm(panned - before) > 60, (before, panned)
        assert np.linalg.norm(refreshed - panned) < 25, (panned, refreshed)

        # 6. Rebalance the first hub with the shortest time limit, review the proposal (its map
        #    draws the routes before and after in two colours), approve it: the version moves.
        versions = _plan_versions(server.database_url)
        nav.get_by_text("Dispatch").click()
        page.locator("[data-testid='stMain'] button").first.click()  # "All hubs": pick the first
        expect(page.get_by_role("button", name="Rebalance")).to_be_visible()
        hub = page.get_by_text("Dispatch · ").inner_text().split("· ", 1)[1].split()[0].strip()
        page.get_by_role("slider").first.focus()
        page.keyboard.press("Home")
        for _ in range(3):  # 5 s: time for the repair step to place the hub's unassigned orders
            page.keyboard.press("ArrowRight")
        page.get_by_role("button", name="Rebalance").click()
        expect(page.get_by_text("Solving:")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "03_solving.png", full_page=True)
        approve = page.get_by_role("button", name="Approve")
        expect(approve).to_be_visible(timeout=120_000)  # the solve's time limit plus a loaded CI
        expect(page.get_by_text("routes change")).to_be_visible()
        _settled(page)
        if page.get_by_text("No route changes").count():  # a loaded machine found nothing better
            _whole_page(page, ARTIFACTS / "04_proposal.png")
        else:
            routes = page.locator("[data-testid='stDeckGlJsonChart']").first
            expect(routes.locator("canvas#deckgl-overlay")).to_be_attached()
            page.wait_for_timeout(2000)
            _settled(page)
            drawn = routes.screenshot()
            _whole_page(page, ARTIFACTS / "04_proposal.png")
            # the routes after the change (drawn on top; a driver new to the plan has no "before")
            assert _pixels_near(drawn, AFTER_COLOUR) > 30, "the routes after the change are not drawn"
        assert not _words_a_person_should_not_read(page, "dispatch with a proposal")
        approve.click()
        expect(page.get_by_text("approved and applied")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "05_approved.png", full_page=True)
        assert _plan_versions(server.database_url)[hub] == versions[hub] + 1

        # 7. Signing out deletes the cookie: a reload stays signed out.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.wait_for_function("!document.cookie.includes('ct_session=')")
        page.reload()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_text("Priya (dispatcher)")).to_have_count(0)
        context.browser.close()
    assert all(urlsplit(u).hostname not in LOCAL_HOSTS for u in offline.blocked)


def test_every_page_for_every_role_reads_as_words(server: Server) -> None:
    """A screenshot of every page each role may open; none shows None, a code, UTC or an error."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_MS)
    offline = Offline()
    problems: list[str] = []
    with sync_playwright() as p:
        context = _browser_context(p, offline, viewport={"width": 1440, "height": 1000})
        for username, paths in ROLES.items():
            page = context.new_page()
            _sign_in(page, server.base, username)
            nav = page.locator("[data-testid='stSidebarNav']")
            shown = [t.strip().splitlines()[-1] for t in nav.locator("a").all_inner_texts()]  # no icon
            assert shown == [NAV_TITLES[path] for path in paths], (username, shown)
            for path in paths:
                nav.get_by_text(NAV_TITLES[path], exact=True).click()
                page.wait_for_url(f"**/{path}")
                expect(page.get_by_text(PAGE_MARK[path]).first).to_be_visible()
                _settled(page)
                _whole_page(page, ARTIFACTS / f"page_{username}_{path}.png")
                problems += _words_a_person_should_not_read(page, f"{username} on {path}")
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()
            page.close()
        context.browser.close()
    assert not problems, "\n".join(problems)


def test_the_copilot_fits_a_phone_and_the_tracking_link_works(server: Server) -> None:
    """Drivers use the co-pilot on a phone: every tap is on screen without scrolling sideways."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_MS)
    offline = Offline()
    problems: list[str] = []
    with sync_playwright() as p:
        context = _browser_context(p, offline, viewport=PHONE, is_mobile=True, has_touch=True)
        for username in ("carla", "sam"):
            context.clear_cookies()  # the sign-in cookie of the driver before
            page = context.new_page()
            _sign_in(page, server.base, username)
            expect(page.get_by_text("Co-pilot ·").first).to_be_visible()
            _settled(page)
            page.screenshot(path=ARTIFACTS / f"phone_{username}_copilot_first_screen.png")
            problems += _words_a_person_should_not_read(page, f"{username} on the phone")
            route_map = page.locator("[data-testid='stDeckGlJsonChart']")
            if page.get_by_text("Remaining stops").count():  # late at night the day may be done
                expect(route_map.locator("canvas#deckgl-overlay")).to_be_attached()
                page.wait_for_timeout(1500)
                _settled(page)  # a rerun fades the page: draw it when none runs
                drawn = route_map.screenshot()
                stops = _pixels_near(drawn, NEXT_COLOUR) + _pixels_near(drawn, LATER_COLOUR)
                assert stops > 30, f"{username}: the route is not drawn offline"  # the next stop at least
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{username}: the page scrolls sideways ({width} px)"
            for button in page.locator("[data-testid='stMain'] button").all():
                if not button.is_visible():
                    continue
                box = button.bounding_box()
                assert box is not None
                assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
                    username,
                    button.inner_text(),
                    box,
                )
            _whole_page(page, ARTIFACTS / f"phone_{username}_copilot.png")
            page.close()

        # The customer's link opens without signing in; a new slot, once chosen, is shown back.
        context.clear_cookies()
        page = context.new_page()
        page.goto(f"{server.base}/track?t={server.tracking_token}")
        expect(page.get_by_text("Track your parcel")).to_be_visible()
        _settled(page)
        _whole_page(page, ARTIFACTS / "phone_tracking.png")
        problems += _words_a_person_should_not_read(page, "tracking page")
        page.get_by_text("Deliver it another time").click()
        expect(page.get_by_role("combobox", name="New delivery slot")).to_be_visible()
        _settled(page)
        page.get_by_role("button", name="Confirm").click()
        expect(page.get_by_text("New delivery slot:")).to_be_visible()
        _settled(page)
        _whole_page(page, ARTIFACTS / "phone_tracking_rescheduled.png")
        context.browser.close()
    assert not problems, "\n".join(problems)
