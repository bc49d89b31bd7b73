"""Every CSV the product writes defuses cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from sqlalchemy import update

from core.cli import main
from core.db import engine_for, unit_of_work
from core.exports import FORMULA_STARTS, frame_csv, rows_csv
from core.models import Driver, Vendor

HOSTILE = [
    '=HYPERLINK("http://127.0.0.1:9/x","open")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd",
    "-2+3+cmd",
    "\t=1",
]


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _assert_defused(text: str) -> None:
    live = [c for c in _cells(text) if c.startswith(FORMULA_STARTS) and not _is_number(c)]
    assert live == []


def test_text_cells_get_a_quote_and_numbers_stay_numbers() -> None:
    frame = pd.DataFrame({"name": [*HOSTILE, "Ada"], "delta": [-1.5, 2, -3, 0, 1, 4]})
    text = frame_csv(frame)
    _assert_defused(text)
    assert _cells(text)[2:4] == [f"'{HOSTILE[0]}", "-1.5"]
    assert "Ada" in _cells(text)


def test_rows_csv_defuses_every_text_cell() -> None:
    text = rows_csv(["name", "value"], [{"name": h, "value": -7} for h in HOSTILE])
    _assert_defused(text)
    assert "-7" in _cells(text)


@pytest.mark.parametrize(
    "command",
    [
        ["compliance", "--date", "2026-11-27", "--format", "csv"],
        ["kpis", "--by", "vendor", "--from", "2026-11-26", "--to", "2026-11-27", "--format", "csv"],
        ["kpis", "--by", "driver", "--from", "2026-11-26", "--to", "2026-11-27", "--format", "csv"],
    ],
)
def test_command_line_csv_keeps_no_formula_from_names(
    cli_db: str, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    assert main(["seed", "--orders", "40", "--drivers", "10", "--days", "1", "--date", "2026-11-27"]) == 0
    with unit_of_work(engine_for(cli_db)) as session:
        session.execute(update(Driver).values(name=HOSTILE[0]))
        session.execute(update(Vendor).values(name=HOSTILE[1]))
    capsys.readouterr()
    assert main(command) == 0
    text = capsys.readouterr().out
    _assert_defused(text)
    assert any(c.startswith("'=HYPERLINK") or c.startswith("'+cmd") for c in _cells(text))
