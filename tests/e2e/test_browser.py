"""One real-browser journey through the real server: deep link -> sign-in -> reload -> live map.

Starts `streamlit run pages/app.py` on a free port against a freshly seeded SQLite database
with today under way, and drives Debian's chromium with Playwright (Playwright's own browser
download is not possible here). Screenshots land in `test-artifacts/` (git-ignored).

Without /usr/bin/chromium the test skips with the reason, unless CT_REQUIRE_BROWSER=1 (CI), in
which case it fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from core.bench.live_map import day_under_way
from core.db import make_engine, migrate, unit_of_work
from core.models import Hub, Plan
from core.scenario import ScenarioParams, seed_scenario
from core.timeutil import local_today
from ui.maps import FLEET_COLOURS, ORDER_COLOURS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

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
SERVER_START_S = 120
STEP_MS = 45_000


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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on a fresh demo day under way now."""
    _need_browser()
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'e2e.db'}"
    engine = make_engine(url)
    migrate(engine)
    now = datetime.now(UTC)
    today = local_today(TZ, now)
    with unit_of_work(engine) as session:
        seed_scenario(session, ScenarioParams(seed=3, orders=400, drivers=40, days=0, today=today))
    with unit_of_work(engine) as session:
        day_under_way(session, today, now, TZ, seed=5)
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "TIMEZONE": TZ, "CT_SECRET_KEY": "e2e-" + "k" * 40}
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "pages/app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
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
                pytest.fail(f"the server did not come up; log: {(tmp / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield Server(base, url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _pixels_near(png: bytes, rgb: tuple[int, int, int], tolerance: int = 28) -> int:
    from PIL import Image

    image = np.asarray(Image.open(BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(image - np.array(rgb, dtype=np.int16)).max(axis=2) <= tolerance).sum())


def _centroid(png: bytes, rgb: tuple[int, int, int]) -> np.ndarray:
    from PIL import Image

    image = np.asarray(Image.open(BytesIO(png)).convert("RGB"), dtype=np.int16)
    ys, xs = np.nonzero(np.abs(image - np.array(rgb, dtype=np.int16)).max(axis=2) <= 28)
    return np.array([xs.mean(), ys.mean()])


def test_sign_in_survives_a_reload_and_the_live_map_draws(server: Server) -> None:
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=STEP_MS)  # a loaded CI machine renders WebGL on the CPU
    failed_requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(STEP_MS)
        page.on("requestfailed", lambda r: failed_requests.append(r.url))

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
        expect(nav.get_by_text("Orders")).to_be_visible()

        # 4. The live map draws its layers (deck.gl on WebGL via SwiftShader): count layer colours
        #    in an element screenshot (reading the canvas back gives zeros).
        chart = page.locator("[data-testid='stDeckGlJsonChart']")
        expect(chart.locator("canvas#deckgl-overlay")).to_be_attached()
        expect(page.get_by_text("On time so far")).to_be_visible()
        page.wait_for_timeout(2500)  # let the first frames render
        drawn = chart.screenshot(path=ARTIFACTS / "03_live_map.png")
        page.screenshot(path=ARTIFACTS / "02_after_reload.png", full_page=True)
        fleets = {name: _pixels_near(drawn, FLEET_COLOURS[name]) for name in ("captive", "third_party")}
        orders = {name: _pixels_near(drawn, rgb) for name, rgb in ORDER_COLOURS.items()}
        assert all(n > 30 for n in fleets.values()), fleets  # drivers and their routes
        assert sum(n > 30 for n in orders.values()) >= 2, orders  # orders in at least two states
        assert not [u for u in failed_requests if "blank_style" in u or "cartocdn" in u], failed_requests

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
        panned = _centroid(chart.screenshot(), FLEET_COLOURS["captive"])
        expect(page.get_by_text("As of ")).not_to_have_text(stamp, timeout=STEP_MS)  # refreshed
        page.wait_for_timeout(1500)
        refreshed = _centroid(
            chart.screenshot(path=ARTIFACTS / "04_after_refresh.png"), FLEET_COLOURS["captive"]
        )
        assert np.linalg.norm(panned - before) > 60, (before, panned)
        assert np.linalg.norm(refreshed - panned) < 25, (panned, refreshed)

        # 6. Rebalance the first hub, review the proposal, approve it: the plan version moves.
        versions = _plan_versions(server.database_url)
        nav.get_by_text("Dispatch").click()
        expect(page.get_by_role("button", name="Rebalance")).to_be_visible()
        hub = page.get_by_text("Dispatch · ").inner_text().split("· ", 1)[1].strip()
        page.get_by_role("button", name="Rebalance").click()
        page.wait_for_timeout(3000)
        page.screenshot(path=ARTIFACTS / "05_solving.png", full_page=True)
        approve = page.get_by_role("button", name="Approve")
        expect(approve).to_be_visible(timeout=120_000)  # the solve's time limit plus a loaded CI
        expect(page.get_by_text("rebalance by dispatch-agent")).to_be_visible()
        expect(page.get_by_text("routes change")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "06_proposal.png", full_page=True)
        approve.click()
        expect(page.get_by_text("approved and applied")).to_be_visible()
        page.screenshot(path=ARTIFACTS / "07_approved.png", full_page=True)
        assert _plan_versions(server.database_url)[hub] == versions[hub] + 1

        # 7. Signing out deletes the cookie: a reload stays signed out.
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        page.wait_for_function("!document.cookie.includes('ct_session=')")
        page.reload()
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        expect(page.get_by_text("Priya (dispatcher)")).to_have_count(0)
        page.screenshot(path=ARTIFACTS / "08_signed_out.png")
        browser.close()
