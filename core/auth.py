"""Sign-in for local accounts: password check and server-side sessions.

Signing in writes a `SignInSession` row and gives the browser a random 256-bit token that
names it (the UI keeps it in a cookie so a reload signs back in). The row stores only an HMAC
of the token under the server's secret key, so neither a copy of the database nor a row
written into it signs anyone in. Every run of the app checks the row again: sign-out ends it,
a password change or a deactivation ends every session of the user, and it expires on the
wall clock (never the simulator's) after the configured hours. Anything that is not a token we
issued, a cookie with odd characters included, is simply "not signed in".
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from core.access import Viewer
from core.config import DATA_DIR
from core.errors import ControlTowerError
from core.models import SignInSession, User
from core.passwords import hash_password, verify_password

SECRET_ENV = "CT_SECRET_KEY"
SECRET_FILE = DATA_DIR / ".secret_key"
MIN_SECRET_CHARS = 32
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)


@dataclass(frozen=True)
class SignIn:
    """A signed-in person: who they are to core, what the UI shows, and their session's token."""

    viewer: Viewer
    display_name: str
    token: str
    expires_at: datetime


def _token_hash(token: str, secret: bytes) -> str:
    return hmac.new(secret, token.encode(), hashlib.sha256).hexdigest()


def _viewer(user: User) -> Viewer:
    return Viewer(
        username=user.username,
        role=user.role,
        user_id=user.id,
        vendor_id=user.vendor_id,
        driver_id=user.driver_id,
    )


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def authenticate(
    session: Session, username: str, password: str, secret: bytes, *, now: datetime, lifetime: timedelta
) -> SignIn | None:
    """Check a username and password and open a session; None for any failure, without saying
    which part. `now` is the wall clock.

    An unknown user still costs one argon2 verification, so timing does not tell either.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    token = secrets.token_urlsafe(32)
    record = SignInSession(
        token_hash=_token_hash(token, secret), user_id=user.id, created_at=now, expires_at=now + lifetime
    )
    session.add(record)
    session.flush()
    return SignIn(_viewer(user), user.display_name, token, record.expires_at)


def _open_session(session: Session, token: str, secret: bytes, now: datetime) -> SignInSession | None:
    if not isinstance(token, str) or not _TOKEN_SHAPE.fullmatch(token):
        return None
    record = session.scalar(
        select(SignInSession).where(SignInSession.token_hash == _token_hash(token, secret))
    )
    if record is None or record.ended_at is not None or record.expires_at <= now:
        return None
    return record


def resume(session: Session, token: str, secret: bytes, *, now: datetime) -> SignIn | None:
    """The sign-in a token names, if its session is open, unexpired (wall clock `now`) and its
    user active. The viewer is rebuilt from the user's current row, so a role change applies."""
    record = _open_session(session, token, secret, now)
    if record is None:
        return None
    user = session.get(User, record.user_id)
    if user is None or not user.active:
        return None
    return SignIn(_viewer(user), user.display_name, token, record.expires_at)


def sign_out(session: Session, token: str, secret: bytes, *, now: datetime) -> None:
    """End the session the token names: every tab holding it is signed out on its next run."""
    record = _open_session(session, token, secret, now)
    if record is not None:
        record.ended_at = now
        session.flush()


def end_sessions(session: Session, user_id: int, *, now: datetime) -> int:
    """End every open session of a user; returns how many."""
    ended = session.execute(
        update(SignInSession)
        .where(SignInSession.user_id == user_id, SignInSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(cast(CursorResult[Any], ended).rowcount or 0)


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise ControlTowerError(f"no user {username!r}")
    return user


def change_password(session: Session, username: str, new_password: str, *, now: datetime) -> None:
    """Set a new password and sign the user out everywhere."""
    user = _user(session, username)
    user.password_hash = hash_password(new_password)
    end_sessions(session, user.id, now=now)
    session.flush()


def set_active(session: Session, username: str, active: bool, *, now: datetime) -> None:
    """Activate or deactivate a user; deactivating signs them out everywhere."""
    user = _user(session, username)
    user.active = active
    if not active:
        end_sessions(session, user.id, now=now)
    session.flush()


def active_viewer(session: Session, username: str) -> Viewer:
    """The viewer for a named, active user (commands that act as someone, e.g. approvals)."""
    user = _user(session, username)
    if not user.active:
        raise ControlTowerError(f"user {username!r} is deactivated")
    return _viewer(user)


def demo_passwords_in_use(session: Session) -> list[str]:
    """Active demo users whose password is still the one the README publishes."""
    from core.scenario.users import DEMO_USERS

    published = {d.username: d.password for d in DEMO_USERS}
    users = session.scalars(select(User).where(User.username.in_(published), User.active))
    return sorted(u.username for u in users if verify_password(u.password_hash, published[u.username]))


def _read_when_written(path: Path, attempts: int = 50) -> str:
    for _ in range(attempts):  # another process may have created the file but not written it yet
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.02)
    return ""


def _refuse_if_shared(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError(
            f"the secret key file {path} can be read or written by other users "
            f"(mode {stat.filemode(mode)}); make it private with `chmod 600 {path}` "
            f"or set {SECRET_ENV} instead"
        )


def load_secret_key(env: dict[str, str] | None = None, path: Path = SECRET_FILE) -> bytes:
    """The signing key: `CT_SECRET_KEY` if set, else `data/.secret_key`, made on first use.

    Raises `ValueError` for a key shorter than 32 characters, and for a key file that other
    users may read or write (whoever reads it, with write access to the database, could plant
    a session). The file is created with mode 0600 and exclusively, so two processes
    starting at once end up with the same key.
    """
    value = (os.environ if env is None else env).get(SECRET_ENV, "")
    if not value:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            _refuse_if_shared(path)
            value = _read_when_written(path)
        else:
            value = secrets.token_urlsafe(48)
            with os.fdopen(fd, "w") as handle:
                handle.write(value + "\n")
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(
            f"the secret key must have at least {MIN_SECRET_CHARS} characters "
            f"(set {SECRET_ENV} or delete {path} to make a new one)"
        )
    return value.encode()
