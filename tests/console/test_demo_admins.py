"""`make run` gives the admin console two demo admins (a four-eyes change needs a second one),
each with an authenticator app set up once; `idgw proofing officer-code --who NAME` prints the
current code of any demo staff account."""

from __future__ import annotations

import os

import pyotp
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from idgw.demo_staff import DEMO_ADMINS, ensure_demo_admins, ensure_demo_officer
from idgw.settings import Settings
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import Account, AccountAuthenticator
from tests.conftest import migrated

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_two_demo_admins_with_an_app_each_made_once(database_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    migrated(database_url)
    settings = Settings(database_url=database_url, dev=True)
    sm = make_sessionmaker(make_engine(database_url))
    first = ensure_demo_admins(settings, sm)
    ensure_demo_officer(settings, sm)
    assert ensure_demo_admins(settings, sm) == first  # idempotent: the same secrets
    assert [name for name, _pw, _secret in first] == [name for name, _pw in DEMO_ADMINS]
    with sm() as db:
        for name, _pw, _secret in first:
            account = db.scalar(select(Account).where(Account.username == name))
            assert account.roles == ["admin"]
            kinds = db.scalars(select(AccountAuthenticator.kind).where(AccountAuthenticator.account_id == account.id))
            assert "totp" in list(kinds)
    assert oct((tmp_path / "var" / "demo-admin.malee-totp").stat().st_mode & 0o777) == "0o600"
    from idgw.cli import app

    env = {k: None for k in os.environ if k.startswith("IDGW_")}
    ran = CliRunner().invoke(app, ["proofing", "officer-code", "--who", "admin.malee"], env=env)
    assert ran.exit_code == 0 and pyotp.TOTP(first[1][2]).verify(ran.stdout.strip(), valid_window=1)
    ran = CliRunner().invoke(app, ["proofing", "officer-code", "--who", "nobody"], env=env)
    assert ran.exit_code == 2 and "no demo staff account 'nobody'" in ran.output
