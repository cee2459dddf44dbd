"""A second factor registered through the test fixtures (the real TOTP and WebAuthn
authenticators come with their own issue). Enforcement is the gateway's own: this only
implements the authenticator contract."""

from __future__ import annotations

from idgw.authn import AuthnEvent, Challenge

FIXTURE_CODE = "246810"


class FixtureOTP:
    """Produces factor kind ``factor`` (default ``otp`` -> AAL 2.1 with a password; ``hwk_uv``
    stands in for a passkey where a browser is not the point of the test)."""

    def __init__(self, usernames: set[str], factor: str = "otp") -> None:
        self.usernames = usernames
        self.factor = factor
        self.kind = "fixture-otp" if factor == "otp" else f"fixture-{factor}"

    def factors(self, db, account, *, without=None) -> set[str]:
        return {self.factor} if account.username in self.usernames else set()

    def begin(self, db, *, account, session, now):
        return Challenge(kind=self.kind, title={"th": "รหัสยืนยันทดสอบ", "en": "Test one-time code"},
                         prompt={"th": "ใส่รหัสจากอุปกรณ์ทดสอบ", "en": "Enter the code from the test device"},
                         input_label={"th": "รหัส 6 หลัก", "en": "6-digit code"})

    def verify(self, db, *, account, session, form, now):
        if form.get("code") == FIXTURE_CODE:
            return AuthnEvent(kind=self.kind, factor=self.factor,
                              amr=("otp",) if self.factor == "otp" else ("hwk", "user"), at=now)
        return None


def enable_second_factor(gateway, *usernames: str, factor: str = "otp") -> FixtureOTP:
    kind = "fixture-otp" if factor == "otp" else f"fixture-{factor}"
    try:
        auth = gateway.gw.authenticators.get(kind)
    except KeyError:
        auth = FixtureOTP(set(), factor=factor)
        gateway.gw.authenticators.register(auth)
    auth.usernames.update(usernames)
    return auth
