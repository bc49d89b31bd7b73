"""`ctower user ...`: change a password, deactivate or reactivate an account.

A password change and a deactivation sign the user out everywhere (their sessions end). The
new password is read without echo, twice, or as one line from standard input when that is not
a terminal (scripts).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import Any

from core.auth import change_password, set_active
from core.db import default_engine, migrate, unit_of_work
from core.errors import ControlTowerError

MIN_PASSWORD_CHARS = 12


def _new_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ControlTowerError("the two passwords differ; nothing was changed")
    return first


def _user(args: argparse.Namespace) -> int:
    engine = default_engine()
    migrate(engine)
    now = datetime.now(UTC)
    if args.action == "password":
        password = _new_password()
        if len(password) < MIN_PASSWORD_CHARS:
            raise ControlTowerError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
        with unit_of_work(engine) as session:
            change_password(session, args.username, password, now=now)
        print(f"password of {args.username} changed; their sessions are ended")
    else:
        with unit_of_work(engine) as session:
            set_active(session, args.username, args.action == "activate", now=now)
        print(
            f"{args.username} {args.action}d"
            + ("; their sessions are ended" if args.action == "deactivate" else "")
        )
    return 0


def add_user_parser(sub: Any) -> None:
    p = sub.add_parser("user", help="change a user's password, deactivate or reactivate them")
    p.add_argument("action", choices=("password", "deactivate", "activate"))
    p.add_argument("username")
    p.set_defaults(handler=_user)
