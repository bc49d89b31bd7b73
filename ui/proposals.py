"""A proposal on screen: before/after effect, the moves, the changed routes, the decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields

import pandas as pd
import streamlit as st

from core.agents.dispatch import RouteLine
from core.plan_change import PlanEffect, PlanMetrics, RouteChange
from core.proposal_kinds import CallIn, LoadingPlanChange, TurnaroundWarning
from core.proposals import ProposalView
from core.timeutil import hhmm
from ui import maps, widgets
from ui.text import inert

EFFECT_ROWS: tuple[tuple[Callable[[PlanMetrics], int], str, int, str], ...] = (
    (lambda m: m.cost_cents, "Cost", 100, "${:,.2f}"),
    (lambda m: m.distance_m, "Distance", 1000, "{:,.1f} km"),
    (lambda m: m.co2_g, "CO2", 1000, "{:,.1f} kg"),
    (lambda m: m.late, "Predicted late", 1, "{:,.0f}"),
    (lambda m: m.unassigned, "Unassigned", 1, "{:,.0f}"),
)
MOVE_COLUMNS = ["order", "from_driver", "from_position", "to_driver", "to_position", "reason"]


def effect_table(effect: PlanEffect) -> pd.DataFrame:
    """Before -> after for each measure, in display units."""
    rows = []
    for measure, label, scale, fmt in EFFECT_ROWS:
        before, after = measure(effect.before) / scale, measure(effect.after) / scale
        rows.append(
            {
                "measure": label,
                "before": fmt.format(before),
                "after": fmt.format(after),
                "change": ("+" if after > before else "") + fmt.format(after - before)
                if after != before
                else "no change",
            }
        )
    return pd.DataFrame(rows)


def facts_table(p: ProposalView) -> pd.DataFrame:
    """The effect of a proposal that is not a re-plan (a call-in, a loading plan, a warning)."""
    values = ((f.name, getattr(p.effect, f.name)) for f in fields(p.effect))
    return pd.DataFrame(
        [{"measure": name.replace("_", " "), "value": str(v)} for name, v in values if v is not None]
    )


def detail_table(p: ProposalView) -> pd.DataFrame:
    """What a non-route change lists: drivers called in, routes re-timed or flagged."""
    change = p.change
    if isinstance(change, CallIn):
        return pd.DataFrame(
            [asdict(d) | {"start": hhmm(d.start_s), "end": hhmm(d.end_s)} for d in change.drivers]
        )
    if isinstance(change, LoadingPlanChange):
        turn = change.turnaround_s
        return pd.DataFrame(
            [asdict(r) | {"load": f"{hhmm(r.to_s)}-{hhmm(r.to_s + turn)}"} for r in change.routes]
        )
    if isinstance(change, TurnaroundWarning):
        return pd.DataFrame([asdict(r) for r in change.routes])
    return pd.DataFrame()


def moves_table(p: ProposalView) -> pd.DataFrame:
    moves = p.change.moves if isinstance(p.change, RouteChange) else ()
    frame = pd.DataFrame([asdict(m) for m in moves], columns=MOVE_COLUMNS)
    for col in ("from_position", "to_position"):  # 1-based stop numbers; "–" when unrouted
        number = pd.to_numeric(frame[col], errors="coerce").add(1)
        frame[col] = number.map(lambda n: "–" if pd.isna(n) else str(int(n)))
    for col in ("from_driver", "to_driver"):
        frame[col] = frame[col].fillna("")
    return frame.rename(
        columns={
            "from_driver": "from",
            "from_position": "at stop",
            "to_driver": "to",
            "to_position": "to stop",
        }
    )


def history_frame(past: list[ProposalView], tz: str) -> pd.DataFrame:
    """Decided proposals: who proposed, who decided, when (hub time), and why."""
    return pd.DataFrame(
        [
            {
                "id": p.id,
                "kind": widgets.words(p.kind),
                "proposed by": p.proposed_by,
                "created": widgets.day_time(p.created_at, tz),
                "status": widgets.words(p.status.value),
                "decided by": p.decided_by or "",
                "decided": widgets.day_time(p.decided_at, tz) if p.decided_at else "",
                "reason": p.decision_reason or "",
                "summary": p.rationale,
            }
            for p in past
        ],
        columns=[
            "id",
            "kind",
            "proposed by",
            "created",
            "status",
            "decided by",
            "decided",
            "reason",
            "summary",
        ],
    )


def proposal_card(
    p: ProposalView,
    before: list[RouteLine],
    lines: list[RouteLine],
    basemap_style: str,
    on_decide: Callable[[int, bool, str], None],
    can_decide: bool,
    tz: str,
) -> None:
    e = p.effect
    with st.container(border=True):
        st.markdown(
            f"**Proposal {p.id}** · {widgets.words(p.change.action or p.kind)} by {p.proposed_by} for hub "
            f"{p.hub_code} · plan version {p.base_version} · {widgets.clock_text(p.created_at, tz)}"
        )
        st.markdown(inert(p.rationale))
        if isinstance(e, PlanEffect):
            st.caption(
                f"{e.orders_moved} orders move, {e.orders_placed} placed, {e.orders_dropped} dropped; "
                f"{e.routes_touched} of {e.routes_total} routes change"
                + (
                    f" · solver {widgets.words(e.solver.status)} in {e.solver.runtime_s} s"
                    if e.solver
                    else ""
                )
            )
            left, right = st.columns([1, 1.4])
            left.dataframe(effect_table(e), hide_index=True, width="stretch", key=f"dispatch.effect.{p.id}")
            if before or lines:
                right.pydeck_chart(
                    maps.change_deck(before, lines, basemap_style),
                    height=300,
                    key=f"dispatch.routes.{p.id}",
                )
                right.html(widgets.change_legend())
            else:
                right.caption("No route changes: nothing to draw.")
            st.dataframe(
                moves_table(p), hide_index=True, width="stretch", height=220, key=f"dispatch.moves.{p.id}"
            )
        else:
            left, right = st.columns([1, 1.4])
            left.dataframe(facts_table(p), hide_index=True, width="stretch", key=f"dispatch.effect.{p.id}")
            right.dataframe(detail_table(p), hide_index=True, width="stretch", key=f"dispatch.detail.{p.id}")
        if not can_decide:
            return
        reason = st.text_input("Reason (to reject)", key=f"dispatch.reason.{p.id}")
        approve_col, reject_col, _ = st.columns([1, 1, 4])
        approve_col.button(
            "Approve",
            type="primary",
            key=f"dispatch.approve.{p.id}",
            on_click=on_decide,
            args=(p.id, True, ""),
            icon=":material/check:",
        )
        reject_col.button(
            "Reject",
            key=f"dispatch.reject.{p.id}",
            disabled=not reason.strip(),
            on_click=on_decide,
            args=(p.id, False, reason),
            icon=":material/close:",
        )
