"""Safe by default on a network: the loopback unless a setting says otherwise, and no serving
beyond it while a demo user keeps the published demo password."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.auth import change_password
from core.db import engine_for, unit_of_work
from core.scenario.users import DEMO_USERS
from tests.app.conftest import APP
from ui import services

ROOT = Path(__file__).resolve().parents[2]


def test_make_run_and_a_plain_streamlit_run_listen_on_the_loopback() -> None:
    dry = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "--server.address 127.0.0.1" in dry
    assert (
        "--server.address 0.0.0.0"
        in subprocess.run(
            ["make", "-n", "run", "ADDRESS=0.0.0.0"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )
    assert services.is_loopback(st.get_option("server.address"))  # .streamlit/config.toml


@pytest.mark.parametrize(
    ("address", "loopback"),
    [(None, False), ("", False), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("localhost", True)],
)  # fmt: skip
def test_only_loopback_addresses_count_as_this_machine(address: str | None, loopback: bool) -> None:
    assert services.is_loopback(address) is loopback


def test_serving_the_network_with_demo_passwords_is_refused_with_the_fix(
    scratch_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ui.services.server_address", lambda: "0.0.0.0")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    [refusal] = at.error
    assert "Refusing to serve on 0\\.0\\.0\\.0" in refusal.value
    assert "admin, aisha, carla" in refusal.value and "ctower user password NAME" in refusal.value
    assert not at.text_input  # no sign-in form behind it
    with unit_of_work(engine_for(scratch_db_url)) as session:
        for demo in DEMO_USERS:
            change_password(session, demo.username, f"{demo.username}-a-long-new-one", now=datetime.now(UTC))
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.error and {w.key for w in at.text_input} == {"login.username", "login.password"}
