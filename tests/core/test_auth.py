"""Sign-in and re-authentication tokens: round trip, expiry, tampering, password-change revocation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.auth import authenticate, issue_token, load_secret_key, read_token, resume
from core.kinds import Role
from core.models import User
from core.passwords import hash_password

SECRET = b"k" * 48
NOW = datetime(2026, 11, 27, 15, 40, tzinfo=UTC)
SHIFT = timedelta(hours=12)


def test_token_round_trip_gives_back_user_and_expiry() -> None:
    token = issue_token(42, "$argon2id$hash", SECRET, now=NOW, lifetime=SHIFT)
    claims = read_token(token, SECRET, now=NOW + timedelta(hours=11, minutes=59))
    assert claims is not None
    assert claims.user_id == 42
    assert claims.expires_at == NOW + SHIFT


def test_token_expires_after_its_lifetime() -> None:
    token = issue_token(42, "$argon2id$hash", SECRET, now=NOW, lifetime=SHIFT)
    assert read_token(token, SECRET, now=NOW + SHIFT) is None
    assert read_token(token, SECRET, now=NOW + SHIFT + timedelta(seconds=1)) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("v1.42.", "v1.43.", 1),  # another user
        lambda t: t.replace(t.split(".")[2], str(int(t.split(".")[2]) + 86_400)),  # longer life
        lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature bytes
        lambda t: t.rpartition(".")[0],  # signature dropped
        lambda t: "v2" + t[2:],  # version
        lambda t: "",
        lambda t: "not a token at all",
    ],
)
def test_tampered_token_is_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(42, "$argon2id$hash", SECRET, now=NOW, lifetime=SHIFT)
    assert read_token(tamper(token), SECRET, now=NOW) is None


def test_token_signed_with_another_key_is_refused() -> None:
    token = issue_token(42, "$argon2id$hash", b"x" * 48, now=NOW, lifetime=SHIFT)
    assert read_token(token, SECRET, now=NOW) is None


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


def test_password_change_revokes_earlier_tokens(db: Session) -> None:
    user = _user(db)
    signed = authenticate(db, "tess", "s3cret-pass", SECRET, now=NOW, lifetime=SHIFT)
    assert signed is not None
    user.password_hash = hash_password("a-new-password")
    db.flush()
    assert read_token(signed.token, SECRET, now=NOW) is not None  # signature still fine ...
    assert resume(db, signed.token, SECRET, now=NOW) is None  # ... but the password moved on
    fresh = authenticate(db, "tess", "a-new-password", SECRET, now=NOW, lifetime=SHIFT)
    assert fresh is not None and resume(db, fresh.token, SECRET, now=NOW) is not None


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
