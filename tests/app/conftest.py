"""Page tests: an AppTest on a seeded SQLite database; Streamlit caches cleared per test.

`app_db_url` is the small demo scenario as seeded (today's orders all unassigned);
`live_db_url` is the same scenario with today under way at `APP_NOW` (routes, stops done,
pings, one open breakdown). The app's clock is pinned to `APP_NOW` and its signing key to
`SECRET_KEY`, so nothing depends on the wall clock or writes a key file into the repo.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.bench.live_map import day_under_way
from core.config import get_settings
from core.db import engine_for, make_engine, migrate, unit_of_work
from core.scenario import seed_scenario
from core.timeutil import at_seconds
from tests.conftest import SMALL, TEST_DAY

APP = str(Path(__file__).resolve().parents[2] / "pages" / "app.py")
TZ = "America/New_York"
APP_NOW = at_seconds(TEST_DAY, TZ, 10 * 3600 + 40 * 60).astimezone(UTC)  # 10:40 at the hubs
SECRET_KEY = "test-secret-key-for-page-tests-0123456789"


def _seeded(url: str, under_way: bool) -> str:
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(session, SMALL)
    if under_way:
        with unit_of_work(engine) as session:
            day_under_way(session, TEST_DAY, APP_NOW, TZ, seed=5)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def app_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _seeded(f"sqlite:///{tmp_path_factory.mktemp('app') / 'app.db'}", under_way=False)


@pytest.fixture(scope="session")
def live_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _seeded(f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}", under_way=True)


@pytest.fixture(autouse=True)
def app_env(app_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", app_db_url)
    monkeypatch.setenv("TIMEZONE", TZ)
    monkeypatch.setenv("CT_SECRET_KEY", SECRET_KEY)
    monkeypatch.setattr("ui.services.now", lambda: APP_NOW)
    get_settings.cache_clear()
    engine_for.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    get_settings.cache_clear()


def use_database(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the app at another database for this test."""
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()


@pytest.fixture
def live_app(live_db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The app on the day under way."""
    use_database(live_db_url, monkeypatch)
    return live_db_url


@pytest.fixture
def scratch_db_url(live_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A private copy of the day under way, for tests that write."""
    copy = tmp_path / "scratch.db"
    with sqlite3.connect(live_db_url.split("///", 1)[1]) as source, sqlite3.connect(copy) as target:
        source.backup(target)  # consistent even with a WAL file beside the database
    url = f"sqlite:///{copy}"
    use_database(url, monkeypatch)
    return url


def signed_in(username: str, password: str | None = None) -> AppTest:
    """An AppTest of the whole app, signed in through the form."""
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.text_input(key="login.username").input(username)
    at.text_input(key="login.password").input(password or f"{username}-demo")
    at.button(key="FormSubmitter:login-Sign in").click().run()
    assert not at.exception, at.exception
    return at
