"""Page tests: an AppTest on a seeded SQLite database; Streamlit caches cleared per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from core.config import get_settings
from core.db import engine_for, make_engine, migrate, unit_of_work
from core.scenario import seed_scenario
from tests.conftest import SMALL


@pytest.fixture(scope="session")
def app_db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('app') / 'app.db'}"
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(session, SMALL)
    engine.dispose()
    return url


@pytest.fixture(autouse=True)
def app_env(app_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", app_db_url)
    monkeypatch.setenv("TIMEZONE", "America/New_York")
    get_settings.cache_clear()
    engine_for.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    get_settings.cache_clear()


APP = str(Path(__file__).resolve().parents[2] / "pages" / "app.py")
