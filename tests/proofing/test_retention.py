"""Evidence retention and the case record: `idgw proofing purge` deletes sealed images past their
retention (audited, noted in the record, hashes kept), `idgw proofing verify` finds a changed,
removed or reordered entry. Real database, the CLI as an operator runs it."""

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import select, update

from idgw.admin import add_user
from idgw.proofing import cases, media_store, record
from idgw.proofing.runtime import ProofingRuntime
from idgw.settings import Settings
from idgw.storage.db import make_engine, make_sessionmaker, upgrade
from idgw.storage.models import AuditEvent
from idgw.storage.proofing import ProofingEvent, ProofingMedia

DAY = 86400
CARD = {"citizen_id": "1345951597671", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
        "given_name_en": "Somchai", "family_name_en": "Jaidee", "birthdate": "1985-03-14"}


@pytest.fixture
def db_url(database_url):
    upgrade(database_url)
    return database_url


def _case(db, now):
    account = add_user(db, username="citizen1", password="a-long-password-123", now=now)
    consent = cases.give_consent(db, account_id=account.id, retention_days=90, now=now)
    db.flush()
    return cases.open_case(db, account_id=account.id, session_id="s1", interaction_id=None, client_id=None,
                           need_ial="2.2", grant_ial="2.2", consent_id=consent.id, card=dict(CARD),
                           card_check={"status": "valid", "reference": "T1", "checked_at": now}, now=now)


def _cli(db_url, *args):
    env = {**os.environ, "IDGW_DATABASE_URL": db_url, "IDGW_DEV": "1"}
    return subprocess.run([sys.executable, "-m", "idgw", "proofing", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def test_purge_deletes_expired_media_only_and_keeps_hashes(db_url):
    settings = Settings.from_env({}, dev=True, database_url=db_url, secret_key="k" * 40)
    sealer = ProofingRuntime.build(settings).sealer
    sm = make_sessionmaker(make_engine(db_url))
    now = 1_790_000_000
    with sm() as db:
        case = _case(db, now - 100 * DAY)
        old = media_store.keep(db, sealer, case_id=case.id, kind="frame", content=b"old-frame", media_type="image/jpeg",
                               now=now - 100 * DAY, retention_days=90)
        new = media_store.keep(db, sealer, case_id=case.id, kind="frame", content=b"new-frame", media_type="image/jpeg",
                               now=int(time.time()), retention_days=90)
        assert b"old-frame" not in old.sealed.encode() and media_store.read(sealer, old) == b"old-frame"
        db.commit()
        case_id, old_id, new_id, old_hash = case.id, old.id, new.id, old.sha256
    done = _cli(db_url, "purge")
    assert done.returncode == 0 and "purged 1 image" in done.stdout, done.stderr
    with sm() as db:
        gone, kept = db.get(ProofingMedia, old_id), db.get(ProofingMedia, new_id)
        assert gone.sealed is None and gone.deleted_at and gone.sha256 == old_hash
        assert media_store.read(sealer, kept) == b"new-frame"
        audit = db.scalars(select(AuditEvent).where(AuditEvent.name == "proofing.purged")).all()
        assert [a.detail["media"] for a in audit] == [old_id]
        assert record.entries(db, case_id)[-1].kind == "media_purged"
        assert record.verify(db, case_id) == []
    assert "purged 0 image" in _cli(db_url, "purge").stdout


def test_verify_finds_a_changed_or_removed_entry(db_url):
    sm = make_sessionmaker(make_engine(db_url))
    now = 1_790_000_000
    with sm() as db:
        case = _case(db, now)
        cases.join_queue(db, case, now=now + 5)
        db.commit()
        case_id = case.id
    ok = _cli(db_url, "verify", case_id)
    assert ok.returncode == 0 and "2 entries, chain intact" in ok.stdout, ok.stderr
    with sm() as db:
        db.execute(update(ProofingEvent).where(ProofingEvent.case_id == case_id, ProofingEvent.seq == 1)
                   .values(data={"need_ial": "1.1"}))
        db.commit()
    changed = _cli(db_url, "verify", case_id)
    assert changed.returncode == 1 and "entry 1 was changed" in changed.stderr
    with sm() as db:
        db.delete(db.scalars(select(ProofingEvent).where(ProofingEvent.case_id == case_id,
                                                         ProofingEvent.seq == 1)).one())
        db.commit()
    removed = _cli(db_url, "verify", case_id)
    assert removed.returncode == 1 and "missing" in removed.stderr
    assert _cli(db_url, "verify", "no-such-case").returncode == 2
