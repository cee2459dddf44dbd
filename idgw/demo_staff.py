"""The demo's staff (``make run``): password accounts with an authenticator app already set up, so
the staff pages (AAL 2.2) can be tried at once — an officer for the officer console and two admins
for the admin console (two, because a four-eyes change needs a second admin). Each app secret is
written to ``var/demo-<username>-totp`` (dev only) and printed in the demo's banner: add it to an
authenticator app, or print the current code with ``idgw proofing officer-code [--who NAME]``."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp

DEMO_OFFICER = ("officer", "demo-officer-password-1234")
DEMO_ADMINS = (("admin.somsak", "demo-admin-password-1234"), ("admin.malee", "demo-admin-password-5678"))
SECRET_FILE = Path("var/demo-officer-totp")
_NAMES = {"officer": ("เจ้าหน้าที่", "ทดลอง", "Demo", "Officer"),
          "admin.somsak": ("สมศักดิ์", "ผู้ดูแล", "Somsak", "Admin"),
          "admin.malee": ("มาลี", "ผู้ดูแล", "Malee", "Admin")}


def secret_file(username: str) -> Path:
    return SECRET_FILE if username == DEMO_OFFICER[0] else Path(f"var/demo-{username}-totp")


def ensure_demo_staff(settings, sessionmaker, *, username: str, password: str, roles: list[str]) -> str:
    """Create a demo staff account once; returns its app secret (base32)."""
    from idgw.admin import add_user
    from idgw.authn.totp import TOTPAuthenticator
    from idgw.login.password import find_account
    from idgw.security import Sealer, derive_key

    path = secret_file(username)
    with sessionmaker() as db:
        if find_account(db, username) is not None and path.exists():
            return path.read_text().strip()
        now = int(time.time())
        th_given, th_family, given, family = _NAMES.get(username, ("ทดลอง", "ทดลอง", "Demo", "Staff"))
        account = find_account(db, username) or add_user(
            db, username=username, password=password, now=now, given_name=given, family_name=family,
            given_name_th=th_given, family_name_th=th_family, roles=roles, actor="demo")
        db.flush()
        totp = TOTPAuthenticator(sealer=Sealer(derive_key(settings.secret_key, "totp-at-rest")))
        row, secret = totp.enrol_begin(db, account=account, name="Demo app", now=now)
        db.flush()
        if not totp.enrol_confirm(db, account=account, authenticator_id=row.id, code=pyotp.TOTP(secret).now(),
                                  now=now):
            raise RuntimeError(f"the demo {username}'s app could not be set up")
        db.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


def ensure_demo_officer(settings, sessionmaker) -> str:
    return ensure_demo_staff(settings, sessionmaker, username=DEMO_OFFICER[0], password=DEMO_OFFICER[1],
                             roles=["officer"])


def ensure_demo_admins(settings, sessionmaker) -> list[tuple[str, str, str]]:
    """The two demo admins: [(username, password, app secret)]."""
    return [(name, password, ensure_demo_staff(settings, sessionmaker, username=name, password=password,
                                               roles=["admin"]))
            for name, password in DEMO_ADMINS]


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()
