"""Dispatch: rebalance a hub's day with a time and change budget, then approve or reject.

The solve runs in a worker thread with live progress; its result lands in the inbox as a
pending proposal. Approving applies it whole or refuses it whole (a stale proposal says what
moved and offers a fresh one).
"""

import streamlit as st

from core.access import PLAN_CHANGE_ROLES
from core.agents.dispatch import RebalanceRequest
from core.errors import ControlTowerError
from ui import dispatch_jobs, dispatch_services, proposals, services, state, widgets
from ui.auth import current_viewer
from ui.text import inert

viewer = current_viewer()
hubs = services.hubs()
code = state.get(state.HUB)
if code is None:  # one hub selection per page: the sidebar's
    st.subheader("Dispatch · all hubs", anchor=False)
    st.info("Dispatch works on one hub at a time. Choose the hub:", icon=":material/warehouse:")
    for hub_col, hub in zip(st.columns(len(hubs)), hubs.itertuples(), strict=True):
        hub_col.button(
            inert(f"{hub.code} · {hub.name}"),
            key=f"dispatch.open.{hub.code}",
            width="stretch",
            on_click=state.choose_hub,
            args=(hub.code,),
        )
    st.stop()
hub_id = int(hubs.loc[hubs["code"] == code, "hub_id"].iloc[0])
tz = widgets.hub_timezone()
can_change = viewer.role in PLAN_CHANGE_ROLES
settings = services.settings()


def start_rebalance(seconds: float, max_moves: int, max_routes: int) -> None:
    request = RebalanceRequest(
        hub_id=hub_id,
        day=services.today(),
        now=services.now(),
        seconds=float(seconds),
        max_orders_moved=max_moves or None,
        max_routes_touched=max_routes or None,
    )
    st.session_state[state.REBALANCE_JOB] = dispatch_jobs.start(viewer, request)
    st.session_state.pop(state.DISPATCH_NOTICE, None)


def decide(proposal_id: int, approved: bool, reason: str) -> None:
    try:
        done = dispatch_services.decide(viewer, proposal_id, approved, reason)
        verb = "approved and applied" if approved else "rejected"
        st.session_state[state.DISPATCH_NOTICE] = ("success", f"Proposal {done.id} {verb}.")
    except ControlTowerError as exc:
        st.session_state[state.DISPATCH_NOTICE] = ("error", str(exc))


st.subheader(f"Dispatch · {widgets.hub_label()}", anchor=False)
job: dispatch_jobs.RebalanceJob | None = st.session_state.get(state.REBALANCE_JOB)
if can_change:
    with st.form("dispatch.rebalance"):
        seconds_col, moves_col, routes_col = st.columns(3)
        seconds = seconds_col.slider("Time limit (seconds)", 2, 60, 10, key="dispatch.seconds")
        max_moves = moves_col.number_input(
            "Move at most N orders (0: no limit)", 0, 10_000, 0, key="dispatch.max_moves"
        )
        max_routes = routes_col.number_input(
            "Touch at most M routes (0: no limit)", 0, 1_000, 0, key="dispatch.max_routes"
        )
        if st.form_submit_button(
            "Rebalance", type="primary", icon=":material/alt_route:", disabled=bool(job and job.running)
        ):
            start_rebalance(seconds, int(max_moves), int(max_routes))
            job = st.session_state[state.REBALANCE_JOB]


@st.fragment(run_every="1s")
def progress_panel() -> None:
    """Live progress while the solve runs; one full rerun when it ends, to show the inbox."""
    current: dispatch_jobs.RebalanceJob | None = st.session_state.get(state.REBALANCE_JOB)
    if current is None:
        return
    if not current.running:
        if not current.reported:
            current.reported = True
            dispatch_services.refresh()
            st.rerun()
        return
    st.progress(
        min(1.0, current.elapsed_s / current.request.seconds), text=dispatch_jobs.progress_text(current)
    )
    st.button("Cancel", key="dispatch.cancel", on_click=current.cancel.set)


progress_panel()
if job is not None and not job.running and job.error:
    st.error(job.error, icon=":material/error:")

notice = st.session_state.get(state.DISPATCH_NOTICE)
if notice:
    kind, text = notice
    (st.success if kind == "success" else st.error)(text)
    if kind == "error" and can_change:
        st.button(
            "Ask for a fresh proposal",
            key="dispatch.fresh",
            icon=":material/refresh:",
            on_click=start_rebalance,
            args=(
                st.session_state.get("dispatch.seconds", 10),
                st.session_state.get("dispatch.max_moves", 0),
                st.session_state.get("dispatch.max_routes", 0),
            ),
        )

st.markdown("#### Inbox")
inbox = dispatch_services.pending(viewer, hub_id)
if not inbox:
    st.caption("No pending proposals for this hub.")
for proposal in inbox:
    proposals.proposal_card(
        proposal,
        dispatch_services.routes_before(proposal),
        dispatch_services.routes(proposal),
        settings.basemap_style,
        decide,
        can_change,
        tz,
    )

st.markdown("#### History")
past = dispatch_services.history(viewer, hub_id)
st.dataframe(proposals.history_frame(past, tz), hide_index=True, width="stretch", key="dispatch.history")
