"""A tiny planned day on its own database: seeded and planned once, copied for each test.

The simulator commits a unit of work per tick, so its tests cannot use the rolled-back
`seeded_db`; each gets a fresh copy of a committed SQLite file instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.db import make_engine, migrate, unit_of_work
from core.scenario import ScenarioParams, seed_scenario
from tests.conftest import TEST_DAY
from tests.core.sim.fixtures import plan_day

TINY = ScenarioParams(seed=5, orders=120, drivers=16, days=0, today=TEST_DAY)


def build_day(url: str) -> Engine:
    engine = make_engine(url)
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(session, TINY)
    with unit_of_work(engine) as session:
        plan_day(session)
    return engine


@pytest.fixture(scope="session")
def tiny_day_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "tiny.db"
    build_day(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def day_engine(tiny_day_file: Path, tmp_path: Path) -> Iterator[Engine]:
    """A fresh copy of the planned tiny day (SQLite)."""
    path = tmp_path / "day.db"
    shutil.copy(tiny_day_file, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()
