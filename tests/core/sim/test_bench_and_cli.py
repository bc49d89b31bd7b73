"""`ctower simulate` and the simulator benchmark, end to end on throw-away databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.cli import main
from core.cli_sim import simulate_day
from core.db import engine_for, unit_of_work
from core.kinds import EventKind, OrderStatus, ProposalStatus
from core.models import Event, Order, Proposal
from core.sim.clock import SimClock
from core.sim.disruptions import DisruptionParams
from core.sim.engine import SimParams, Simulator
from tests.conftest import TEST_DAY, Databases
from tests.core.sim.conftest import build_day

pytestmark = pytest.mark.slow  # whole simulated days and the simulator benchmark


def test_simulate_plans_runs_and_resumes_from_the_shell(
    cli_db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["seed", "--orders", "60", "--drivers", "10", "--days", "0", "--date", "2026-11-27"]) == 0
    capsys.readouterr()
    assert main(["simulate", "--date", "2026-11-27", "--fast"]) == 1
    assert "there is no plan for 2026-11-27" in capsys.readouterr().err
    assert (
        main(
            [
                "simulate",
                "--date",
                "2026-11-27",
                "--plan",
                "baseline",
                "--fast",
                "--until",
                "10:00",
                "--seed",
                "2",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "planned 4 hub(s) with the baseline dispatcher" in out and "to 10:00 (as fast as possible)" in out
    assert main(["simulate", "--date", "2026-11-27", "--fast", "--until", "11:00"]) == 0
    assert "from 10:0" in capsys.readouterr().out  # carried on from the last report
    with unit_of_work(engine_for(cli_db), read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == EventKind.GPS_PING))
        # the agents ran beside the drivers: urgent orders from 09:00 were placed by the dispatch
        # agent, which its policy let apply
        by_agent = s.execute(
            select(Proposal.proposed_by, Proposal.status).where(Proposal.proposed_by == "dispatch-agent")
        ).all()
        assert ("dispatch-agent", ProposalStatus.APPLIED) in by_agent


def test_ctrl_c_stops_between_ticks_and_keeps_what_was_done(
    day_engine: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real_step = Simulator.step

    def step(self: Simulator, session: object, tick: object) -> object:
        calls["n"] += 1
        if calls["n"] == 30:
            raise KeyboardInterrupt
        return real_step(self, session, tick)  # type: ignore[arg-type]

    monkeypatch.setattr(Simulator, "step", step)
    said: list[str] = []
    params = SimParams(disruptions=DisruptionParams.none(), customer_every_s=0)
    totals = simulate_day(day_engine, TEST_DAY, 0, params, None, 20 * 3600, None, said.append)  # type: ignore[arg-type]
    assert said[-1].startswith("stopped") and totals.get("starts", 0) > 0


def test_a_day_runs_on_each_backend(backend: str, databases: Databases) -> None:
    engine = build_day(databases.url(backend, "simday"))
    sim = Simulator(engine, TEST_DAY, seed=3, params=SimParams(tick_s=120, customer_every_s=600))
    start = sim.first_start_s()
    totals = sim.run(SimClock(TEST_DAY, sim.tz, start, start + 4 * 3600, 120))
    with unit_of_work(engine, read_only=True) as s:
        delivered = s.scalar(
            select(func.count()).select_from(Order).where(Order.status == OrderStatus.DELIVERED)
        )
        events = s.scalar(select(func.count(Event.id.distinct())).where(Event.kind == EventKind.DELIVERED))
    assert totals["delivered"] == delivered == events > 0 and totals["rejected"] == 0
    engine.dispose()


def test_the_benchmark_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "sim", "--quick"]) == 0
    header, row = capsys.readouterr().out.strip().splitlines()
    assert "drv-h/s" in header and row.split()[0] == "tiny"
