"""CSV the product writes, in one place: cells a spreadsheet would run as a formula are defused.

Spreadsheet apps treat a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return
as a formula (`=HYPERLINK(...)`, `+cmd|...`), and names in our data come from imports and
vendors. Every text cell that starts so gets a leading `'`, which spreadsheets show as text;
numbers (negative ones included) are left alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """`value`, with a `'` in front when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def frame_csv(frame: pd.DataFrame) -> str:
    """The frame as CSV without its index, every text cell defused."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]):
            safe[column] = safe[column].map(safe_cell)
    safe.columns = [str(safe_cell(str(c))) for c in safe.columns]
    return str(safe.to_csv(index=False))


def rows_csv(fieldnames: Sequence[str], rows: Iterable[Mapping[str, object]]) -> str:
    """Rows as CSV with a header, every text cell defused (None becomes an empty cell)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fieldnames), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else safe_cell(v) for k, v in row.items()})
    return out.getvalue()
