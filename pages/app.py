"""Control Tower: the entry point and frame (it lives in pages/ on purpose: see DESIGN.md).

Every request runs this file first: it signs the visitor in (or shows only the sign-in), then
offers the pages the viewer's role may open, with the shared sidebar: who is signed in, sign
out, the hub filter and the hub's clock. Pages read the viewer and pass it on.
"""

import streamlit as st

from ui import auth, navigation, services, widgets

st.set_page_config(page_title="Control Tower", page_icon="🚚", layout="wide")
services.current_engine()

signed_in = auth.signed_in()
if signed_in is None:
    navigation.navigation_signed_out()
    auth.login_form()
    st.stop()

page = navigation.navigation_for(signed_in.viewer.role)
with st.sidebar:
    widgets.user_box(signed_in, auth.sign_out)
    widgets.hub_filter(services.hubs())
    widgets.clock()
    auth.keep_signed_in(signed_in)
page.run()
