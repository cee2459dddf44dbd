"""A database with an audit log and signing keys, without a gateway: events are written the way
the gateway writes them (``idgw.audit.record`` in a session, appended at commit)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from sqlalchemy import select, text
from typer.testing import CliRunner

from idgw import audit
from idgw.audit import chain
from idgw.audit.checkpoints import sign_heads
from idgw.clock import Clock
from idgw.oidc.keys import KeyStore, every_public_key
from idgw.security import Sealer, derive_key
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import AuditEvent
from tests.conftest import migrated

SECRET = "audit-test-secret-key-0123456789abcdef0123"
ISSUER = "https://idgw.example.go.th"


@dataclass
class World:
    url: str
    sessionmaker: object
    keys: KeyStore

    def db(self):
        return self.sessionmaker()

    def write(self, n: int, *, at: int = 1_800_000_000, per_transaction: int = 1, name: str = "login.failed") -> None:
        for i in range(0, n, per_transaction):
            with self.db() as db:
                for j in range(min(per_transaction, n - i)):
                    audit.record(db, name, at=at + i + j, actor=f"user{i + j}", ip="192.0.2.7",
                                 reason="bad_password", attempt=i + j)
                db.commit()

    def rows(self, chain_name: str = "0") -> list[AuditEvent]:
        with self.db() as db:
            return list(db.scalars(select(AuditEvent).where(AuditEvent.chain == chain_name).order_by(AuditEvent.seq)))

    def sql(self, statement: str, **params) -> None:
        with self.db() as db:
            db.execute(text(statement), params)
            db.commit()

    def checkpoint(self, now: int = 1_800_000_500) -> None:
        with self.db() as db:
            sign_heads(db, self.keys.signer("ES256"), issuer=ISSUER, now=now)
            db.commit()

    def jwks(self) -> dict:
        with self.db() as db:
            return every_public_key(db)


def make_world(database_url: str) -> World:
    migrated(database_url)
    sm = make_sessionmaker(make_engine(database_url))
    keys = KeyStore(sessionmaker=sm, sealer=Sealer(derive_key(SECRET, "jwk-at-rest")), clock=Clock(),
                    max_token_ttl=600)
    with sm() as db:
        keys.ensure(db)
        db.commit()
    keys.refresh(force=True)
    return World(database_url, sm, keys)


def one_chain(monkeypatch) -> None:
    """Every event in chain "0" (the gateway spreads writers over several chains)."""
    monkeypatch.setattr(chain, "CHAINS", 1)


def idgw(database_url: str, *args: str):
    """Run the ``idgw`` command in this process, with the environment a shell would give it."""
    from idgw.cli import app

    env = {k: None for k in os.environ if k.startswith("IDGW_")}
    env.update(IDGW_DATABASE_URL=database_url, IDGW_SECRET_KEY=SECRET, IDGW_ISSUER=ISSUER, IDGW_DEV="1")
    return CliRunner().invoke(app, list(args), env=env)


def report_of(result) -> dict:
    return json.loads(result.stdout)
