"""Control Tower: the entry point and frame (it lives in pages/ on purpose: see DESIGN.md).

Every request runs this file first: it signs the visitor in (or shows only the sign-in), then
offers the pages the viewer's role may open, with the shared sidebar: who is signed in, sign
out, the hub filter and the clock. Pages read the viewer and pass it on. The one exception is
the customer's tracking page, which runs for anyone and shows only what its link opens.
"""

import streamlit as st

from ui import auth, clock, navigation, services, widgets

st.set_page_config(page_title="Control Tower", page_icon="🚚", layout="wide")
services.current_engine()
auth.refuse_if_exposed()

signed_in = auth.signed_in()
page = (
    navigation.navigation_signed_out()
    if signed_in is None
    else navigation.navigation_for(signed_in.viewer.role)
)
if navigation.is_public(page):
    page.run()
    st.stop()
if signed_in is None:
    auth.login_form()
    st.stop()

with st.sidebar:
    widgets.user_box(signed_in, auth.sign_out)
    widgets.hub_filter(services.hubs())
    clock.sidebar_clock(signed_in.viewer.role in navigation.OPERATIONS)
    auth.keep_signed_in(signed_in)
page.run()
