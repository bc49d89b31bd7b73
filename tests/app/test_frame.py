"""The frame: sign-in, the role's menu, the sidebar, sign-out and the re-authentication cookie."""

from __future__ import annotations

import re
from datetime import UTC, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import read_token
from core.kinds import Role
from tests.app.conftest import APP, APP_NOW, SECRET_KEY, signed_in
from ui import navigation
from ui.auth import COOKIE, REFUSED

PAGE_PATHS = [p.path for p in navigation.PAGES]


def _shows_only_the_login(at: AppTest) -> None:
    assert not at.exception
    assert [t.value for t in at.title] == ["Control Tower"]
    assert {w.key for w in at.text_input} == {"login.username", "login.password"}
    assert not at.metric and not at.dataframe and not at.get("deck_gl_json_chart")
    assert not [b for b in at.button if b.key == "frame.sign_out"]


def _cookie_scripts(at: AppTest) -> list[str]:
    return [h.proto.body for h in at.get("html") if "document.cookie" in h.proto.body]


def test_a_visitor_sees_only_the_login() -> None:
    _shows_only_the_login(AppTest.from_file(APP, default_timeout=30).run())


@pytest.mark.parametrize("path", PAGE_PATHS)
def test_every_page_without_sign_in_shows_only_the_login(path: str) -> None:
    at = AppTest.from_file(APP, default_timeout=30).run()
    at.switch_page(path).run()
    _shows_only_the_login(at)


@pytest.mark.parametrize(("username", "password"), [("priya", "wrong"), ("nobody", "priya-demo")])
def test_a_wrong_username_or_password_is_refused_without_saying_which(username: str, password: str) -> None:
    at = signed_in(username, password)
    assert [e.value for e in at.error] == [REFUSED]
    _shows_only_the_login(at)
    assert not _cookie_scripts(at)


def test_signing_in_opens_the_live_map_with_the_sidebar_and_writes_the_cookie() -> None:
    at = signed_in("priya")
    assert not at.error
    assert "Priya (dispatcher)" in at.sidebar.markdown[0].value
    assert at.button(key="frame.sign_out").label == "Sign out"
    assert at.selectbox(key="frame.hub").value is None
    assert "Now **10:40** EST" in " ".join(c.value for c in at.sidebar.caption)
    assert at.get("deck_gl_json_chart")  # the landing page for operations roles
    [script] = _cookie_scripts(at)
    token = re.search(rf"{COOKIE}=([^;]+);", script).group(1)  # type: ignore[union-attr]
    claims = read_token(token, SECRET_KEY.encode(), now=APP_NOW)
    assert claims is not None and claims.expires_at == APP_NOW + timedelta(hours=12)
    assert "SameSite=Strict" in script and "Max-Age=43200" in script


ROLE_OF = {
    "priya": Role.DISPATCHER,
    "marcus": Role.HEAD_OF_LAST_MILE,
    "jonas": Role.VENDOR,
    "sam": Role.DRIVER,
}


@pytest.mark.parametrize("username", list(ROLE_OF))
def test_the_menu_holds_only_the_pages_of_the_role(username: str) -> None:
    at = signed_in(username)
    allowed = {p.path for p in navigation.pages_for(ROLE_OF[username])}
    for path in PAGE_PATHS:
        if path in allowed:
            at.switch_page(path).run()
            assert not at.exception
        else:  # not registered for this role: neither in the menu nor reachable
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                at.switch_page(path)


def test_the_registry_gives_every_role_a_menu_and_keeps_orders_from_vendors_and_drivers() -> None:
    assert all(navigation.pages_for(role) for role in Role)  # nobody signs in to an empty menu
    for role in Role:
        paths = [p.path for p in navigation.pages_for(role)]
        assert "live_map.py" in paths
        assert ("orders.py" in paths) is (role not in {Role.VENDOR, Role.DRIVER})
    assert navigation.landing_page(Role.DISPATCHER).path == "live_map.py"


def test_sign_out_shows_the_login_and_deletes_the_cookie() -> None:
    at = signed_in("priya")
    at.button(key="frame.sign_out").click().run()
    _shows_only_the_login(at)
    assert any("Max-Age=0" in s for s in _cookie_scripts(at))


def test_sign_out_ignores_the_cookie_the_session_started_with(monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in("priya")
    token = re.search(rf"{COOKIE}=([^;]+);", _cookie_scripts(at)[0]).group(1)  # type: ignore[union-attr]
    monkeypatch.setattr("ui.auth._cookie_token", lambda: token)
    at.button(key="frame.sign_out").click().run()
    _shows_only_the_login(at)
    assert any("Max-Age=0" in s for s in _cookie_scripts(at))


def test_a_new_session_signs_back_in_from_the_cookie(monkeypatch: pytest.MonkeyPatch) -> None:
    token = re.search(rf"{COOKIE}=([^;]+);", _cookie_scripts(signed_in("jonas"))[0]).group(1)  # type: ignore[union-attr]
    monkeypatch.setattr("ui.auth._cookie_token", lambda: token)
    at = AppTest.from_file(APP, default_timeout=30).run()  # a reload: new session, same cookie
    assert not at.exception
    assert "Jonas" in at.sidebar.markdown[0].value


@pytest.mark.parametrize("spoil", [lambda t: t.replace(".", ".9", 1), lambda t: t[:-3] + "abc"])
def test_a_tampered_cookie_shows_the_login_and_is_deleted(monkeypatch: pytest.MonkeyPatch, spoil) -> None:  # type: ignore[no-untyped-def]
    token = re.search(rf"{COOKIE}=([^;]+);", _cookie_scripts(signed_in("priya"))[0]).group(1)  # type: ignore[union-attr]
    monkeypatch.setattr("ui.auth._cookie_token", lambda: spoil(token))
    at = AppTest.from_file(APP, default_timeout=30).run()
    _shows_only_the_login(at)
    assert any("Max-Age=0" in s for s in _cookie_scripts(at))


def test_a_sign_in_expires_after_the_session_hours(monkeypatch: pytest.MonkeyPatch) -> None:
    at = signed_in("priya")
    monkeypatch.setattr("ui.services.now", lambda: APP_NOW + timedelta(hours=12, seconds=1))
    at.run()
    _shows_only_the_login(at)


def test_clock_shows_the_hub_local_time() -> None:
    at = signed_in("priya")
    at.selectbox(key="frame.hub").select("NJC").run()
    assert not at.exception
    assert "Now **10:40** EST" in " ".join(c.value for c in at.sidebar.caption)
    assert APP_NOW.tzinfo is UTC
