"""Sign-in and server-side sessions: round trip, expiry on the wall clock, sign-out, password
change and deactivation ending sessions everywhere, malformed tokens, the secret key file."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import (
    active_viewer,
    authenticate,
    change_password,
    load_secret_key,
    resume,
    set_active,
    sign_out,
)
from core.errors import ControlTowerError
from core.kinds import Role
from core.models import SignInSession, User
from core.passwords import hash_password

SECRET = b"k" * 48
NOW = datetime(2026, 11, 27, 15, 40, tzinfo=UTC)
SHIFT = timedelta(hours=12)


def _user(db: Session, password: str = "s3cret-pass", role: Role = Role.DISPATCHER) -> User:
    user = User(
        username="tess",
        display_name="Tess (dispatcher)",
        role=role,
        password_hash=hash_password(password),
        active=True,
    )
    db.add(user)
    db.flush()
    return user


def test_authenticate_accepts_the_right_password_and_signs_a_token(db: Session) -> None:
    user = _user(db)
    signed = authenticate(db, " tess ", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT)
    assert signed is not None
    assert (signed.viewer.username, signed.viewer.role, signed.viewer.user_id) == (
        "tess",
        Role.DISPATCHER,
        user.id,
    )
    assert signed.display_name == "Tess (dispatcher)"
    assert signed.expires_at == NOW + SHIFT
    assert resume(db, signed.token, SECRET, now=NOW + timedelta(hours=1)) == signed


@pytest.mark.parametrize(
    ("username", "password"), [("tess", "wrong"), ("nobody", "s3cret-pass"), ("tess", ""), ("", "")]
)
def test_authenticate_refuses_wrong_user_or_password(db: Session, username: str, password: str) -> None:
    _user(db)
    assert authenticate(db, username, password, SECRET, now=NOW, lifetime=SHIFT) is None


def test_inactive_user_cannot_sign_in_or_resume(db: Session) -> None:
    user = _user(db)
    signed = authenticate(db, "tess", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT)
    assert signed is not None
    user.active = False
    db.flush()
    assert authenticate(db, "tess", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT) is None
    assert resume(db, signed.token, SECRET, now=NOW) is None


def _sign_in(db: Session) -> str:
    signed = authenticate(db, "tess", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT)
    assert signed is not None
    return signed.token


def test_sign_in_writes_a_session_that_stores_no_token(db: Session) -> None:
    _user(db)
    token = _sign_in(db)
    [record] = db.scalars(select(SignInSession)).all()
    assert token not in record.token_hash and record.expires_at == NOW + SHIFT and record.ended_at is None


def test_a_session_expires_after_its_lifetime(db: Session) -> None:
    _user(db)
    token = _sign_in(db)
    assert resume(db, token, SECRET, now=NOW + SHIFT - timedelta(seconds=1)) is not None
    assert resume(db, token, SECRET, now=NOW + SHIFT) is None


def test_sign_out_ends_the_session_so_a_copied_token_no_longer_signs_in(db: Session) -> None:
    _user(db)
    token, other_device = _sign_in(db), _sign_in(db)
    sign_out(db, token, SECRET, now=NOW)
    assert resume(db, token, SECRET, now=NOW) is None
    assert resume(db, other_device, SECRET, now=NOW) is not None


def test_password_change_ends_every_session_of_the_user(db: Session) -> None:
    _user(db)
    tokens = [_sign_in(db), _sign_in(db)]
    change_password(db, "tess", "a-new-password", now=NOW)
    assert [resume(db, t, SECRET, now=NOW) for t in tokens] == [None, None]
    assert authenticate(db, "tess", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT) is None
    fresh = authenticate(db, "tess", "a-new-password", SECRET, now=NOW, lifetime=SHIFT)
    assert fresh is not None and resume(db, fresh.token, SECRET, now=NOW) is not None


def test_deactivation_ends_every_session_and_refuses_acting_as_the_user(db: Session) -> None:
    _user(db)
    token = _sign_in(db)
    assert active_viewer(db, "tess").username == "tess"
    set_active(db, "tess", False, now=NOW)
    assert resume(db, token, SECRET, now=NOW) is None
    assert db.scalars(select(SignInSession.ended_at)).one() == NOW
    with pytest.raises(ControlTowerError, match="deactivated"):
        active_viewer(db, "tess")
    set_active(db, "tess", True, now=NOW)
    assert resume(db, token, SECRET, now=NOW) is None  # reactivating does not revive old sessions


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-1] + ("A" if not t.endswith("A") else "B"),
        lambda t: t[:-1],
        lambda t: t + "é",
        lambda t: "é" * 43,
        lambda t: "\x00" * 43,
        lambda t: "",
        lambda t: "v1.1.9999999999.tag.sig",  # the old signed-token shape
    ],
)
def test_a_malformed_or_unknown_token_signs_nobody_in(db: Session, spoil) -> None:  # type: ignore[no-untyped-def]
    _user(db)
    assert resume(db, spoil(_sign_in(db)), SECRET, now=NOW) is None


def test_a_session_row_is_worthless_under_another_key(db: Session) -> None:
    _user(db)
    assert resume(db, _sign_in(db), b"x" * 48, now=NOW) is None


def test_resume_applies_the_current_role(db: Session) -> None:
    user = _user(db)
    signed = authenticate(db, "tess", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT)
    assert signed is not None
    user.role = Role.HEAD_OF_LAST_MILE
    db.flush()
    resumed = resume(db, signed.token, SECRET, now=NOW)
    assert resumed is not None and resumed.viewer.role is Role.HEAD_OF_LAST_MILE


def test_vendor_sign_in_carries_the_vendor(seeded_db: Session) -> None:
    jonas = seeded_db.scalar(select(User).where(User.username == "jonas"))
    signed = authenticate(seeded_db, "jonas", "jonas-demo", SECRET, now=NOW, lifetime=SHIFT)
    assert jonas is not None and signed is not None
    assert signed.viewer.role is Role.VENDOR and signed.viewer.vendor_id == jonas.vendor_id


def test_secret_key_comes_from_the_environment(tmp_path: Path) -> None:
    key = "e" * 40
    assert load_secret_key({"CT_SECRET_KEY": key}, tmp_path / "k") == key.encode()
    assert not (tmp_path / "k").exists()
    with pytest.raises(ValueError, match="at least 32"):
        load_secret_key({"CT_SECRET_KEY": "short"}, tmp_path / "k")


def test_secret_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / ".secret_key"
    first = load_secret_key({}, path)
    assert len(first) >= 32
    assert load_secret_key({}, path) == first
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secret_key_file_others_can_read_is_refused_with_the_fix(tmp_path: Path, mode: int) -> None:
    path = tmp_path / ".secret_key"
    path.write_text("s" * 48 + "\n")
    os.chmod(path, mode)
    with pytest.raises(ValueError, match=f"chmod 600 {path}"):
        load_secret_key({}, path)
