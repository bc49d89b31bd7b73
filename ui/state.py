"""Session-state keys, in one place: who sets a key and what it holds is written here.

Widget keys carry their page (`"live_map.fleet"`); the keys below are the app's own state.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.auth import SignIn

SIGN_IN = "ct.sign_in"  # core.auth.SignIn of the signed-in person (ui.auth)
SIGNED_OUT = "ct.signed_out"  # True after "Sign out": the cookie of this session is ignored (ui.auth)
LOGIN_FAILED = "ct.login_failed"  # True after a refused sign-in, until the next attempt (ui.auth)
HUB = "frame.hub"  # the sidebar's hub filter: a hub code, or None for all hubs (widget)
RECENTRED = "live_map.recentred"  # how many times "Re-centre" was pressed (pages/live_map.py)


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)


def sign_in() -> SignIn | None:
    value = st.session_state.get(SIGN_IN)
    return value if isinstance(value, SignIn) else None


def choose_hub(code: str) -> None:
    """Set the sidebar's hub filter (a button callback, so before the widget draws)."""
    st.session_state[HUB] = code


def bump(key: str) -> None:
    """Add one to a counter (used from button callbacks)."""
    st.session_state[key] = int(st.session_state.get(key, 0)) + 1


REBALANCE_JOB = "dispatch.job"  # ui.dispatch_jobs.RebalanceJob of this session (pages/dispatch.py)
DISPATCH_NOTICE = "dispatch.notice"  # (kind, text) of the last decision, shown once (pages/dispatch.py)
