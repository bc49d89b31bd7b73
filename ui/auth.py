"""The login guard: the sign-in form, the session cookie, and `current_viewer()`.

Signing in opens a server-side session (`core.auth`); the frame writes its random token into a
cookie, and a new Streamlit session (a reload) signs back in from it (`st.context.cookies`,
sent with the first request). Every run checks the session again, so sign-out, a password
change or a deactivation signs out every tab on its next run, and expiry follows the wall
clock. Streamlit cannot set cookies from Python; a tiny script in an `st.html` element does
(`document.cookie`, same origin, checked in the browser test). The cookie is not HttpOnly for
that reason; it is SameSite=Strict, Secure over https, and worthless once the session ends.
"""

from __future__ import annotations

import json

import streamlit as st

from core.access import Viewer
from core.auth import SignIn
from ui import services, state
from ui.text import inert

COOKIE = "ct_session"
REFUSED = "Wrong username or password."


def _cookie_token() -> str | None:
    value = st.context.cookies.get(COOKIE)
    return value if isinstance(value, str) and value else None  # AppTest's client has no cookies


def _cookie_script(value: str, max_age_s: int) -> None:
    secure = "; Secure" if (st.context.url or "").startswith("https:") else ""
    cookie = f"{COOKIE}={value}; Path=/; Max-Age={max_age_s}; SameSite=Strict{secure}"
    st.html(
        f"<script>document.cookie = {json.dumps(cookie)};</script>",
        unsafe_allow_javascript=True,
        width="content",
    )


def signed_in() -> SignIn | None:
    """This session's sign-in, checked against its server-side session on every run: from
    session state, else resumed from the cookie (a reload). After "Sign out" the session ignores
    the cookie its first request carried."""
    current = state.sign_in()
    token = current.token if current is not None else None
    if token is None and not state.get(state.SIGNED_OUT):
        token = _cookie_token()
    resumed = services.resume(token) if token else None
    if resumed is None:
        st.session_state.pop(state.SIGN_IN, None)
    else:
        st.session_state[state.SIGN_IN] = resumed
    return resumed


def keep_signed_in(current: SignIn) -> None:
    """Write (or refresh) the cookie for this sign-in; call on every run of the frame."""
    remaining_s = int((current.expires_at - services.wall_now()).total_seconds())
    _cookie_script(current.token, max(remaining_s, 0))


def sign_out() -> None:
    """Button callback: end the session everywhere; the next run deletes the cookie."""
    current = state.sign_in()
    if current is not None:
        services.sign_out(current.token)
    st.session_state.pop(state.SIGN_IN, None)
    st.session_state[state.SIGNED_OUT] = True


def _submit() -> None:
    username = str(st.session_state.get("login.username", ""))
    password = str(st.session_state.get("login.password", ""))
    signed = services.sign_in(username, password) if username and password else None
    st.session_state["login.password"] = ""
    if signed is None:
        st.session_state[state.LOGIN_FAILED] = True
        return
    st.session_state[state.SIGN_IN] = signed
    st.session_state[state.SIGNED_OUT] = False
    st.session_state[state.LOGIN_FAILED] = False


def login_form() -> None:
    """The sign-in form, and nothing else. Deletes the cookie after "Sign out", and one that no
    longer signs anyone in."""
    if state.get(state.SIGNED_OUT) or _cookie_token():
        _cookie_script("", 0)
    _, middle, _ = st.columns([1, 1.2, 1])
    with middle:
        st.title("Control Tower")
        st.caption("Sign in to run the delivery day.")
        with st.form("login", clear_on_submit=False, enter_to_submit=True):
            st.text_input("Username", key="login.username", autocomplete="username")
            st.text_input("Password", type="password", key="login.password", autocomplete="current-password")
            st.form_submit_button("Sign in", type="primary", on_click=_submit, width="stretch")
        if state.get(state.LOGIN_FAILED):
            st.error(REFUSED, icon=":material/lock:")


def refuse_if_exposed() -> None:
    """Stop every page while the app is served beyond this machine and a demo user still has
    the published demo password (anyone on the network could sign in as them)."""
    address = services.server_address()
    if services.is_loopback(address):
        return
    names = services.demo_passwords_in_use()
    if not names:
        return
    where = "every network interface" if not address else inert(address)
    st.error(
        f"Refusing to serve on {where}: the demo users {', '.join(names)} still have their demo "
        "passwords, which anyone reading the README knows. Change each one with "
        "`ctower user password NAME` (or turn it off with `ctower user deactivate NAME`), or serve "
        "on this machine only: `make run` listens on 127.0.0.1 unless `ADDRESS` is set.",
        icon=":material/gpp_bad:",
    )
    st.stop()


def current_viewer() -> Viewer:
    """The signed-in viewer; a page that runs without one shows only the sign-in and stops."""
    current = signed_in()
    if current is None:
        login_form()
        st.stop()
    return current.viewer
