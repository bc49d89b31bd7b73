"""`ctower rebalance`: run the dispatch agent for one hub or all, print the proposal, optionally approve."""

from __future__ import annotations

import argparse
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.access import SYSTEM, Viewer
from core.agents.appliers import APPLIERS
from core.agents.dispatch import RebalanceRequest
from core.agents.rebalance import rebalance
from core.auth import active_viewer
from core.config import get_settings
from core.db import default_engine, migrate, unit_of_work
from core.decisions import decide
from core.errors import ControlTowerError
from core.kinds import ProposalStatus
from core.models import Hub
from core.plan_change import PlanEffect, RouteChange
from core.proposals import ProposalView
from core.timeutil import local_today

MOVES_SHOWN = 15


def _viewer(session: Any, username: str | None) -> Viewer:
    return SYSTEM if username is None else active_viewer(session, username)


def _print(p: ProposalView) -> None:
    e, change = p.effect, p.change
    assert isinstance(e, PlanEffect) and isinstance(change, RouteChange)  # the dispatch agent's re-plan
    solver = f"solver {e.solver.status} in {e.solver.runtime_s} s" if e.solver else "no solve"
    print(f"\nproposal {p.id} for hub {p.hub_code} (plan version {p.base_version}), {solver}")
    if p.status is not ProposalStatus.PENDING:
        print(f"  {p.status.value}: {p.decision_reason}")
    print(f"  {'':<12} {'before':>12} {'after':>12}")
    for label, before, after, scale in (
        ("cost $", e.before.cost_cents, e.after.cost_cents, 100),
        ("km", e.before.distance_m, e.after.distance_m, 1000),
        ("CO2 kg", e.before.co2_g, e.after.co2_g, 1000),
        ("late", e.before.late, e.after.late, 1),
        ("unassigned", e.before.unassigned, e.after.unassigned, 1),
    ):
        if scale > 1:
            print(f"  {label:<12} {before / scale:>12,.1f} {after / scale:>12,.1f}")
        else:
            print(f"  {label:<12} {before:>12} {after:>12}")
    print(
        f"  {e.orders_moved} orders moved, {e.orders_placed} placed, {e.orders_dropped} "
        f"dropped; {e.routes_touched} of {e.routes_total} routes change"
    )
    for h in change.handovers:
        to = f"to {h.to_driver} at the van" if h.to_driver else "back to the hub"
        print(f"    {h.from_driver} ({h.why}): {len(h.orders)} orders handed over {to}")
    for move in change.moves[:MOVES_SHOWN]:
        print(f"    {move.order}: {move.from_driver or '-'} -> {move.to_driver or '-'}  {move.reason}")
    if len(change.moves) > MOVES_SHOWN:
        print(f"    ... and {len(change.moves) - MOVES_SHOWN} more")
    print(f"  why: {p.rationale}")


def _rebalance(args: argparse.Namespace) -> int:
    engine = default_engine()
    migrate(engine)
    tz = get_settings().timezone
    day = args.date or local_today(tz)
    now = datetime.combine(day, args.now, tzinfo=ZoneInfo(tz)) if args.now else None
    with unit_of_work(engine, read_only=True) as session:
        hubs = [h.id for h in session.scalars(select(Hub).order_by(Hub.code)) if args.hub in ("all", h.code)]
    if not hubs:
        raise ControlTowerError(f"no hub {args.hub!r}")
    for hub_id in hubs:
        with unit_of_work(engine, read_only=True) as session:
            viewer = _viewer(session, args.approve_as)
        request = RebalanceRequest(
            hub_id=hub_id,
            day=day,
            now=now,
            seconds=args.seconds,
            max_orders_moved=args.max_moves,
            max_routes_touched=args.max_routes,
            seed=args.seed,
            metro=args.metro,
        )
        proposal = rebalance(engine, viewer, request)
        _print(proposal)
        if args.approve_as and proposal.status is ProposalStatus.PENDING:
            with unit_of_work(engine, read_only=True) as session:
                approver = _viewer(session, args.approve_as)
            done = decide(engine, approver, proposal.id, True, APPLIERS, now=now)
            print(f"  approved by {done.decided_by}")
    return 0


def add_dispatch_parser(sub: Any) -> None:
    p = sub.add_parser("rebalance", help="re-optimise a hub's day and print the proposal")
    p.add_argument("--hub", default="all", help="hub code, or 'all' (default)")
    p.add_argument("--date", type=date.fromisoformat, default=None, help="day (default: today)")
    p.add_argument(
        "--now",
        type=time.fromisoformat,
        default=None,
        help="local time the new plan starts, HH:MM (default: start of day)",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="solver time limit per hub")
    p.add_argument("--max-moves", type=int, default=None, help="change budget: orders moved")
    p.add_argument("--max-routes", type=int, default=None, help="change budget: routes touched")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--metro",
        action="store_true",
        help="split the hub into parts solved in parallel (a very big day)",
    )
    p.add_argument(
        "--approve-as",
        default=None,
        metavar="USERNAME",
        help="approve each proposal as this dispatcher or admin",
    )
    p.set_defaults(handler=_rebalance)
