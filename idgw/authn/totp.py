"""TOTP (RFC 6238: SHA-1, 6 digits, 30 s) and single-use recovery codes.

- Secrets are 160-bit random base32 values, sealed with AES-GCM at rest (key from settings).
- A code is accepted in a ±1 step window (RFC 6238 §5.2) and at most once per time step, across
  sessions: the accepted step is stored and only a later step passes (one conditional UPDATE).
- Enrolment counts only after the first code is confirmed.
- Ten recovery codes, shown once, stored as SHA-256 (they are 50-bit random values, single use,
  throttled with the account; NIST SP 800-63B §5.1.2 look-up secrets).
"""

from __future__ import annotations

import hmac
import secrets
import uuid

import pyotp
import segno
from sqlalchemy import delete, select, update

from idgw import audit
from idgw.authn import AuthnEvent, Challenge
from idgw.security import Sealer, sha256_hex
from idgw.storage.models import Account, AccountAuthenticator, RecoveryCode

STEP = 30
DIGITS = 6
WINDOW = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def totp_code(secret: str, *, step: int) -> str:
    """The code for time step ``step`` (``unix_time // 30``)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).at(step * STEP)


def matching_step(secret: str, code: str, *, now: int, after: int | None) -> int | None:
    """The time step within ±WINDOW of ``now`` whose code equals ``code`` and that is later than
    ``after`` (the last accepted step), else None. Constant-time comparison per candidate."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    current = now // STEP
    found = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        if hmac.compare_digest(totp_code(secret, step=step), code) and (after is None or step > after):
            found = step
    return found


class TOTPAuthenticator:
    kind = "totp"

    def __init__(self, *, sealer: Sealer, issuer_label: str = "idgw") -> None:
        self._sealer = sealer
        self.issuer_label = issuer_label

    def _secret(self, row: AccountAuthenticator) -> str:
        return self._sealer.open(row.secret_sealed, context=f"totp:{row.id}").decode()

    def _confirmed(self, db, account: Account) -> list[AccountAuthenticator]:
        return list(db.scalars(select(AccountAuthenticator).where(
            AccountAuthenticator.account_id == account.id, AccountAuthenticator.kind == self.kind,
            AccountAuthenticator.confirmed_at.is_not(None))))

    def factors(self, db, account, *, without: str | None = None) -> set[str]:
        return {"otp"} if [r for r in self._confirmed(db, account) if r.id != without] else set()

    def begin(self, db, *, account, session, now):
        return Challenge(kind=self.kind, title={"th": "รหัสจากแอปยืนยันตัวตน", "en": "Authenticator app code"},
                         prompt={"th": "เปิดแอปยืนยันตัวตน (เช่น Google Authenticator) แล้วใส่รหัส 6 หลัก",
                                 "en": "Open your authenticator app and enter the 6-digit code."},
                         input_label={"th": "รหัส 6 หลัก", "en": "6-digit code"})

    def verify(self, db, *, account, session, form, now):
        code = str(form.get("code") or "")
        for row in self._confirmed(db, account):
            step = matching_step(self._secret(row), code, now=now, after=row.last_step)
            if step is None:
                continue
            # Accept each step once, whichever session presents it (replay across sessions).
            won = db.execute(update(AccountAuthenticator).where(
                AccountAuthenticator.id == row.id,
                (AccountAuthenticator.last_step.is_(None)) | (AccountAuthenticator.last_step < step),
            ).values(last_step=step, last_used_at=now)).rowcount
            if won:
                return AuthnEvent(kind=self.kind, factor="otp", amr=("otp",), at=now)
        return None

    def code_was_used(self, db, *, account, form, now) -> bool:
        """Whether a refused code is one of this account's app codes that was already accepted
        (each time step counts once): the person is told to wait for the next code, not that it
        is wrong."""
        code = str(form.get("code") or "")
        for row in self._confirmed(db, account):
            step = matching_step(self._secret(row), code, now=now, after=None) if row.last_step is not None else None
            if step is not None and step <= row.last_step:
                return True
        return False

    # -- enrolment -----------------------------------------------------------------------------
    def enrol_begin(self, db, *, account: Account, name: str, now: int) -> tuple[AccountAuthenticator, str]:
        """A new unconfirmed TOTP; returns the row and the secret (shown once, with its QR code).
        One set-up at a time: an earlier unconfirmed one of this account is dropped, so repeated
        starts (a reload, a script) do not pile up rows that nothing ever removes."""
        db.execute(delete(AccountAuthenticator).where(AccountAuthenticator.account_id == account.id,
                                                      AccountAuthenticator.kind == self.kind,
                                                      AccountAuthenticator.confirmed_at.is_(None)))
        secret = pyotp.random_base32(32)
        row = AccountAuthenticator(id=str(uuid.uuid4()), account_id=account.id, kind=self.kind,
                                   name=(name or "TOTP").strip()[:100], created_at=now)
        row.secret_sealed = self._sealer.seal(secret.encode(), context=f"totp:{row.id}")
        db.add(row)
        return row, secret

    def provisioning(self, *, account: Account, secret: str) -> tuple[str, str]:
        """(otpauth URI, QR code as an SVG data URI rendered on the server)."""
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
            name=account.username, issuer_name=self.issuer_label)
        return uri, segno.make(uri, error="m").svg_data_uri(scale=5, border=2)

    def pending_secret(self, db, *, account: Account, authenticator_id: str) -> tuple[AccountAuthenticator, str] | None:
        row = db.get(AccountAuthenticator, authenticator_id)
        if row is None or row.account_id != account.id or row.kind != self.kind or row.confirmed_at is not None:
            return None
        return row, self._secret(row)

    def enrol_confirm(self, db, *, account: Account, authenticator_id: str, code: str, now: int) -> bool:
        pending = self.pending_secret(db, account=account, authenticator_id=authenticator_id)
        if pending is None:
            return False
        row, secret = pending
        step = matching_step(secret, code, now=now, after=None)
        if step is None:
            return False
        row.confirmed_at = now
        row.last_step = step
        return True


class RecoveryCodeAuthenticator:
    kind = "recovery"

    def factors(self, db, account, *, without: str | None = None) -> set[str]:
        unused = db.scalar(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                          RecoveryCode.used_at.is_(None)).limit(1))
        return {"otp"} if unused else set()

    def begin(self, db, *, account, session, now):
        return Challenge(kind=self.kind, title={"th": "รหัสกู้คืน", "en": "Recovery code"},
                         prompt={"th": "ใช้รหัสกู้คืนที่ท่านเก็บไว้ (ใช้ได้ครั้งเดียว)",
                                 "en": "Use one of the recovery codes you saved (each works once)."},
                         input_label={"th": "รหัสกู้คืน", "en": "Recovery code"})

    def verify(self, db, *, account, session, form, now):
        code = normalise_recovery(str(form.get("code") or ""))
        if not code:
            return None
        row = db.scalar(select(RecoveryCode).where(RecoveryCode.account_id == account.id,
                                                    RecoveryCode.code_hash == sha256_hex(code),
                                                    RecoveryCode.used_at.is_(None)))
        if row is None:
            return None
        used = db.execute(update(RecoveryCode).where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
                          .values(used_at=now)).rowcount
        if not used:
            return None
        audit.record(db, "recovery_code.used", at=now, actor=account.id, session_id=session.id if session else None)
        return AuthnEvent(kind=self.kind, factor="otp", amr=("otp",), at=now)


def normalise_recovery(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch in _RECOVERY_ALPHABET)


def new_recovery_codes(db, *, account: Account, now: int) -> list[str]:
    """Replace the account's unused recovery codes with ten new ones; returns them (shown once)."""
    for old in db.scalars(select(RecoveryCode).where(RecoveryCode.account_id == account.id,
                                                      RecoveryCode.used_at.is_(None))):
        db.delete(old)
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.add(RecoveryCode(id=str(uuid.uuid4()), account_id=account.id, code_hash=sha256_hex(raw), created_at=now))
    return codes
