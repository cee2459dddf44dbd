"""Local password login with throttling (NIST SP 800-63B §5.2.2; OWASP ASVS 5.0 V6.3).

Per username: the first ``throttle_free_attempts`` consecutive failures cost nothing; every
further failure makes the next attempt wait, 2 s after the first of them and doubling up to 15
minutes; at ``max_failed_logins`` consecutive failures (NIST: at most 100) signing in with that
username is locked until an administrator unlocks the account (``idgw user unlock``, or the
admin accounts page). With the defaults (5 and 100): attempts 1 to 6 are each checked at once,
the 6th failure makes the 7th attempt wait 2 s, the 7th failure makes the 8th wait 4 s, and so
on; a correct password resets the count. Per client IP: at most ``ip_max_failures_per_window`` failures per
window, whatever the username, which limits password spraying across many accounts.

What a refused attempt reveals (ASVS 5.0 V6.3.8: valid users cannot be deduced from failed
authentication, by message, status or timing). The answer depends only on the username typed
and the attempts made with it, never on whether an account of that name exists: a username
without an account keeps its own failure count (a ``throttles`` row keyed by a hash of the
name), slowed down and locked on exactly the schedule above. So a locked account and an unknown
username that failed as often answer the same ``locked`` (same status, same text), a slowed-down
one the same ``throttled`` with the same wait, and both kinds of refusal come before the
argon2id check (same timing). The lock text therefore never says "your account is locked": it
says that signing in this way is blocked and that whoever's account is locked, or who cannot
sign in, should contact the help desk (``settings.help_desk``, shown on every page), which is
true for both. We did not choose "answer a locked account like a wrong password, plus a help
hint after N failures from this IP": it hides the lock but not the slow-down, which starts a
few failures earlier and so would still tell an attacker which usernames exist; and it would
hide from the account holder why a correct password no longer works.

The rows of unknown usernames are kept like an account's count is (forgetting them would make
them distinguishable again); at most one row per distinct username tried, and each failure
already writes an audit event, so this adds no new kind of growth.
"""

from __future__ import annotations

import asyncio
import math
import os
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from idgw import audit
from idgw.security import sha256_hex, verify_password
from idgw.settings import Settings
from idgw.storage import raw
from idgw.storage.db import upsert_insert
from idgw.storage.models import Account, Throttle, username_key

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
    key = _ip_key(ip)
    db.execute(upsert_insert(db)(Throttle).values(key=key, failures=0, window_start=now)
               .on_conflict_do_nothing(index_elements=["key"]))
    row = db.scalar(select(Throttle).where(Throttle.key == key).with_for_update()
                    .execution_options(populate_existing=True))
    if now - row.window_start >= settings.ip_window:
        row.failures, row.window_start = 0, now
    return row


def _ip_key(ip: str) -> str:
    return f"ip:{ip}"[:120]


def _name_key(username: str) -> str:
    """The failure counter of a username that has no account (normalised like ``find_account``)."""
    return "name:" + sha256_hex(username_key(username))


def _held_until(failures: int, now: int, settings: Settings) -> int:
    """When the next attempt may be made after ``failures`` consecutive failures (0: at once)."""
    if failures >= settings.max_failed_logins:
        return LOCKED_FOREVER
    if failures > settings.throttle_free_attempts:
        return now + min(2 ** (failures - settings.throttle_free_attempts), _MAX_DELAY)
    return 0


def _waiting(until: int, now: int) -> PasswordOutcome | None:
    if until <= now:
        return None
    if until >= LOCKED_FOREVER:
        return PasswordOutcome(error="locked")
    return PasswordOutcome(error="throttled", retry_after=until - now)


def find_account(db, username: str) -> Account | None:
    """The account a typed username names: compared by ``username_key`` (case-insensitive, NFKC),
    through its unique index; also one the release before migration 0011 created during a rolling
    upgrade, which is given its key (``_account_row``, the sign-in's own lookup)."""
    db.flush()  # the lookup does not go through the ORM: let it see what the session holds
    row = _account_row(db.connection(), username)
    return db.get(Account, row.id, populate_existing=True) if row is not None else None


@dataclass(frozen=True)
class PasswordCheck:
    """What the first, short transaction of a password sign-in found."""

    refusal: PasswordOutcome | None
    account_id: str | None = None
    password_hash: str | None = None
    name_key: str | None = None  # the username's own counter when it has no account


# What precheck reads, on the driver's cursor (every password sign-in runs them; idgw.storage.raw):
# they were half of the CPU of the sign-in's first transaction through the ORM.
_COUNTER = raw.Statement('SELECT failures, window_start FROM throttles WHERE "key" = :p_key',
                         columns=("failures", "window_start"))
_ACCOUNT_COLUMNS = "SELECT id, password_hash, locked_until FROM accounts WHERE "
_ACCOUNT_BY_KEY = raw.Statement(_ACCOUNT_COLUMNS + "username_key = :p_key",
                                columns=("id", "password_hash", "locked_until"))
_ACCOUNT_WITHOUT_KEY = raw.Statement(_ACCOUNT_COLUMNS + "username_key IS NULL AND lower(username) = :p_lower",
                                     columns=("id", "password_hash", "locked_until"))
_SET_KEY = raw.Statement("UPDATE accounts SET username_key = :p_key WHERE id = :p_id AND username_key IS NULL")


def _account_row(conn, username: str):
    """(id, password_hash, locked_until) of the account ``username`` names, as ``find_account``
    finds it (and keys one the release before migration 0011 created)."""
    key = username_key(username)
    row = raw.first(conn, _ACCOUNT_BY_KEY, {"p_key": key})
    if row is None:
        row = raw.first(conn, _ACCOUNT_WITHOUT_KEY, {"p_lower": username.strip().lower()})
        if row is not None:
            raw.execute(conn, _SET_KEY, {"p_key": key, "p_id": row.id})
    return row


def precheck(db, *, username: str, ip: str, now: int, settings: Settings) -> PasswordCheck:
    """Throttles and the stored hash, read in a short transaction (reads only: the counters
    change in ``settle``, under their row locks). The argon2id verification (~20 ms of CPU) then
    runs with no transaction open, so it holds neither SQLite's write lock nor a pooled
    connection; ``settle`` records the outcome in a second short transaction."""
    db.flush()  # the statements below do not go through the ORM: let them see what it holds
    conn = db.connection()
    ip_row = raw.first(conn, _COUNTER, {"p_key": _ip_key(ip)})
    # A window that is over counts as empty (settle starts the next one at the next failure).
    if ip_row is not None and now - ip_row.window_start < settings.ip_window \
            and ip_row.failures >= settings.ip_max_failures_per_window:
        return PasswordCheck(PasswordOutcome(error="throttled",
                                             retry_after=ip_row.window_start + settings.ip_window - now))
    account = _account_row(conn, username) if 0 < len(username) <= 200 else None
    if account is not None:
        if (held := _waiting(account.locked_until, now)) is not None:
            return PasswordCheck(held)
        return PasswordCheck(None, account.id, account.password_hash)
    # No such account: the same schedule on the name's own counter (module docstring).
    key = _name_key(username)
    row = raw.first(conn, _COUNTER, {"p_key": key})
    if row is not None and (held := _waiting(row.window_start, now)) is not None:
        return PasswordCheck(held)
    return PasswordCheck(None, name_key=key)


def check_password(check: PasswordCheck, password: str) -> bool:
    """Always one argon2id verification, also for unknown accounts (timing, ASVS V6.3.8)."""
    return verify_password(check.password_hash, password[:1024])


CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cores(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """The cores this process may use: its CPU affinity, capped by the cgroup v2 CPU quotas of its
    cgroup and every cgroup above it (``cpu.max``, e.g. ``200000 100000`` for a container run with
    --cpus 2, or a systemd unit's CPUQuota=200%), which the affinity does not show. cgroup v1
    quotas are not read: set ``IDGW_HASH_THREADS`` there."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for cpu_max in _cpu_max_files(root, proc_cgroup):
        try:
            quota, period = cpu_max.read_text().split()[:2]
            if quota != "max":
                cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
        except (OSError, ValueError):
            continue  # not there (the root has none), or unreadable
    return cores


def _cpu_max_files(root: Path, proc_cgroup: Path) -> list[Path]:
    """``cpu.max`` of this process's cgroup v2 (the ``0::`` line; ``/`` inside a container's own
    cgroup namespace) and of each cgroup above it."""
    try:
        path = next((line[3:] for line in proc_cgroup.read_text().splitlines() if line.startswith("0::")), "/")
    except OSError:
        path = "/"
    here = root.joinpath(*[part for part in path.split("/") if part not in ("", ".", "..")])
    return [folder / "cpu.max" for folder in (here, *here.parents) if folder == root or root in folder.parents]


def hashing_executor(threads: int = 0) -> ThreadPoolExecutor:
    """The threads argon2id runs on (``IDGW_HASH_THREADS``; 0: ``usable_cores``): every password
    check and every new password's hash (``on_hashing_threads``). Not the shared pool of 40: a burst
    of sign-ins ran that many 19 MiB verifications at once there, time-sliced on the cores (16 at
    once peaked at 329 MiB against 62 MiB on two threads), and each thread's allocator faulted its
    19 MiB in anew (~4,700 page faults a verification)."""
    return ThreadPoolExecutor(max_workers=threads or usable_cores(), thread_name_prefix="argon2id")


async def on_hashing_threads(hashing: Executor, fn, *args):
    """``fn(*args)`` (an argon2id check or hash) on the ``hashing`` threads, the event loop going on
    meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(hashing, fn, *args)


def settle(db, *, check: PasswordCheck, ok: bool, ip: str, now: int, settings: Settings,
           client_id: str | None = None) -> PasswordOutcome:
    """Record the verification's outcome (re-reading the rows: other sign-ins may have run).
    The account row is read under a lock, like the IP and name counters: failures settled at the
    same time must each count, or parallel guesses would reach the lock later than the schedule
    says (and later than an unknown name's locked counter, which would tell the two apart)."""
    account = db.get(Account, check.account_id, with_for_update=True, populate_existing=True) \
        if check.account_id else None
    if ok and account is not None:
        if (locked := locked_outcome(account, now)) is not None:
            return locked  # locked by concurrent failures meanwhile
        account.failed_logins = 0
        account.locked_until = 0
        return PasswordOutcome(account=account)
    _ip_throttle(db, ip=ip, now=now, settings=settings).failures += 1
    if account is None and check.name_key is not None:
        _count_name_failure(db, key=check.name_key, now=now, settings=settings)
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


def _count_name_failure(db, *, key: str, now: int, settings: Settings) -> None:
    """One more failure for a username without an account; for a name row ``window_start`` holds
    when it may be tried again (like ``Account.locked_until``). Created race-free like the IP row."""
    db.execute(upsert_insert(db)(Throttle).values(key=key, failures=0, window_start=0)
               .on_conflict_do_nothing(index_elements=["key"]))
    row = db.scalar(select(Throttle).where(Throttle.key == key).with_for_update()
                    .execution_options(populate_existing=True))
    row.failures += 1
    row.window_start = _held_until(row.failures, now, settings)


def locked_outcome(account: Account, now: int) -> PasswordOutcome | None:
    """The refusal for an account that must wait or is locked, else None."""
    return _waiting(account.locked_until, now)


def record_failure(db, *, account: Account | None, ip: str | None, now: int, settings: Settings,
                   client_id: str | None = None, reason: str, event: str = "login.failed", **detail) -> None:
    """One failed attempt (password or any other factor) against the account's consecutive
    failure count: slow-down after the free attempts, lock at the maximum; audited."""
    if account is not None:
        account.failed_logins += 1
        n = account.failed_logins
        account.locked_until = _held_until(n, now, settings)
        if n >= settings.max_failed_logins:
            audit.record(db, "account.locked", at=now, actor=account.id, ip=ip, failures=n)
    audit.record(db, event, at=now, actor=account.id if account else None, ip=ip,
                 client_id=client_id, reason=reason, **detail)
