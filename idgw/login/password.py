"""Local password login with throttling (NIST SP 800-63B §5.2.2; OWASP ASVS 5.0 V6.3).

Per account: the first ``throttle_free_attempts`` consecutive failures cost nothing, then each
further failure doubles a waiting time (capped at 15 minutes); at ``max_failed_logins``
consecutive failures (NIST: at most 100) the account is locked until an administrator unlocks it.
Per client IP: at most ``ip_max_failures_per_window`` failures per window, whatever the account,
which limits password spraying across many accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from idgw import audit
from idgw.security import verify_password
from idgw.settings import Settings
from idgw.storage.db import upsert_insert
from idgw.storage.models import Account, Throttle

LOCKED_FOREVER = 2**62
_MAX_DELAY = 15 * 60


@dataclass(frozen=True)
class PasswordOutcome:
    account: Account | None = None
    error: str | None = None  # invalid_credentials | throttled | locked
    retry_after: int = 0


def _ip_throttle(db, *, ip: str, now: int, settings: Settings) -> Throttle:
    """This IP's failure counter, created once even when two first failures race (INSERT ... ON
    CONFLICT DO NOTHING, then the row under a lock: a read-then-insert was a unique-key 500 on
    PostgreSQL)."""
    key = f"ip:{ip}"[:120]
    db.execute(upsert_insert(db)(Throttle).values(key=key, failures=0, window_start=now)
               .on_conflict_do_nothing(index_elements=["key"]))
    row = db.scalar(select(Throttle).where(Throttle.key == key).with_for_update()
                    .execution_options(populate_existing=True))
    if now - row.window_start >= settings.ip_window:
        row.failures, row.window_start = 0, now
    return row


def find_account(db, username: str) -> Account | None:
    # Usernames compare case-insensitively; normalise once here.
    return db.scalar(select(Account).where(func.lower(Account.username) == username.strip().lower()))


@dataclass(frozen=True)
class PasswordCheck:
    """What the first, short transaction of a password sign-in found."""

    refusal: PasswordOutcome | None
    account_id: str | None = None
    password_hash: str | None = None


def precheck(db, *, username: str, ip: str, now: int, settings: Settings) -> PasswordCheck:
    """Throttles and the stored hash, read in a short transaction. The argon2id verification
    (~25 ms of CPU) then runs with no transaction open, so it holds neither SQLite's write lock
    nor a pooled connection; ``settle`` records the outcome in a second short transaction."""
    ip_row = _ip_throttle(db, ip=ip, now=now, settings=settings)
    if ip_row.failures >= settings.ip_max_failures_per_window:
        return PasswordCheck(PasswordOutcome(error="throttled",
                                             retry_after=ip_row.window_start + settings.ip_window - now))
    account = find_account(db, username) if 0 < len(username) <= 200 else None
    if account is not None and (locked := locked_outcome(account, now)) is not None:
        return PasswordCheck(locked)
    return PasswordCheck(None, account.id if account else None, account.password_hash if account else None)


def check_password(check: PasswordCheck, password: str) -> bool:
    """Always one argon2id verification, also for unknown accounts (timing, ASVS V6.3.8)."""
    return verify_password(check.password_hash, password[:1024])


def settle(db, *, check: PasswordCheck, ok: bool, ip: str, now: int, settings: Settings,
           client_id: str | None = None) -> PasswordOutcome:
    """Record the verification's outcome (re-reading the rows: other sign-ins may have run)."""
    account = db.get(Account, check.account_id) if check.account_id else None
    if ok and account is not None:
        if (locked := locked_outcome(account, now)) is not None:
            return locked  # locked by concurrent failures meanwhile
        account.failed_logins = 0
        account.locked_until = 0
        return PasswordOutcome(account=account)
    _ip_throttle(db, ip=ip, now=now, settings=settings).failures += 1
    record_failure(db, account=account, ip=ip, now=now, settings=settings, client_id=client_id,
                   reason="invalid_credentials")
    return PasswordOutcome(error="invalid_credentials")


def authenticate_password(db, *, username: str, password: str, ip: str, now: int, settings: Settings,
                          client_id: str | None = None) -> PasswordOutcome:
    """All three steps in the caller's transaction (for callers that hold no lock, e.g. tests)."""
    check = precheck(db, username=username, ip=ip, now=now, settings=settings)
    if check.refusal is not None:
        return check.refusal
    return settle(db, check=check, ok=check_password(check, password), ip=ip, now=now, settings=settings,
                  client_id=client_id)


def locked_outcome(account: Account, now: int) -> PasswordOutcome | None:
    """The refusal for an account that must wait or is locked, else None."""
    if account.locked_until <= now:
        return None
    if account.locked_until >= LOCKED_FOREVER:
        return PasswordOutcome(error="locked")
    return PasswordOutcome(error="throttled", retry_after=account.locked_until - now)


def record_failure(db, *, account: Account | None, ip: str | None, now: int, settings: Settings,
                   client_id: str | None = None, reason: str, event: str = "login.failed", **detail) -> None:
    """One failed attempt (password or any other factor) against the account's consecutive
    failure count: slow-down after the free attempts, lock at the maximum; audited."""
    if account is not None:
        account.failed_logins += 1
        n = account.failed_logins
        if n >= settings.max_failed_logins:
            account.locked_until = LOCKED_FOREVER
            audit.record(db, "account.locked", at=now, actor=account.id, ip=ip, failures=n)
        elif n > settings.throttle_free_attempts:
            account.locked_until = now + min(2 ** (n - settings.throttle_free_attempts), _MAX_DELAY)
    audit.record(db, event, at=now, actor=account.id if account else None, ip=ip,
                 client_id=client_id, reason=reason, **detail)
