"""What a refused password sign-in answers (issue 12): the slow-down's boundaries as the README
states them, waits worded with the right number, and no way to tell a locked (or slowed-down)
account from a username that has no account (idgw/login/password.py explains the choice)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from idgw.login.password import LOCKED_FOREVER, authenticate_password, check_password, precheck, settle
from idgw.settings import Settings
from idgw.storage.models import Account, AuditEvent
from idgw.web.refusals import refusal_text, wait_words
from tests.flow import PASSWORD, Browser, authorize_url, register, rp_client

README = Path(__file__).parent.parent / "README.md"


def attempts(gateway, username: str, *, count: int, start: int, password: str = "wrong password") -> list:
    """``count`` attempts, each made as soon as it is allowed (at once after a failure, the moment
    a wait ends after a refusal), from IPs that stay within their own budget; returns (error,
    retry_after, seconds since ``start``) for each, the refusals included."""
    settings = gateway.gw.settings
    answers, now = [], start
    with gateway.db() as db:
        for i in range(count):
            out = authenticate_password(db, username=username, password=password, ip=f"10.8.{i // 40}.{i % 40}",
                                        now=now, settings=settings)
            answers.append((out.error, out.retry_after, now - start))
            now += out.retry_after if out.error == "throttled" else 0
        db.commit()
    return answers


def test_the_free_attempts_are_what_the_readme_says(gateway):
    settings = gateway.gw.settings
    row = re.search(r"\| `IDGW_THROTTLE_FREE_ATTEMPTS` \| `(\d+)` \| ([^|]+)\|", README.read_text(encoding="utf-8"))
    assert int(row.group(1)) == settings.throttle_free_attempts == Settings().throttle_free_attempts == 5
    assert "first 5 consecutive failures cost nothing" in row.group(2)
    reg = register(gateway)
    start = gateway.clock.now()
    answers = attempts(gateway, reg.username, count=12, start=start)
    # attempts 1-6 are checked at once; the 6th failure makes the next attempt wait 2 s,
    # the 7th 4 s, the 8th 8 s (the waits double up to 15 minutes)
    assert answers[:6] == [("invalid_credentials", 0, 0)] * 6
    assert answers[6] == ("throttled", 2, 0)
    assert answers[7] == ("invalid_credentials", 0, 2)
    assert answers[8] == ("throttled", 4, 2)
    assert answers[9] == ("invalid_credentials", 0, 6)
    assert answers[10] == ("throttled", 8, 6)
    assert answers[11] == ("invalid_credentials", 0, 14)
    with gateway.db() as db:
        account = db.get(Account, reg.account_id)
        assert account.failed_logins == 9
        # the wait is the same whatever is typed: the right password waits too
        out = authenticate_password(db, username=reg.username, password=PASSWORD, ip="10.7.0.1",
                                    now=account.locked_until - 1, settings=settings)
        assert (out.error, out.retry_after) == ("throttled", 1)
        out = authenticate_password(db, username=reg.username, password=PASSWORD, ip="10.7.0.1",
                                    now=account.locked_until, settings=settings)
        assert out.account is not None and account.failed_logins == 0  # and the count starts again
        db.commit()


def test_an_unknown_username_answers_like_an_account_all_the_way_to_the_lock(gateway):
    reg = register(gateway)
    start = gateway.clock.now()
    known = attempts(gateway, reg.username, count=200, start=start)
    unknown = attempts(gateway, "nobody.here", count=200, start=start)
    assert known == unknown
    assert known[-1][0] == "locked" and [a[0] for a in known].count("invalid_credentials") == 100
    with gateway.db() as db:
        assert db.get(Account, reg.account_id).locked_until == LOCKED_FOREVER
        # both are refused before any password check (no argon2id timing difference), whatever
        # is typed, and the name's counter follows its spelling the way sign-in compares names
        for name in (reg.username, "nobody.here", "  NOBODY.here "):
            check = precheck(db, username=name, ip="10.6.0.1", now=start + 10**7, settings=gateway.gw.settings)
            assert check.refusal is not None and check.refusal.error == "locked", name
        assert db.query(AuditEvent).filter(AuditEvent.name == "account.locked").count() == 1
        db.rollback()


def _ticking(page: str) -> str:
    """A page with its waiting time blanked: the seconds left tick by themselves between two
    requests (and "1 second" is singular where "2 seconds" is not)."""
    return re.sub(r"\d+( seconds?)?", "N", page)


def _answer(http, url: str, username: str, password: str) -> tuple[int, str]:
    page = http.get(url)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    action = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    r = http.post(httpx.URL(str(page.url)).join(action), data={"csrf_token": csrf, "username": username,
                                                               "password": password}, follow_redirects=False)
    # the page echoes the username typed, and may name the request (interaction id): not an answer
    body = r.text.replace(username, "USERNAME")
    body = re.sub(r"/interaction/[A-Za-z0-9_-]+", "/interaction/ID", body)
    body = re.sub(r'name="csrf_token" value="[^"]+"', 'name="csrf_token" value="T"', body)
    return r.status_code, body


def test_locked_and_unknown_answer_the_same_over_http(gateway):
    locked = register(gateway, username="somsri.locked")
    waiting = register(gateway, username="somsri.slowed")
    start = gateway.clock.now() - 10**6  # all in the past: the locks stay, the waits are over
    attempts(gateway, locked.username, count=200, start=start)
    attempts(gateway, "ghost.locked", count=200, start=start)
    ghost_waiting = "ghost.slowed"
    settings = gateway.gw.settings
    with gateway.db() as db:  # ten failures for both, each as soon as allowed from 30 s ago: the tenth
        # is now, and each must wait 32 s (six failures just now, a 2 s wait, once ended on a slow
        # machine before the answers were asked for)
        for name in (waiting.username, ghost_waiting):
            at, failures, i = gateway.clock.now() - 30, 0, 0
            while failures < 10 and i < 40:
                out = authenticate_password(db, username=name, password="x", ip=f"10.5.0.{i}", now=at,
                                            settings=settings)
                at, i = at + out.retry_after, i + 1
                failures += out.error != "throttled"
            assert failures == 10
        db.commit()
    with httpx.Client(base_url=gateway.url, follow_redirects=True, timeout=20) as http:
        signin = gateway.url + "/signin?next=/account"
        for lang in ("th", "en"):
            http.get(gateway.url + f"/?lang={lang}")
            # a locked account, even with its right password, and a locked unknown name
            a = _answer(http, signin, locked.username, PASSWORD)
            b = _answer(http, signin, "ghost.locked", PASSWORD)
            assert a == b and a[0] == 403
            if lang == "th":
                assert "หากบัญชีของท่านถูกระงับหรือท่านเข้าสู่ระบบไม่ได้ กรุณาติดต่อ ศูนย์บริการประชาชน โทร 1111" in a[1]
            else:
                assert "If your account is locked or you cannot sign in, contact ศูนย์บริการประชาชน" in a[1]
            assert gateway.gw.settings.help_desk in a[1]  # the contact, on the same page
            # slowed down: the same status and text (the seconds left tick by themselves)
            a = _answer(http, signin, waiting.username, PASSWORD)
            b = _answer(http, signin, ghost_waiting, PASSWORD)
            assert a[0] == b[0] == 429
            assert _ticking(a[1]) == _ticking(b[1])
        # the sign-in page of an e-service answers alike too
        reg = register(gateway)
        url, *_ = authorize_url(gateway, rp_client(gateway, reg))
        browser = Browser(gateway)
        first = browser.follow(browser.get(url))
        login_url = str(first.url)
        a = _answer(browser.http, login_url, locked.username, PASSWORD)
        b = _answer(browser.http, login_url, "ghost.locked", PASSWORD)
        assert a == b and a[0] == 403


def test_the_slow_down_over_http_in_thai_and_english(gateway):
    reg = register(gateway)
    with httpx.Client(base_url=gateway.url, follow_redirects=True, timeout=20) as http:
        signin = gateway.url + "/signin?next=/account"
        for _ in range(6):
            assert _answer(http, signin, reg.username, "wrong password")[0] == 401
        status, body = _answer(http, signin, reg.username, PASSWORD)
        assert status == 429 and ("กรุณารอ 2 วินาที" in body or "กรุณารอ 1 วินาที" in body)
        status, body = _answer(http, signin + "&lang=en", reg.username, PASSWORD)
        assert status == 429 and re.search(r"Please wait [12] seconds? and try again\.", body)
        gateway.clock.advance(3)  # the wait is over: the right password signs in
        assert _answer(http, signin, reg.username, PASSWORD)[0] == 303


def test_waits_are_worded_with_the_right_number():
    assert wait_words(1, "en") == "1 second" and wait_words(0, "en") == "1 second"
    assert wait_words(2, "en") == "2 seconds" and wait_words(119, "en") == "119 seconds"
    assert wait_words(120, "en") == "2 minutes" and wait_words(121, "en") == "3 minutes"
    assert wait_words(900, "en") == "15 minutes"
    assert wait_words(1, "th") == "1 วินาที" and wait_words(2, "th") == "2 วินาที"
    assert wait_words(120, "th") == "2 นาที" and wait_words(899, "th") == "15 นาที"

    class Outcome:
        def __init__(self, error, retry_after=0):
            self.error, self.retry_after = error, retry_after

    desk = "ศูนย์บริการประชาชน โทร 1111 / Government Contact Center, call 1111"
    assert refusal_text(Outcome("throttled", 1), locale="en", help_desk=desk) == (
        "Too many failed attempts. Please wait 1 second and try again.")
    assert refusal_text(Outcome("throttled", 2), locale="th", help_desk=desk) == (
        "พยายามเข้าสู่ระบบไม่สำเร็จหลายครั้งเกินไป กรุณารอ 2 วินาที แล้วลองใหม่")
    assert refusal_text(Outcome("throttled", 600), locale="en", help_desk=desk).endswith(
        "wait 10 minutes and try again.")
    locked = refusal_text(Outcome("locked"), locale="en", help_desk=desk)
    assert locked == ("Signing in with this username is blocked after too many failed attempts. If your account "
                      f"is locked or you cannot sign in, contact {desk}.")
    assert "กรุณาติดต่อ " + desk in refusal_text(Outcome("locked"), locale="th", help_desk=desk)
    assert refusal_text(Outcome("locked"), locale="en", help_desk=" ").endswith("contact the help desk.")
    assert refusal_text(Outcome("invalid_credentials"), locale="en", help_desk=desk) == (
        "Incorrect username or password.")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: one transaction thread
def test_failures_settled_at_the_same_time_each_count(gateway):
    """Two wrong passwords checked at the same time (precheck, argon2id, then settle in its own
    transaction): the second settle waits for the first and counts on top of it, as the name
    counters do. It used to read the count before the first committed and write the same number
    back, so parallel guesses were lost from the count that leads to the lock."""
    reg = register(gateway)
    settings, now = gateway.gw.settings, gateway.clock.now()
    checks = []
    with gateway.db() as db:
        for ip in ("10.9.0.1", "10.9.0.2"):
            check = precheck(db, username=reg.username, ip=ip, now=now, settings=settings)
            assert check.refusal is None and not check_password(check, "wrong password")
            checks.append(check)
        db.commit()
    first, second = gateway.db(), gateway.db()
    try:
        assert settle(first, check=checks[0], ok=False, ip="10.9.0.1", now=now, settings=settings).error \
            == "invalid_credentials"  # not committed yet

        def settle_second():
            out = settle(second, check=checks[1], ok=False, ip="10.9.0.2", now=now, settings=settings)
            second.commit()
            return out

        with ThreadPoolExecutor(1) as pool:
            later = pool.submit(settle_second)
            time.sleep(0.3)  # the second settle is under way (and waits for the first's row lock)
            first.commit()
            assert later.result(timeout=10).error == "invalid_credentials"
    finally:
        first.close()
        second.close()
    with gateway.db() as db:
        assert db.get(Account, reg.account_id).failed_logins == 2


def test_the_dummy_hash_costs_what_an_account_hash_costs():
    # An unknown username is verified against _DUMMY_HASH, so it must take what a real account's
    # check takes: the same argon2id parameters (a change to PASSWORD_HASHER must change it too).
    from idgw.security import _DUMMY_HASH, PASSWORD_HASHER, hash_password, verify_password

    assert not PASSWORD_HASHER.check_needs_rehash(_DUMMY_HASH)
    assert _DUMMY_HASH.split("$")[:4] == hash_password("x").split("$")[:4]
    assert not verify_password(None, "anything")
    assert verify_password(hash_password("right"), "right") and not verify_password(hash_password("right"), "wrong")


def _burst_peak(gateway, monkeypatch, count: int = 12) -> int:
    """``count`` password sign-ins posted at once; how many argon2id verifications ran together."""
    import threading

    import idgw.login.password as password_module

    running, peak, lock = [0], [0], threading.Lock()
    real_verify = password_module.verify_password

    def counted_verify(stored, password):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            time.sleep(0.05)  # long enough for the burst to pile up
            return real_verify(stored, password)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(password_module, "verify_password", counted_verify)
    page = httpx.get(gateway.url + "/signin")
    cookie = page.cookies.get("idgw_browser")
    csrf = gateway.gw.pages.csrf_token(cookie, "signin")

    def sign_in(i: int) -> int:
        return httpx.post(gateway.url + "/signin", data={"username": f"nobody{i}", "password": "wrong password",
                                                          "csrf_token": csrf},
                          cookies={"idgw_browser": cookie}, timeout=30).status_code

    with ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(sign_in, range(count)))
    assert statuses == [401] * count  # each hashed and refused (no account), none lost
    return peak[0]


def test_a_burst_of_sign_ins_hashes_at_most_one_password_per_core_at_once(gateway, monkeypatch):
    """argon2id takes 19 MiB and a core for ~30 ms: a burst of password sign-ins queues for the
    hashing threads (one per core) instead of running forty verifications at once on the shared
    pool (forty times the memory, time-sliced); every sign-in still gets its answer."""
    from idgw.login.password import usable_cores

    assert 1 <= _burst_peak(gateway, monkeypatch) <= usable_cores()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_hash_threads_sets_how_many_verifications_run_at_once(database_url, monkeypatch):
    from tests.conftest import start_gateway

    g = start_gateway(database_url, hash_threads=1)
    try:
        assert _burst_peak(g, monkeypatch, count=6) == 1
    finally:
        g.stop()
        g.gw.engine.dispose()


def test_the_usable_cores_follow_the_cgroup_cpu_quotas(tmp_path):
    import os

    from idgw.cli import worker_hash_threads
    from idgw.login.password import usable_cores
    from idgw.settings import Settings, SettingsError

    affinity = len(os.sched_getaffinity(0))
    root, proc = tmp_path / "cgroup", tmp_path / "self-cgroup"
    root.mkdir()
    assert usable_cores(root, proc) == affinity  # no /proc/self/cgroup, no cpu.max: the affinity
    # in a container's own cgroup namespace: "0::/" and the quota on the root's cpu.max
    proc.write_text("0::/\n")
    for written, cores in (("max 100000\n", affinity), ("50000 100000\n", 1), ("100000 100000\n", 1),
                           ("150000 100000\n", min(affinity, 2)), ("6400000 100000\n", affinity),
                           ("garbage\n", affinity)):
        (root / "cpu.max").write_text(written)
        assert usable_cores(root, proc) == cores, written
    # a systemd unit on a host: its own cgroup's quota, and the tightest of those above it
    (root / "cpu.max").unlink()
    unit = root / "system.slice" / "idgw.service"
    unit.mkdir(parents=True)
    proc.write_text("1:name=systemd:/system.slice/idgw.service\n0::/system.slice/idgw.service\n")
    (unit / "cpu.max").write_text("max 100000\n")
    assert usable_cores(root, proc) == affinity
    (unit.parent / "cpu.max").write_text("100000 100000\n")
    assert usable_cores(root, proc) == 1
    proc.write_text("0::/../../etc\n")  # never read outside the cgroup tree
    assert usable_cores(root, proc) == affinity
    # --workers N: each worker its share, at least one; a set IDGW_HASH_THREADS wins
    assert worker_hash_threads(0, 1) == usable_cores()
    assert worker_hash_threads(0, 64) == 1
    assert worker_hash_threads(3, 8) == 3
    env = {"IDGW_DEV": "1", "IDGW_DATABASE_URL": "sqlite:////tmp/unused-hash-threads.db"}
    assert Settings.from_env(env).hash_threads == 0
    assert Settings.from_env({**env, "IDGW_HASH_THREADS": "4"}).hash_threads == 4
    for raw in ("-1", "65", "four"):
        with pytest.raises(SettingsError, match="IDGW_HASH_THREADS"):
            Settings.from_env({**env, "IDGW_HASH_THREADS": raw})


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_app_served_again_still_hashes(database_url):
    """The hashing threads end with the app's lifespan; served again (a second server on the same
    app object), a password sign-in is answered, not refused by a shut-down executor."""
    from urllib.parse import urlsplit

    from tests.conftest import serve_app, start_gateway

    first = start_gateway(database_url)
    first.stop()
    again = serve_app(first.app, urlsplit(first.url).port, first.url)
    try:
        page = httpx.get(again.url + "/signin")
        cookie = page.cookies.get("idgw_browser")
        answer = httpx.post(again.url + "/signin", data={"username": "nobody", "password": "wrong password",
                                                         "csrf_token": again.gw.pages.csrf_token(cookie, "signin")},
                            cookies={"idgw_browser": cookie})
        assert answer.status_code == 401
    finally:
        again.stop()
        again.gw.engine.dispose()
