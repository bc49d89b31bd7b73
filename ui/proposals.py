"""A proposal on screen: before/after effect, the moves, the changed routes, the decision."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pydeck as pdk
import streamlit as st

from core.agents.dispatch import RouteLine
from core.proposals import ProposalView
from ui.maps import FLEET_COLOURS
from ui.text import inert

EFFECT_ROWS = (
    ("cost_cents", "Cost", 100, "${:,.2f}"),
    ("distance_m", "Distance", 1000, "{:,.1f} km"),
    ("co2_g", "CO2", 1000, "{:,.1f} kg"),
    ("late", "Predicted late", 1, "{:,.0f}"),
    ("unassigned", "Unassigned", 1, "{:,.0f}"),
)


def effect_table(p: ProposalView) -> pd.DataFrame:
    """Before -> after for each measure, in display units."""
    rows = []
    for key, label, scale, fmt in EFFECT_ROWS:
        before, after = p.effect["before"][key] / scale, p.effect["after"][key] / scale
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
    return pd.DataFrame(
        [
            {"measure": key.replace("_", " "), "value": str(value)}
            for key, value in p.effect.items()
            if not isinstance(value, dict | list)
        ]
    )


def detail_table(p: ProposalView) -> pd.DataFrame:
    """What a non-route change lists: drivers called in, routes re-timed or flagged."""
    rows = p.change.get("drivers") or p.change.get("routes") or []
    return pd.DataFrame([r for r in rows if isinstance(r, dict)])


def moves_table(p: ProposalView) -> pd.DataFrame:
    columns = ["order", "from_driver", "from_position", "to_driver", "to_position", "reason"]
    frame = pd.DataFrame(p.change.get("moves", []), columns=columns)
    for col in ("from_position", "to_position"):  # 1-based stop numbers; empty when unrouted
        frame[col] = pd.to_numeric(frame[col], errors="coerce").add(1).astype("Int64")
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


def history_frame(past: list[ProposalView]) -> pd.DataFrame:
    """Decided proposals: who proposed, who decided, when, and why."""
    return pd.DataFrame(
        [
            {
                "id": p.id,
                "kind": p.kind,
                "proposed by": p.proposed_by,
                "created (UTC)": f"{p.created_at:%d %b %H:%M}",
                "status": p.status.value,
                "decided by": p.decided_by or "",
                "decided (UTC)": f"{p.decided_at:%d %b %H:%M}" if p.decided_at else "",
                "reason": p.decision_reason or "",
                "summary": p.rationale,
            }
            for p in past
        ],
        columns=[
            "id",
            "kind",
            "proposed by",
            "created (UTC)",
            "status",
            "decided by",
            "decided (UTC)",
            "reason",
            "summary",
        ],
    )


def routes_deck(lines: list[RouteLine], basemap_style: str) -> pdk.Deck:
    """The proposal's changed routes, coloured by fleet type (pure: no st.* calls)."""
    frame = pd.DataFrame(
        [
            {
                "driver": r.driver_code,
                "path": [list(pt) for pt in r.path],
                "color": list(FLEET_COLOURS.get(r.fleet_type, (71, 85, 105))),
                "tooltip": f"{r.driver_code}: {r.stops} stops",
            }
            for r in lines
        ]
    )
    points = [pt for r in lines for pt in r.path] or [(-73.95, 40.72)]
    lon = sum(p[0] for p in points) / len(points)
    lat = sum(p[1] for p in points) / len(points)
    layer = pdk.Layer(
        "PathLayer", frame, get_path="path", get_color="color", width_min_pixels=3, pickable=True
    )
    return pdk.Deck(
        layers=[layer],
        initial_view_state=pdk.ViewState(latitude=lat, longitude=lon, zoom=11),
        map_style=basemap_style,
        tooltip={"text": "{tooltip}"},
    )


def proposal_card(
    p: ProposalView,
    lines: list[RouteLine],
    basemap_style: str,
    on_decide: Callable[[int, bool, str], None],
    can_decide: bool,
) -> None:
    e = p.effect
    replan = "before" in e and "after" in e
    with st.container(border=True):
        action = p.change.get("action")
        st.markdown(
            f"**Proposal {p.id}** · {action or p.kind} by {p.proposed_by} for hub {p.hub_code} · "
            f"plan version {p.base_version} · {p.created_at:%H:%M:%S} UTC"
        )
        st.markdown(inert(p.rationale))
        if replan:
            solver = e.get("solver")
            st.caption(
                f"{e.get('orders_moved', 0)} orders move, {e.get('orders_placed', 0)} placed, "
                f"{e.get('orders_dropped', 0)} dropped; {e.get('routes_touched', 0)} of "
                f"{e.get('routes_total', e.get('routes_touched', 0))} routes change"
                + (f" · solver {solver['status']} in {solver['runtime_s']} s" if solver else "")
            )
            left, right = st.columns([1, 1.4])
            left.dataframe(effect_table(p), hide_index=True, width="stretch", key=f"dispatch.effect.{p.id}")
            right.pydeck_chart(routes_deck(lines, basemap_style), height=260, key=f"dispatch.routes.{p.id}")
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
