"""Sign-in for local accounts: password check and signed, expiring re-authentication tokens.

A token lets a browser that reloads (a new Streamlit session) sign back in without the
password until it expires. It is ``v1.<user id>.<expires, epoch s>.<password tag>.<signature>``:
the signature is HMAC-SHA256 over everything before it with the server's secret key, and the
password tag is an HMAC of the user's current password hash, so changing the password (or
deactivating the user) revokes every token issued before. Nothing secret is inside the token;
it only has to be unforgeable. The UI decides where the token lives (a cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Viewer
from core.config import DATA_DIR
from core.models import User
from core.passwords import hash_password, verify_password

TOKEN_VERSION = "v1"
SECRET_ENV = "CT_SECRET_KEY"
SECRET_FILE = DATA_DIR / ".secret_key"
MIN_SECRET_CHARS = 32
_PASSWORD_TAG_CHARS = 22  # 132 bits of the tag's HMAC


@dataclass(frozen=True)
class SignIn:
    """A signed-in person: who they are to core, what the UI shows, and their token."""

    viewer: Viewer
    display_name: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    expires_at: datetime
    password_tag: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _mac(secret: bytes, message: str) -> str:
    return _b64(hmac.new(secret, message.encode(), hashlib.sha256).digest())


def _password_tag(secret: bytes, password_hash: str) -> str:
    return _mac(secret, "password:" + password_hash)[:_PASSWORD_TAG_CHARS]


def issue_token(
    user_id: int, password_hash: str, secret: bytes, *, now: datetime, lifetime: timedelta
) -> str:
    """A token for `user_id` valid until `now + lifetime` while the password hash is unchanged."""
    expires = int((now + lifetime).timestamp())
    body = f"{TOKEN_VERSION}.{user_id}.{expires}.{_password_tag(secret, password_hash)}"
    return f"{body}.{_mac(secret, body)}"


def read_token(token: str, secret: bytes, *, now: datetime) -> TokenClaims | None:
    """The token's claims if its signature is ours and it has not expired; else None."""
    body, _, signature = token.rpartition(".")
    if not body or not hmac.compare_digest(_mac(secret, body), signature):
        return None
    parts = body.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        return None
    try:
        user_id, expires = int(parts[1]), int(parts[2])
    except ValueError:
        return None
    expires_at = datetime.fromtimestamp(expires, UTC)
    if expires_at <= now:
        return None
    return TokenClaims(user_id, expires_at, parts[3])


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
    """Check a username and password; None for any failure, without saying which part.

    An unknown user still costs one argon2 verification, so timing does not tell either.
    """
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None or not user.active:
        verify_password(_dummy_hash(), password)
        return None
    if not verify_password(user.password_hash, password):
        return None
    token = issue_token(user.id, user.password_hash, secret, now=now, lifetime=lifetime)
    return SignIn(
        _viewer(user),
        user.display_name,
        token,
        datetime.fromtimestamp(int((now + lifetime).timestamp()), UTC),
    )


def resume(session: Session, token: str, secret: bytes, *, now: datetime) -> SignIn | None:
    """Sign back in from a token: valid signature, not expired, user active, password unchanged.

    The viewer is rebuilt from the user's current row, so a role change applies on resume.
    """
    claims = read_token(token, secret, now=now)
    if claims is None:
        return None
    user = session.get(User, claims.user_id)
    if user is None or not user.active:
        return None
    if not hmac.compare_digest(_password_tag(secret, user.password_hash), claims.password_tag):
        return None
    return SignIn(_viewer(user), user.display_name, token, claims.expires_at)


def _read_when_written(path: Path, attempts: int = 50) -> str:
    for _ in range(attempts):  # another process may have created the file but not written it yet
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.02)
    return ""


def load_secret_key(env: dict[str, str] | None = None, path: Path = SECRET_FILE) -> bytes:
    """The signing key: `CT_SECRET_KEY` if set, else `data/.secret_key`, made on first use.

    Raises `ValueError` for a key shorter than 32 characters. The file is created with mode
    0600 and exclusively, so two processes starting at once end up with the same key.
    """
    value = (os.environ if env is None else env).get(SECRET_ENV, "")
    if not value:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
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
