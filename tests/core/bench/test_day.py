"""The outcome benchmark end to end on a tiny day: every policy on the same seeded day."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.bench.day import COLUMNS, DayCase, run_seed, side_by_side, write_csv
from core.cli import main

TINY = DayCase(orders=60, drivers=10, hubs=1, plan_seconds=1.0, dispatch_seconds=0.5)


@pytest.mark.slow
@pytest.mark.xdist_group("day-bench")
def test_every_policy_runs_the_same_day_and_every_order_is_accounted_for(tmp_path: Path) -> None:
    baseline, static, agentic = run_seed(TINY, 3, tmp_path, say=lambda _: None)
    assert (baseline.policy, static.policy, agentic.policy) == ("baseline", "static", "agentic")
    assert baseline.orders == static.orders == agentic.orders > 0  # the same day, urgent orders included
    for o in (baseline, static, agentic):
        assert o.delivered + o.not_delivered == o.orders  # none lost: delivered, or failed / never reached
        assert o.late <= o.delivered and o.not_attempted <= o.not_delivered
        assert 0 <= o.orders_on_time_rate <= o.on_time_rate <= 1 and 0 <= o.first_attempt_rate <= 1
        assert o.orders_on_time_rate == pytest.approx((o.delivered - o.late) / o.orders, abs=1e-4)
        assert o.on_time_rate == pytest.approx((o.delivered - o.late) / o.delivered, abs=1e-4)  # the KPI's
        assert o.not_delivered_cost_cents == o.not_delivered * 1778  # integer cents, no float dollars
        assert o.cost_per_delivered_cents == round(o.route_cost_cents / o.delivered)
        assert o.km > 0 and o.route_cost_cents > 0 and o.escalations >= 0
        assert 0 <= o.midday_routes <= o.drivers_used
    # static's escalations are its exception reports: at least one per failed delivery at a door
    assert static.escalations >= static.not_delivered - static.not_attempted
    out = tmp_path / "day.csv"
    write_csv(out, [baseline, static, agentic])
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS and [r["policy"] for r in rows] == ["baseline", "static", "agentic"]
    table = side_by_side([baseline, static, agentic])
    assert "| on_time_rate |" in table and "| orders_on_time_rate |" in table and "pts |" in table
    assert "agentic vs static" in table
    dollars = baseline.not_delivered_cost_cents / 100  # cents in the data, dollars only when shown
    shown = f"{dollars:,.3f}" if dollars < 10 else f"{dollars:,.1f}"
    assert f"| not_delivered_cost ($) | {shown} |" in table


def test_a_scenario_file_sets_the_day_and_rejects_unknown_keys(tmp_path: Path) -> None:
    good = tmp_path / "day.json"
    good.write_text(json.dumps({"orders": 80, "hubs": 2, "disruptions": {"not_home_rate": 0.2}}))
    case = DayCase.from_file(good)
    assert (case.orders, case.hubs, case.disruptions.not_home_rate) == (80, 2, 0.2)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"oders": 80}))
    with pytest.raises(ValueError, match="unknown scenario keys \\['oders'\\]"):
        DayCase.from_file(bad)
    bad.write_text(json.dumps({"disruptions": {"meteor_rate": 1}}))
    with pytest.raises(ValueError, match="unknown disruption rates \\['meteor_rate'\\]"):
        DayCase.from_file(bad)


def test_bench_day_is_a_ctower_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "day", "--help"])
    text = capsys.readouterr().out
    assert "--seeds" in text and "--scenario" in text and "--hubs" in text
