"""The account pages' decisions as plain functions: who proves control of the account (each
combination of factors), what may be taken away (the only way in), the password rules, and the
words for devices, levels and lifetimes."""

from types import SimpleNamespace

import pytest

from idgw.account.access import FRESH_SECONDS, needed_aal, reach_of, shortfall, signin_url
from idgw.account.routes import password_problem
from idgw.account.rules import takes_last_way_in, ways_in
from idgw.account.words import aal_words, browser_and_system, device_words, duration_words
from policies import AAL


def session_aal(*kinds):
    return reach_of(set(kinds))


# (the account's factor kinds, has a password, the session's factor kinds or an upstream AAL, expected gap)
COMBINATIONS = [
    # password only: the password is enough
    ({"pwd"}, True, ("pwd",), None),
    # password + authenticator app: the password alone is not; with the app, or a recovery code, it is
    ({"pwd", "otp"}, True, ("pwd",), "2.1"),
    ({"pwd", "otp"}, True, ("pwd", "otp"), None),
    # password + passkey, passkey lost: password + a recovery code (otp) proves control...
    ({"pwd", "hwk_uv", "otp"}, True, ("pwd", "otp"), None),
    # ...and so does the passkey alone; the password alone does not
    ({"pwd", "hwk_uv", "otp"}, True, ("hwk_uv",), None),
    ({"pwd", "hwk_uv", "otp"}, True, ("pwd",), "2.1"),
    # a certified key reaches AAL 3, but the page still asks no more than two-step sign-in
    ({"pwd", "hwk_uv", "hwk_uv_attested"}, True, ("pwd", "otp"), None),
    # a passkey-only account (no password)
    ({"hwk_uv"}, False, ("hwk_uv",), None),
]


@pytest.mark.parametrize("account_kinds,has_password,session_kinds,gap", COMBINATIONS)
def test_each_combination_of_factors_that_proves_control(account_kinds, has_password, session_kinds, gap):
    found = shortfall(reach=reach_of(account_kinds), has_password=has_password,
                      session_aal=session_aal(*session_kinds), upstream=False, age=0, fresh=True)
    assert found == (AAL(gap) if gap else None)


def test_an_upstream_sign_in_proves_control_of_an_account_without_a_password():
    # ThaiD-only: nothing local, so AAL 1 is asked and any upstream session has it
    assert needed_aal(reach_of(set())) == AAL("1")
    assert shortfall(reach=reach_of(set()), has_password=False, session_aal=AAL("1"), upstream=True, age=0,
                     fresh=False) is None
    # a ThaiD account that added a passkey and lost it: the upstream still proves control, at any level
    assert shortfall(reach=AAL("2.2"), has_password=False, session_aal=AAL("1"), upstream=True, age=0,
                     fresh=True) is None
    # with a password the upstream counts only at the level it asserted
    assert shortfall(reach=AAL("2.1"), has_password=True, session_aal=AAL("1"), upstream=True, age=0,
                     fresh=False) == AAL("2.1")
    assert shortfall(reach=AAL("2.1"), has_password=True, session_aal=AAL("2.2"), upstream=True, age=0,
                     fresh=False) is None
    # a change needs a fresh sign-in: without a password, a new one through the upstream will do
    # (AAL 1: the sign-in page), not the level of the passkey the person may have lost; with one,
    # the account's level as before
    assert shortfall(reach=AAL("2.2"), has_password=False, session_aal=AAL("1"), upstream=True,
                     age=FRESH_SECONDS + 1, fresh=True) == AAL("1")
    assert shortfall(reach=AAL("2.1"), has_password=True, session_aal=AAL("2.2"), upstream=True,
                     age=FRESH_SECONDS + 1, fresh=True) == AAL("2.1")


def test_changes_need_a_fresh_sign_in_whatever_proved_control():
    for upstream, has_password, aal in ((False, True, "2.2"), (True, False, "1")):
        kw = dict(reach=AAL("2.1") if has_password else AAL("1"), has_password=has_password, session_aal=AAL(aal),
                  upstream=upstream)
        assert shortfall(**kw, age=FRESH_SECONDS, fresh=True) is None
        assert shortfall(**kw, age=FRESH_SECONDS + 1, fresh=True) == needed_aal(kw["reach"])
        assert shortfall(**kw, age=FRESH_SECONDS + 1, fresh=False) is None  # viewing is not a change


def test_the_page_asks_at_most_two_step_sign_in():
    assert [needed_aal(AAL(v)).value for v in ("1", "2.1", "2.2", "3")] == ["1", "2.1", "2.1", "2.1"]
    assert signin_url("/account/export.json", AAL("2.1")) == "/signin?next=/account/export.json&aal=2.1"
    assert signin_url("/account/services/a b/withdraw", AAL("1")).startswith("/signin?next=/account/services/a%20b/")


def _passkey(pid, *, discoverable=True, flagged=False, confirmed=True):
    return SimpleNamespace(id=pid, kind="webauthn", discoverable=discoverable, flagged_at=1 if flagged else None,
                           confirmed_at=1 if confirmed else None)


def test_the_only_way_in_is_never_taken_away():
    link = SimpleNamespace(id="l1")
    # an upstream-only account: its one link is the only way in
    ways = ways_in(has_password=False, passkeys=[], links=[link])
    assert takes_last_way_in(ways, "link:l1")
    # ...a discoverable passkey is another way in, so either may go (not both)
    ways = ways_in(has_password=False, passkeys=[_passkey("p1")], links=[link])
    assert not takes_last_way_in(ways, "link:l1") and not takes_last_way_in(ways, "passkey:p1")
    # a passkey that cannot start a sign-in on its own (not discoverable, blocked, unconfirmed) is no way in
    for p in (_passkey("p1", discoverable=False), _passkey("p1", flagged=True), _passkey("p1", confirmed=False)):
        assert takes_last_way_in(ways_in(has_password=False, passkeys=[p], links=[link]), "link:l1")
    # the only discoverable passkey of an account without a password or links
    assert takes_last_way_in(ways_in(has_password=False, passkeys=[_passkey("p1")], links=[]), "passkey:p1")
    # with a password, anything else may go
    ways = ways_in(has_password=True, passkeys=[_passkey("p1")], links=[link])
    assert not takes_last_way_in(ways, "passkey:p1") and not takes_last_way_in(ways, "link:l1")
    # something that is not a way in (an authenticator app) is never "the last"
    assert not takes_last_way_in(ways_in(has_password=False, passkeys=[], links=[link]), "passkey:totp-row")


def test_password_rules():
    alone, with_factor = dict(username="somsri", only_factor=True), dict(username="somsri", only_factor=False)
    assert password_problem("x" * 14, "x" * 14, **alone) == ("account_password_short", {"min": 15})
    assert password_problem("x" * 15, "x" * 15, **alone) is None
    assert password_problem("x" * 8, "x" * 8, **with_factor) is None
    assert password_problem("x" * 7, "x" * 7, **with_factor) == ("account_password_short", {"min": 8})
    assert password_problem("x" * 1025, "x" * 1025, **with_factor) == ("account_password_long", {})
    assert password_problem("a long phrase here", "a long phrase herE", **alone) == ("account_password_mismatch", {})
    long_name = dict(username="somsri.rakthai@mail", only_factor=True)
    assert password_problem("Somsri.Rakthai@mail", "Somsri.Rakthai@mail", **long_name) == \
        ("account_password_username", {})


UAS = [
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile "
     "Safari/537.36", ("Chrome", "Android")),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 "
     "Chrome/117.0.0.0 Mobile Safari/537.36", ("Samsung Internet", "Android")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.4 Mobile/15E148 Safari/604.1", ("Safari", "iPhone")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1", ("Chrome", "iPhone")),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
     "Line/14.5.0", ("LINE", "iPhone")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36 Edg/124.0.2478.80", ("Edge", "Windows")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", ("Firefox", "Windows")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 "
     "Safari/605.1.15", ("Safari", "macOS")),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 "
     "Safari/537.36", ("Chrome", "Linux")),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36", ("Chrome", "ChromeOS")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
     "Safari/537.36 OPR/109.0.0.0", ("Opera", "Windows")),
    ("python-httpx/0.27.0", (None, None)),
    (None, (None, None)),
]


@pytest.mark.parametrize("ua,expected", UAS)
def test_user_agent_in_words(ua, expected):
    assert browser_and_system(ua) == expected


def test_device_words_in_both_languages():
    android = UAS[0][0]
    assert device_words(android, "en") == "Chrome on Android"
    assert device_words(android, "th") == "Chrome บน Android"
    assert device_words("python-httpx/0.27.0", "en") == "Unknown browser"
    assert device_words("python-httpx/0.27.0", "th") == "เบราว์เซอร์ที่ไม่รู้จัก"
    assert device_words("Mozilla/5.0 (Windows NT 10.0) Unknown/1.0", "en") == "Windows"


def test_levels_and_lifetimes_in_words():
    assert aal_words("2.2", "en") == "strong sign-in with a passkey (resists fake websites) (AAL 2.2)"
    assert aal_words("2.1", "th").startswith("เข้าสู่ระบบสองขั้นตอน")
    assert duration_words(30 * 86400, "en") == "30 days" and duration_words(30 * 86400, "th") == "30 วัน"
    assert duration_words(600, "en") == "10 minutes" and duration_words(3600, "en") == "1 hour"
    assert duration_words(86400, "th") == "1 วัน" and duration_words(90, "en") == "90 seconds"
    assert duration_words(1, "en") == "1 second" and duration_words(25 * 3600, "en") == "25 hours"


def test_data_in_words_follows_the_consent_page_order():
    from idgw.account.consents import data_words

    words = data_words(scope="offline_access citizen_id email openid profile",
                       release=("userinfo/citizen_id", "userinfo/email", "userinfo/name",
                                "id_token/verified_claims.th_given_name"), locale="en")
    assert words == ["An identifier for you at this service", "Your name", "Your e-mail address",
                     "Your 13-digit citizen ID number", "Access while you are away (refresh token)",
                     "Given name (Thai) (verified)"]
    # a scope whose claims were not released (no legal basis for the citizen ID) is not listed
    assert "Your 13-digit citizen ID number" not in data_words(scope="openid citizen_id", release=(), locale="en")
