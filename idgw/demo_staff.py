"""The demo's officer (``make run``): a password account with the ``officer`` role and an
authenticator app already set up, so the officer console (AAL 2.2) can be tried at once. Its app
secret is written to ``var/demo-officer-totp`` (dev only) and printed in the demo's banner: add it
to an authenticator app, or print the current code with ``idgw demo-code``."""

from __future__ import annotations

import time
from pathlib import Path

import pyotp

DEMO_OFFICER = ("officer", "demo-officer-password-1234")
SECRET_FILE = Path("var/demo-officer-totp")


def ensure_demo_officer(settings, sessionmaker) -> str:
    """Create the demo officer once; returns its app secret (base32)."""
    from idgw.admin import add_user
    from idgw.authn.totp import TOTPAuthenticator
    from idgw.login.password import find_account
    from idgw.security import Sealer, derive_key

    with sessionmaker() as db:
        if find_account(db, DEMO_OFFICER[0]) is not None and SECRET_FILE.exists():
            return SECRET_FILE.read_text().strip()
        now = int(time.time())
        account = find_account(db, DEMO_OFFICER[0]) or add_user(
            db, username=DEMO_OFFICER[0], password=DEMO_OFFICER[1], now=now, given_name="Demo", family_name="Officer",
            given_name_th="เจ้าหน้าที่", family_name_th="ทดลอง", roles=["officer"], actor="demo")
        db.flush()
        totp = TOTPAuthenticator(sealer=Sealer(derive_key(settings.secret_key, "totp-at-rest")))
        row, secret = totp.enrol_begin(db, account=account, name="Demo app", now=now)
        db.flush()
        if not totp.enrol_confirm(db, account=account, authenticator_id=row.id, code=pyotp.TOTP(secret).now(),
                                  now=now):
            raise RuntimeError("the demo officer's app could not be set up")
        db.commit()
    SECRET_FILE.parent.mkdir(parents=True, exist_ok=True)
    SECRET_FILE.write_text(secret)
    SECRET_FILE.chmod(0o600)
    return secret


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()
