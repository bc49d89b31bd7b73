"""The compliance agent: pull a driver's remaining stops before the plan breaks a rule.

A driver is at risk when their route, as planned, ends after the moment they would pass a
daily or weekly driving limit (the compliance module's reading of the plan), or after a
required document expires (or has expired, or is missing). The driver keeps the longest
prefix of pending stops that still has them back at the hub in time; the rest go to other
drivers by cheapest insertion, never to a driver who is blocked, at risk, or finished for the
day, and never past a receiver's own driving headroom (their route is capped at it). What no
one can take is listed as unassigned with the reason. The result is a "rebalance" proposal,
applied by the dispatch agent's applier, and settled under the "reassign" policy rule.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import SYSTEM
from core.agents.dispatch_problem import DayState, load_day_state
from core.allocator.eligibility import static_issue
from core.allocator.evaluate import Evaluation, current_of, evaluate_plan
from core.allocator.insertion import insert_ranked
from core.allocator.params import DEFAULT_PARAMS, SolveParams
from core.allocator.precheck import time_issue
from core.allocator.pricing import Pricing
from core.allocator.problem import AllocationProblem, DriverSpec
from core.compliance import (
    RULE_DAILY,
    RULE_WEEKLY,
    ComplianceStatus,
    DriverCompliance,
    DriverFacts,
    counting_document,
    document_label,
    duration_text,
    evaluate_driver,
    hours_of_service,
    load_driver_facts,
)
from core.kinds import DocumentKind, ProposalStatus, ProposerKind, StopStatus
from core.models import Order, Plan, Route, Stop
from core.plan_change import DriverRisk, NewRoute, OrderMove, PlanEffect, PlanMetrics, RouteChange, Unplaced
from core.proposals import ProposalView, changes_of, create_proposal, proposal_view
from core.timeutil import hhmm, local_hhmm, local_midnight_utc, seconds_since_midnight

AGENT = "compliance-agent"
ACTION = "reassign"
HOS_RULES = frozenset({RULE_DAILY, RULE_WEEKLY})
DOCUMENT_RULES = frozenset(str(k) for k in DocumentKind)
NO_LIMIT_S = 10**9
"""Stands in for the other driving limit when asking which one a crossing belongs to."""


@dataclass(frozen=True)
class ComplianceRisk:
    """A driver whose plan breaks a rule, and the pending stops that must go to someone else.

    `rule`: RULE_DAILY, RULE_WEEKLY or a document kind. `breach_at` (aware UTC): when the plan
    breaks it; in the past for a document already expired, `now` for one missing or unverified.
    `orders`: the pending stops (order refs, in route order) the driver cannot make and still be
    back at the hub by then; `kept`: the ones before them, which stay.
    """

    driver_id: int
    driver_code: str
    rule: str
    breach_at: datetime
    reason: str  # "D-014 would pass the NY 10 h daily driving limit at 16:40"
    route_end_at: datetime
    orders: tuple[str, ...]
    kept: tuple[str, ...]


@dataclass(frozen=True)
class _Look:
    """One hub as the agent reads it: the day, each driver's compliance, the plan's routes."""

    state: DayState
    tz: str
    compliance: dict[str, DriverCompliance]  # by driver code
    routes: dict[str, Route]  # by driver code: today's routes of the hub's plan
    risks: list[ComplianceRisk]


def _document_expiry(facts: DriverFacts, kind: DocumentKind) -> datetime | None:
    """When the document of `kind` that counts (the compliance module's choice) expires."""
    doc = counting_document(
        d
        for d in facts.documents
        if d.kind == kind
        and (kind is not DocumentKind.VEHICLE_INSPECTION or d.vehicle_id == facts.vehicle_id)
    )
    return doc.expires_at if doc is not None else None


def _breaches(
    facts: DriverFacts, comp: DriverCompliance, day: date, now: datetime
) -> list[tuple[str, datetime, str]]:
    """(rule, when, words) for each rule the driver's plan breaks today."""
    tz, code, found = facts.timezone, facts.code, []
    if comp.limit_hit_at is not None:
        limits = facts.limits
        daily = hours_of_service(
            facts.driving, replace(limits, weekly_driving_limit_s=NO_LIMIT_S), day, tz
        ).limit_hit_at
        rule, limit_s, span = (
            (RULE_DAILY, limits.daily_driving_limit_s, "daily")
            if daily == comp.limit_hit_at
            else (RULE_WEEKLY, limits.weekly_driving_limit_s, "weekly")
        )
        found.append(
            (
                rule,
                comp.limit_hit_at,
                f"{code} {'would pass' if comp.limit_hit_at > now else 'passed'} the {limits.region} "
                f"{duration_text(limit_s)} {span} driving "
                f"limit at {local_hhmm(comp.limit_hit_at, tz)}",
            )
        )
    for finding in comp.findings:
        if finding.severity is not ComplianceStatus.BLOCKED or finding.rule not in DOCUMENT_RULES:
            continue
        kind = DocumentKind(finding.rule)
        expiry = _document_expiry(facts, kind) if finding.expires_on is not None else None
        if expiry is None:  # missing or not verified: broken already
            found.append((finding.rule, now, f"{code}: {finding.message}"))
        elif expiry < local_midnight_utc(day, tz):
            found.append((finding.rule, expiry, f"{code}'s {finding.message}"))
        else:
            verb = "expires" if expiry > now else "expired"
            words = f"{code}'s {document_label(kind)} {verb} at {local_hhmm(expiry, tz)}"
            found.append((finding.rule, expiry, words))
    return found


def _fits(look: _Look, route: Route, rule: str, breach_at: datetime, start_s: int, end_s: int) -> bool:
    """Does a route scheduled `start_s`..`end_s` stay clear of the breach?

    A driving limit caps the route's span: for a route not yet started, the span it may have
    (the plan's start to the crossing), wherever the new start falls. A document caps the clock.
    """
    if rule in HOS_RULES and route.started_at is None:
        return end_s - start_s <= (breach_at - route.planned_start_at).total_seconds()
    return end_s <= seconds_since_midnight(breach_at, look.state.day, look.tz)


def _cut(
    look: _Look, pricing: Pricing, code: str, rule: str, breach_at: datetime, now: datetime, keep_min: int
) -> int:
    """How many pending stops the driver keeps: the longest prefix (at least the stop they are
    at) whose route, back at the hub, stays clear of the breach."""
    refs, route = look.state.live[code], look.routes[code]
    if breach_at <= now and (rule in DOCUMENT_RULES or route.started_at is not None):
        return keep_min  # broken already: no stop can be made in time
    for k in range(len(refs), keep_min, -1):
        sched = evaluate_plan(pricing.problem, {code: refs[:k]}, pricing.params, pricing=pricing).routes[0]
        if _fits(look, route, rule, breach_at, sched.start_s, sched.end_s):
            return k
    return keep_min


def _look(session: Session, state: DayState, now: datetime, params: SolveParams) -> _Look:
    """Read every hub driver's compliance and find who is at risk (2 queries besides the loaders')."""
    tz, day = state.timezone, state.day
    by_id = {v: k for k, v in state.driver_ids.items()}
    facts = {f.code: f for f in load_driver_facts(session, SYSTEM, day) if f.driver_id in by_id}
    compliance = {code: evaluate_driver(f, day) for code, f in facts.items()}
    if state.plan_id is None:
        return _Look(state, tz, compliance, {}, [])
    routes = {
        by_id[r.driver_id]: r
        for r in session.scalars(select(Route).where(Route.plan_id == state.plan_id))
        if r.driver_id in by_id
    }
    arrived = set(
        session.scalars(
            select(Order.external_ref)
            .join(Stop, Stop.order_id == Order.id)
            .join(Route, Route.id == Stop.route_id)
            .where(Route.plan_id == state.plan_id, Stop.status == StopStatus.ARRIVED)
        )
    )
    look = _Look(state, tz, compliance, routes, [])
    pricing: Pricing | None = None  # built only when someone is at risk
    for code, refs in sorted(state.live.items()):
        route = routes.get(code)
        if not refs or route is None or code not in facts:
            continue
        found = [b for b in _breaches(facts[code], compliance[code], day, now) if route.planned_end_at > b[1]]
        if not found:
            continue
        rule, breach_at, reason = min(found, key=lambda b: b[1])
        keep_min = next((i for i, ref in enumerate(refs) if ref not in arrived), len(refs))
        pricing = pricing or Pricing(state.problem, params)
        k = _cut(look, pricing, code, rule, breach_at, now, keep_min)
        if k < len(refs):
            look.risks.append(
                ComplianceRisk(
                    state.driver_ids[code],
                    code,
                    rule,
                    breach_at,
                    reason,
                    route.planned_end_at,
                    tuple(refs[k:]),
                    tuple(refs[:k]),
                )
            )
    look.risks.sort(key=lambda r: (r.breach_at, r.driver_code))
    return look


def at_risk_drivers(session: Session, hub_id: int, day: date, now: datetime) -> list[ComplianceRisk]:
    """Drivers of the hub whose plan breaks a driving limit or a document rule, soonest first."""
    return _look(session, load_day_state(session, hub_id, day, now), now, DEFAULT_PARAMS).risks


def _pending_drivers(session: Session, plan_id: int) -> set[str]:
    """Drivers at risk in this agent's proposals still waiting in the inbox."""
    pending = changes_of(session, plan_id, RouteChange, (ProposalStatus.PENDING,), AGENT)
    return {r.driver for change in pending for r in change.risks}


def _allowance_s(look: _Look, d: DriverSpec) -> int:
    """The longest route (from when it can begin) a receiver may drive today: what the plan
    already gives them plus their headroom under both driving limits."""
    headroom, route = look.compliance[d.id].headroom_today_s, look.routes.get(d.id)
    if route is None:
        return headroom
    if route.started_at is None:
        return int((route.planned_end_at - route.planned_start_at).total_seconds()) + headroom
    end_s = seconds_since_midnight(route.planned_end_at, look.state.day, look.tz)
    return max(end_s + headroom - d.available_s, 0)


def _finished(look: _Look) -> set[str]:
    return {code for code, r in look.routes.items() if r.finished_at is not None}


def _receiving_problem(look: _Look, moving: set[str]) -> AllocationProblem:
    """The hub's problem for the insertion: at-risk, blocked and finished drivers take nothing,
    the others only up to their driving headroom; the orders that move leave their van's lock
    (they go back to the hub with it)."""
    out = (
        {r.driver_code for r in look.risks}
        | _finished(look)
        | {code for code, c in look.compliance.items() if c.status is ComplianceStatus.BLOCKED}
    )
    drivers = tuple(
        replace(d, blocked=True)
        if d.id in out or d.id not in look.compliance
        else replace(d, max_route_duration_s=_allowance_s(look, d))
        for d in look.state.problem.drivers
    )
    orders = tuple(
        replace(o, locked_driver_id=None) if o.id in moving else o for o in look.state.problem.orders
    )
    return replace(look.state.problem, drivers=drivers, orders=orders)


def _insert(
    problem: AllocationProblem,
    plan: dict[str, list[str]],
    order_ids: list[str],
    params: SolveParams,
    seconds: float,
) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """Cheapest insertion one order at a time, most important and most urgent first (the
    ranking `insert_greedily` uses), so that an order the time budget never reached is told
    apart from one no route had room for: returns the plan, the orders without room, the
    orders not tried. The first order is always tried."""
    done = insert_ranked(problem, plan, order_ids, params, deadline_s=seconds)
    return done.plan, list(done.no_room), list(done.untried)


def _why_unplaced(look: _Look, pricing: Pricing, order_id: str) -> str:
    """Why no driver could take the order: the rule that bars each, or no room on any route."""
    problem, params = pricing.problem, pricing.params
    j, finished = problem.order_index[order_id], _finished(look)
    why: Counter[str] = Counter()
    for v, d in enumerate(problem.drivers):
        if d.id in finished:
            why["finished for the day"] += 1
            continue
        issue = static_issue(problem, params, v, j) or time_issue(pricing, v, j)
        if issue is None:
            return (
                "no room on the routes of the drivers nearest to it (capacity, shift end, driving "
                "headroom or its time window)"
            )
        why[issue[1]] += 1
    return "no eligible driver: " + ", ".join(f"{n} {label}" for label, n in why.most_common())


def _new_route(problem: AllocationProblem, after: Evaluation, code: str, started: bool) -> NewRoute:
    """A touched route as the applier writes it; an emptied one ends once the van is back."""
    route = next((r for r in after.routes if r.driver_id == code), None)
    if route is not None:
        return NewRoute.planned(code, route)
    v = problem.driver_index[code]
    start_s = problem.drivers[v].available_s
    if not started:
        return NewRoute(code, (), start_s, start_s, 0)
    here, hub = problem.start_node(v), problem.end_node(v)
    back_s = int(problem.duration_s(v)[here, hub])
    return NewRoute(code, (), start_s, start_s + back_s, int(problem.distance_m[here, hub]))


def _span(route: NewRoute) -> tuple[int, int]:
    """Start and end of a route this agent scheduled (it always gives both)."""
    assert route.start_s is not None and route.end_s is not None
    return route.start_s, route.end_s


def _clear(look: _Look, risk: ComplianceRisk, new: NewRoute) -> bool:
    """Does the driver's new route stay clear of the breach? A route that never leaves does."""
    route = look.routes[risk.driver_code]
    if not new.stops and route.started_at is None:
        return True
    return _fits(look, route, risk.rule, risk.breach_at, *_span(new))


def _names(counts: Mapping[str, int]) -> str:
    parts = [f"{code} ({n})" if len(counts) > 1 else code for code, n in sorted(counts.items())]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _sentence(
    risk: ComplianceRisk,
    after: Evaluation,
    new: NewRoute,
    placed: Mapping[str, str],
    reasons: Mapping[str, str],
    avoided: bool,
) -> str:
    """'D-014 would pass ... at 16:40; 6 stops after 16:10 move to D-022 and D-031.'

    The time is when the driver leaves the last stop they keep."""
    n = len(risk.orders)
    kept = next((r.visits for r in after.routes if r.driver_id == risk.driver_code), ())
    stops = "stop" if n == 1 else "stops"
    which = f"{stops} after {hhmm(kept[-1].departure_s)}" if kept else f"remaining {stops}"
    to = Counter(placed[o] for o in risk.orders if o in placed)
    stuck = [o for o in risk.orders if o in reasons]
    if not stuck:
        text = f"{risk.reason}; {'' if kept else 'all '}{n} {which} move to {_names(to)}"
    elif to:
        text = (
            f"{risk.reason}; {sum(to.values())} of the {n} {which} move to {_names(to)}, "
            f"{len(stuck)} cannot be placed ({reasons[stuck[0]]})"
        )
    else:
        text = f"{risk.reason}; the {n} {which} come off the route and cannot be placed ({reasons[stuck[0]]})"
    if not avoided:
        text += f"; even so the van is back only at {hhmm(_span(new)[1])}, after the breach"
    return text + "."


def propose_compliance(
    session: Session,
    hub_id: int,
    day: date,
    now: datetime,
    seconds: float = 1.0,
    params: SolveParams = DEFAULT_PARAMS,
) -> list[ProposalView]:
    """Propose taking at-risk drivers' stops off their routes and inserting them into other
    drivers' routes: one "rebalance" proposal for the drivers at risk that no pending
    proposal of this agent covers yet (none when there are none). `seconds` is the wall-time
    budget: the insertion stops when it is spent (the reading before it and the pricing after
    it come on top, about 0.2 s on a 40-driver hub); what it had no time or no room for is
    listed as unassigned, with which of the two."""
    started = time.monotonic()
    state = load_day_state(session, hub_id, day, now)
    look = _look(session, state, now, params)
    if state.plan_id is None or not look.risks:
        return []
    waiting = _pending_drivers(session, state.plan_id)
    risks = [r for r in look.risks if r.driver_code not in waiting]
    if not risks:
        return []
    moving = [o for r in risks for o in r.orders]
    problem = _receiving_problem(look, set(moving))
    live = {d: list(refs) for d, refs in state.live.items()}
    base = dict(live) | {r.driver_code: list(r.kept) for r in risks}
    budget_s = max(seconds - (time.monotonic() - started), 0.0)
    new_plan, no_room, untried = _insert(problem, base, moving, params, budget_s)
    pricing = Pricing(problem, params, current_of(live))
    before = evaluate_plan(problem, live, params, live, pricing)
    after = evaluate_plan(problem, new_plan, params, live, pricing)
    at_risk = {r.driver_code for r in risks}
    touched = sorted(at_risk | {d for d, refs in new_plan.items() if refs != base.get(d, [])})
    routes = {
        code: _new_route(
            problem,
            after,
            code,
            look.routes.get(code) is not None and look.routes[code].started_at is not None,
        )
        for code in touched
    }
    moving_set = set(moving)
    placed = {o: d for d, refs in new_plan.items() if d not in at_risk for o in refs if o in moving_set}
    reasons = {o: _why_unplaced(look, pricing, o) for o in no_room} | {
        o: f"not tried within the agent's {seconds:g} s; a rebalance can place it" for o in untried
    }
    was = {v.order_id: v.arrival_s for r in before.routes for v in r.visits}
    now_at = {v.order_id: (v.arrival_s, v.due_s) for r in after.routes for v in r.visits}
    moves = []
    for risk in risks:
        for position, ref in enumerate(risk.orders, start=len(risk.kept)):
            to = placed.get(ref)
            words = [risk.reason]
            if to is not None:
                arrive, due = now_at[ref]
                words.append(
                    f"ETA {hhmm(was[ref])} -> {hhmm(arrive)} (due {hhmm(due)})"
                    if ref in was
                    else f"ETA {hhmm(arrive)} (due {hhmm(due)})"
                )
            else:
                words.append(reasons[ref])
            moves.append(
                OrderMove(
                    ref,
                    risk.driver_code,
                    position,
                    to,
                    new_plan[to].index(ref) if to else None,
                    "; ".join(words),
                )
            )
    avoided = {r.driver_code: _clear(look, r, routes[r.driver_code]) for r in risks}
    change = RouteChange(
        hub_id=hub_id,
        day=day.isoformat(),
        requested_by=AGENT,
        routes=tuple(routes.values()),
        moves=tuple(moves),
        unassigned=tuple(Unplaced(o, reasons[o]) for o in sorted(reasons)),
        action=ACTION,
        risks=tuple(DriverRisk(r.driver_code, r.rule, r.breach_at.isoformat(), r.orders) for r in risks),
    )
    effect = PlanEffect(
        before=PlanMetrics.of(before.metrics),
        after=PlanMetrics.of(after.metrics),
        orders_moved=len(placed),
        orders_placed=0,
        orders_dropped=len(reasons),
        routes_touched=len(touched),
        routes_total=len(live),
        breaches=len(risks),
        breaches_avoided=sum(avoided.values()),
        runtime_s=round(time.monotonic() - started, 2),
    )
    text = " ".join(
        _sentence(r, after, routes[r.driver_code], placed, reasons, avoided[r.driver_code]) for r in risks
    )
    plan = session.get(Plan, state.plan_id)
    assert plan is not None
    proposal = create_proposal(session, plan, AGENT, ProposerKind.AGENT, change, effect, text, now)
    return [proposal_view(session, proposal.id)]


__all__ = ["ACTION", "AGENT", "ComplianceRisk", "at_risk_drivers", "propose_compliance"]
