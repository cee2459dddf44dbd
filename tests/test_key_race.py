"""Instances started together on a new database each make sure signing keys exist
(KeyStore.ensure), and two admins may rotate at once: either way one key set must come out, or
the instances would sign with keys the others do not publish."""

import threading

from sqlalchemy import func, select

from idgw.clock import Clock
from idgw.oidc.keys import KeyStore
from idgw.security import Sealer, derive_key
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import SigningKey
from tests.conftest import migrated

SECRET = "key-race-secret-0123456789abcdef0123456789"


def _stores(url: str, n: int):
    engine = make_engine(url)
    sm = make_sessionmaker(engine)
    return engine, sm, [KeyStore(sessionmaker=sm, sealer=Sealer(derive_key(SECRET, "jwk-at-rest")), clock=Clock(),
                                 max_token_ttl=600) for _ in range(n)]


def _at_once(sm, stores, work):
    barrier, errors = threading.Barrier(len(stores)), []

    def run(store):
        try:
            with sm() as db:
                barrier.wait()
                work(store, db)
                db.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def _active(sm) -> dict:
    with sm() as db:
        return dict(db.execute(select(SigningKey.kty, func.count()).where(SigningKey.retired_at.is_(None))
                               .group_by(SigningKey.kty)).all())


def test_instances_starting_together_make_one_key_set(database_url):
    migrated(database_url)
    engine, sm, stores = _stores(database_url, 4)
    try:
        for _ in range(3):
            with sm() as db:  # a new database each round: no key at all
                db.query(SigningKey).delete()
                db.commit()
            _at_once(sm, stores, lambda store, db: store.ensure(db))
            assert _active(sm) == {"EC": 1, "RSA": 1}
    finally:
        engine.dispose()


def test_two_rotations_at_once_leave_one_active_set(database_url):
    migrated(database_url)
    engine, sm, stores = _stores(database_url, 2)
    try:
        with sm() as db:
            stores[0].ensure(db)
            db.commit()
        for _ in range(3):
            _at_once(sm, stores, lambda store, db: store.rotate(db, actor="test"))
            assert _active(sm) == {"EC": 1, "RSA": 1}
    finally:
        engine.dispose()
