"""The `ctower` commands an operator runs, against a throw-away SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.cli import main
from core.db import engine_for, unit_of_work
from core.models import Driver, Order

DATA = Path(__file__).resolve().parents[2] / "data"


def _count(url: str, model: type) -> int:
    with unit_of_work(engine_for(url), read_only=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("command", ["init-db", "seed", "import-orders", "import-drivers", "bench"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: ctower " + command in capsys.readouterr().out


@pytest.mark.slow
def test_seed_then_import_then_refuse(
    cli_db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed", "--orders", "50", "--drivers", "12", "--days", "1", "--date", "2026-11-27"]) == 0
    out = capsys.readouterr().out
    assert "priya" in out and "priya-demo" in out
    assert _count(cli_db, Order) == 100

    assert main(["seed", "--if-empty"]) == 0
    assert "already seeded" in capsys.readouterr().out
    assert main(["seed", "--orders", "10", "--drivers", "12", "--days", "0"]) == 1
    assert "--reset" in capsys.readouterr().err

    assert main(["import-orders", str(DATA / "sample_orders.csv")]) == 0
    assert _count(cli_db, Order) == 140
    assert main(["import-drivers", str(DATA / "sample_drivers.csv")]) == 0
    assert _count(cli_db, Driver) == 17

    bad = tmp_path / "bad.csv"
    bad.write_text((DATA / "sample_orders.csv").read_text().replace("BKN", "NOPE", 1))
    assert main(["import-orders", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nothing was written" in err and "unknown hub 'NOPE'" in err and "line 2" in err
    assert _count(cli_db, Order) == 140


@pytest.mark.slow
def test_seed_reset_replaces_the_data(cli_db: str) -> None:
    assert main(["seed", "--orders", "30", "--drivers", "8", "--days", "0"]) == 0
    assert main(["seed", "--reset", "--orders", "20", "--drivers", "8", "--days", "0"]) == 0
    assert _count(cli_db, Order) == 20
