"""Shared fixtures: a database per backend and per test worker, migrated to head.

Storage tests take `engine` (parametrised over SQLite and PostgreSQL) or `db`, a session whose
work is rolled back after each test. PostgreSQL tests skip with a reason when the server does
not answer, unless CT_REQUIRE_POSTGRES=1 (set by CI), in which case they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import core.passwords
from core.config import get_settings
from core.db import engine_for, make_engine, migrate, session_factory, unit_of_work
from core.scenario import ScenarioParams, seed_scenario

# argon2's own profile for tests: the same algorithm at the lowest cost. A hash carries its
# parameters, so hashes made either way verify; the product keeps argon2-cffi's defaults.
core.passwords._HASHER = PasswordHasher.from_parameters(profiles.CHEAPEST)

PG_ADMIN_URL = os.environ.get("CT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_DAY = date(2026, 11, 27)
SMALL = ScenarioParams(seed=3, orders=160, drivers=24, days=3, today=TEST_DAY)
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


def _pg_available() -> str | None:
    try:
        engine = make_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL at {PG_ADMIN_URL.split('@')[-1]} does not answer: {exc.__class__.__name__}"


class Databases:
    """Creates throw-away databases for one test worker and drops them at the end."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._pg_created: list[str] = []
        self._pg_reason = _pg_available()

    def url(self, backend: str, label: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self._tmp / f'{label}.db'}"
        if self._pg_reason:
            if os.environ.get("CT_REQUIRE_POSTGRES") == "1":
                pytest.fail(f"CT_REQUIRE_POSTGRES=1 but {self._pg_reason}")
            pytest.skip(self._pg_reason)
        name = f"ct_test_{label}_{uuid.uuid4().hex[:8]}"
        admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self._pg_created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self) -> None:
        if not self._pg_created:
            return
        admin = make_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self._pg_created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    dbs = Databases(tmp_path_factory.mktemp("db"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def engine(backend: str, databases: Databases) -> Iterator[Engine]:
    """An empty database migrated to head."""
    made = make_engine(databases.url(backend, "empty"))
    migrate(made)
    yield made
    made.dispose()


@pytest.fixture(scope="session")
def seeded_engine(backend: str, databases: Databases) -> Iterator[Engine]:
    """A database with the small demo scenario (committed once per worker and backend)."""
    made = make_engine(databases.url(backend, "seeded"))
    migrate(made)
    with unit_of_work(made) as session:
        seed_scenario(session, SMALL)
    yield made
    made.dispose()


def _rolled_back(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = session_factory(engine)(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def settings_pointing_at(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL set to `url` for code that reads the settings; cached engines and settings
    are dropped before and after."""
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    engine_for.cache_clear()
    yield url
    engine_for(url).dispose()
    get_settings.cache_clear()
    engine_for.cache_clear()


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DATABASE_URL pointed at a fresh SQLite file, for commands that read the settings."""
    yield from settings_pointing_at(f"sqlite:///{tmp_path / 'cli.db'}", monkeypatch)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session on the empty database; everything it does is rolled back."""
    yield from _rolled_back(engine)


@pytest.fixture
def seeded_db(seeded_engine: Engine) -> Iterator[Session]:
    """A session on the seeded database; everything it does is rolled back."""
    yield from _rolled_back(seeded_engine)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every page test and every browser test is `slow`: AppTest runs the whole Streamlit script,
    frame included, per test, and a browser test starts a server and chromium. `make test-fast`
    (`-m "not slow"`) is then the core suite without its long runs."""
    whole_app = (Path(__file__).parent / "app", Path(__file__).parent / "e2e")
    for item in items:
        if any(item.path.is_relative_to(folder) for folder in whole_app):
            item.add_marker(pytest.mark.slow)


def copy_of(template: Path, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh copy of a SQLite file, disposed after the test."""
    path = tmp_path / f"copy-{template.name}"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def small_day_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small demo scenario seeded once into a SQLite file, to copy for tests that commit."""
    path = tmp_path_factory.mktemp("small") / "small.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    with unit_of_work(engine) as session:
        seed_scenario(session, SMALL)
    engine.dispose()
    return path
