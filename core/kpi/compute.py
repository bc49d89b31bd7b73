"""KPI arithmetic: pure functions from the work table (see `facts`) to one row per group.

Every KPI is a sum of `SUM_COLUMNS` or a ratio of such sums (plus the workload spread), so a
group's KPIs never depend on how the rows were split, and additive KPIs of the slices add up
to the total exactly. No database here: tests can hand these functions a DataFrame.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.kpi.definitions import FAILED_DELIVERY_COST_CENTS, KPIS
from core.kpi.facts import SUM_COLUMNS

TOTAL = "total"
"""The group label of the row that covers every group."""

_NAME_COLUMN = {"driver": "driver_name", "vendor": "vendor_name"}


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator as floats; NaN where the denominator is 0 (no basis, not 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator != 0, numerator / np.where(denominator != 0, denominator, 1), np.nan)


def _cents(values: np.ndarray) -> pd.arrays.IntegerArray:
    """Rounded to whole cents, NaN kept as <NA> (money stays integer)."""
    missing = np.isnan(values)
    return pd.arrays.IntegerArray(np.where(missing, 0, np.round(values)).astype(np.int64), missing)


def kpis_from_sums(
    sums: pd.DataFrame, cv: pd.Series, failed_delivery_cost_cents: int = FAILED_DELIVERY_COST_CENTS
) -> pd.DataFrame:
    """Each KPI of the registry from the summed columns of one or more groups (same index)."""
    s = {c: sums[c].to_numpy(dtype=float) for c in SUM_COLUMNS}
    as_int = {
        c: np.round(s[c]).astype(np.int64)
        for c in ("orders", "delivered", "failed", "route_cost_cents", "drops", "exceptions", "driver_days")
    }
    values = {
        **as_int,
        "on_time_rate": _ratio(s["on_time"], s["delivered"]),
        "first_attempt_rate": _ratio(s["first_attempt"], s["attempted"]),
        "failed_cost_cents": as_int["failed"] * int(failed_delivery_cost_cents),
        "cost_per_delivered_cents": _cents(_ratio(s["route_cost_cents"], s["delivered"])),
        "cost_per_drop_cents": _cents(_ratio(s["route_cost_cents"], s["drops"])),
        "stops_per_driver_hour": _ratio(s["attempted_stops"], s["on_task_s"] / 3600.0),
        "utilisation": _ratio(s["capped_on_task_s"], s["shift_s"]),
        "km_per_delivered": _ratio(s["distance_m"] / 1000.0, s["delivered"]),
        "co2_kg_per_delivered": _ratio(s["co2_g"] / 1000.0, s["delivered"]),
        "workload_cv": cv.reindex(sums.index).to_numpy(dtype=float),
    }
    return pd.DataFrame({name: values[name] for name in KPIS}, index=sums.index)


def workload_cv(stops_per_driver_day: pd.Series) -> float:
    """Standard deviation over mean of stops per driver-day (population); NaN with no days."""
    values = stops_per_driver_day.astype(float)
    if values.empty or values.mean() == 0:
        return float("nan")
    return float(values.std(ddof=0) / values.mean())


def _driver_day_stops(work: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    cell = list(dict.fromkeys([*keys, "driver_id", "day"]))
    cells = work.groupby(cell, dropna=False)["drops"].sum().reset_index()
    return cells[cells["drops"] > 0]


def aggregate(
    work: pd.DataFrame,
    by: Sequence[str],
    *,
    total: bool = True,
    failed_delivery_cost_cents: int = FAILED_DELIVERY_COST_CENTS,
) -> pd.DataFrame:
    """One row per distinct value of the `by` columns, one column per KPI, sorted by group;
    with `total`, a last row labelled "total" over every row of `work`."""
    keys = list(by)
    columns = [*keys, *[_NAME_COLUMN[k] for k in keys if k in _NAME_COLUMN], *KPIS]
    frames = []
    if keys and not work.empty:
        names = [_NAME_COLUMN[k] for k in keys if k in _NAME_COLUMN]
        sums = work.groupby(keys + names, dropna=False)[list(SUM_COLUMNS)].sum()
        cells = _driver_day_stops(work, keys + names)
        cv = cells.groupby(keys + names, dropna=False)["drops"].agg(workload_cv)
        frames.append(kpis_from_sums(sums, cv, failed_delivery_cost_cents).reset_index())
    if total or not keys:
        sums = work[list(SUM_COLUMNS)].sum().to_frame().T
        cv = pd.Series(
            [workload_cv(_driver_day_stops(work, [])["drops"]) if not work.empty else float("nan")]
        )
        row = kpis_from_sums(sums.astype(float), cv, failed_delivery_cost_cents)
        for key in keys:
            row.insert(0, key, TOTAL)
        for key, name in _NAME_COLUMN.items():
            if key in keys:
                row[name] = ""
        frames.append(row)
    if not frames:
        return pd.DataFrame(columns=columns)
    result = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return result[columns].reset_index(drop=True)


def reasons(exceptions: pd.DataFrame, by: Sequence[str], *, total: bool = True) -> pd.DataFrame:
    """Exceptions by reason per group, long format (`by`..., reason, exceptions), most frequent
    first within a group; with `total`, the reasons over every group under "total"."""
    keys = list(by)
    columns = [*keys, "reason", "exceptions"]
    if exceptions.empty:
        return pd.DataFrame(columns=columns)
    frames = []
    if keys:
        frames.append(exceptions.groupby(keys + ["reason"], dropna=False)["exceptions"].sum().reset_index())
    if total or not keys:
        overall = exceptions.groupby("reason")["exceptions"].sum().reset_index()
        for key in keys:
            overall.insert(0, key, TOTAL)
        frames.append(overall)
    result = pd.concat(frames, ignore_index=True)
    result["exceptions"] = result["exceptions"].astype(np.int64)
    is_total = result[keys[0]].eq(TOTAL) if keys else pd.Series(False, index=result.index)
    result = result.assign(_total=is_total).sort_values(
        ["_total", *keys, "exceptions", "reason"], ascending=[True, *[True] * len(keys), False, True]
    )
    return result[columns].reset_index(drop=True)
