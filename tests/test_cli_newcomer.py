"""The idgw command as a newcomer meets it (issue 12, "Newcomer details"): the real command in a
subprocess on real SQLite and PostgreSQL databases.

- ``client add`` says what to do next (a policy: the command and the admin page), and client ids
  never begin with a character a shell or CLI reads as an option;
- commands that only touch the database work with a plain http issuer and no IDGW_DEV (only
  ``serve`` and ``demo`` apply the serve-time rules; ``keys rotate`` still needs a real secret);
- ``user add`` takes the password from a hidden prompt or standard input, and warns when it is
  given on the command line; ``user unlock`` lets a locked account in again, audited;
- ``policy show`` prints dates (ISO 8601 with the offset), not epoch seconds.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from datetime import datetime

import pytest
from sqlalchemy import select as sql_select

from idgw.admin import _new_client_id
from idgw.login.password import LOCKED_FOREVER
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import Account, AuditEvent

SECRET = "test-secret-key-0123456789abcdef0123456789"
PASSWORD = "a good long password"


def idgw(database_url, *args, input=None, dev=False, issuer="http://example.org", secret=SECRET, **env_extra):
    """Run the real ``idgw`` command. By default as an operator's shell would: a plain http
    issuer that is not the public one, no IDGW_DEV."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_DATABASE_URL=database_url, IDGW_ISSUER=issuer, **env_extra)
    if secret is not None:
        env["IDGW_SECRET_KEY"] = secret
    if dev:
        env["IDGW_DEV"] = "1"
    return subprocess.run([sys.executable, "-m", "idgw", *args], capture_output=True, text=True, env=env,
                          input=input if input is not None else "", timeout=120)


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    return result


def db_session(database_url):
    return make_sessionmaker(make_engine(database_url))()


# -- client ids -------------------------------------------------------------------------------------
def test_generated_client_ids_never_begin_like_an_option():
    # token_urlsafe draws the first character from 64 symbols, 2 of them - and _: among 20 000 ids
    # about 600 would begin with one if nothing prevented it.
    ids = [_new_client_id() for _ in range(20_000)]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{21}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    # both kinds of leading symbol do turn up later in ids, so the rule is doing the work
    assert any("-" in i for i in ids) and any("_" in i for i in ids)


# -- database-only commands: no serve-time checks -------------------------------------------------
def test_database_commands_work_with_an_http_issuer_and_no_dev_mode(database_url, tmp_path):
    ok(idgw(database_url, "db", "upgrade"))
    added = ok(idgw(database_url, "client", "add", "--name", "กรมทดสอบ", "--redirect-uri", "https://svc.example/cb"))
    client_id = re.search(r"client_id:\s+(\S+)", added.stdout).group(1)
    # the next step: the exact policy command and the admin page, under the configured issuer
    assert "Next: give the service an assurance policy" in added.stdout
    assert f"idgw policy set {client_id} --impact reputation=low --impact financial=low" in added.stdout
    assert "idgw policy assess --impact reputation=low --impact financial=low" in added.stdout
    assert f"http://example.org/admin/services/{client_id}" in added.stdout
    assert "financial" in added.stdout and "personal_safety" in added.stdout  # the categories to rate
    # the printed command works as printed
    command = re.search(r"idgw policy set .*", added.stdout).group(0).split()[1:]
    ok(idgw(database_url, *command))
    shown = ok(idgw(database_url, "policy", "show", client_id)).stdout
    assert f"{client_id}: IAL 1.1, AAL 1 (v1, set by cli)" in shown

    listed = json.loads(ok(idgw(database_url, "client", "list", "--json")).stdout)
    assert [c["client_id"] for c in listed] == [client_id]
    assert json.loads(ok(idgw(database_url, "client", "show", client_id, "--json")).stdout)["name"] == "กรมทดสอบ"
    ok(idgw(database_url, "user", "add", "somsri", "--password-stdin", input=PASSWORD + "\n"))
    ok(idgw(database_url, "user", "unlock", "somsri"))
    ok(idgw(database_url, "policy", "assess", "--impact", "financial=moderate"))
    export = tmp_path / "p.yaml"
    ok(idgw(database_url, "policy", "export", str(export)))
    ok(idgw(database_url, "policy", "import", str(export)))
    ok(idgw(database_url, "keys", "rotate"))
    ok(idgw(database_url, "client", "remove", client_id))
    # outside dev mode an http redirect URI (not loopback) is still refused: IDGW_DEV keeps its meaning
    bad = idgw(database_url, "client", "add", "--name", "x", "--redirect-uri", "http://svc.example/cb")
    assert bad.returncode == 1 and "must use https" in bad.stderr
    assert idgw(database_url, "client", "add", "--name", "x", "--redirect-uri", "http://svc.example/cb",
                dev=True).returncode == 0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_what_database_commands_still_check(database_url, tmp_path):
    # the database URL, and that the configuration is well formed
    out = idgw(database_url, "client", "list", IDGW_CODE_TTL="abc")
    assert out.returncode == 2 and "configuration error: IDGW_CODE_TTL must be an integer" in out.stderr
    out = idgw(database_url, "client", "list", issuer="example.org")
    assert out.returncode == 2 and "IDGW_ISSUER must be an absolute http(s) URL" in out.stderr
    # keys are sealed with the secret key: outside dev mode it must be a real one
    ok(idgw(database_url, "db", "upgrade", secret=None))
    out = idgw(database_url, "keys", "rotate", secret=None)
    assert out.returncode == 2 and "IDGW_SECRET_KEY" in out.stderr and "Traceback" not in out.stderr
    out = idgw(database_url, "keys", "rotate", secret="short")
    assert out.returncode == 2 and "IDGW_SECRET_KEY" in out.stderr
    ok(idgw(database_url, "keys", "rotate"))
    out = idgw(database_url, "keys", "rotate", secret="another-secret-key-0123456789abcdef0123")
    assert out.returncode == 2 and "configuration error" in out.stderr  # cannot open the stored keys
    # serve keeps every serve-time rule
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_ISSUER="http://example.org", IDGW_SECRET_KEY=SECRET, IDGW_DATABASE_URL=database_url)
    out = subprocess.run([sys.executable, "-m", "idgw", "serve", "--port", "1"], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.returncode == 2 and "IDGW_ISSUER must use https" in out.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_client_add_json_carries_the_next_step_and_chosen_ids_are_checked(database_url):
    ok(idgw(database_url, "db", "upgrade"))
    out = json.loads(ok(idgw(database_url, "client", "add", "--name", "x", "--redirect-uri", "https://a.example/cb",
                             "--client-id", "agency.svc-1", "--json")).stdout)
    assert out["client_id"] == "agency.svc-1" and len(out["client_secret"]) >= 40
    assert out["next_step"]["policy_command"] == ("idgw policy set agency.svc-1 --impact reputation=low "
                                                  "--impact financial=low")
    assert out["next_step"]["admin_page"] == "http://example.org/admin/services/agency.svc-1"
    # with no IDGW_ISSUER in the shell: the gateway `make run` starts, by the name its passkeys work with
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_DATABASE_URL=database_url)
    out = subprocess.run([sys.executable, "-m", "idgw", "client", "add", "--name", "y", "--redirect-uri",
                          "https://a.example/cb", "--client-id", "agency.svc-2"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert "http://localhost:8000/admin/services/agency.svc-2" in out.stdout, out.stderr
    for bad_id in ("-svc1", "_svc1", "~svc1", ".svc1", "abc", "a" * 65, "svc 1"):
        out = idgw(database_url, "client", "add", "--name", "x", "--redirect-uri", "https://a.example/cb",
                   f"--client-id={bad_id}")
        assert out.returncode == 1 and "beginning with a letter or digit" in out.stderr, (bad_id, out.stderr)


# -- the database's state: one line that says what to do, not a traceback ---------------------------
def test_a_database_never_migrated_or_behind_says_what_to_run(database_url):
    from alembic import command

    from idgw.storage.db import alembic_config
    from idgw.storage.probe import Schema

    head = ", ".join(sorted(Schema.of_this_code(database_url).heads))
    out = idgw(database_url, "client", "list")
    assert out.returncode == 1, out.stderr
    assert out.stderr.splitlines() == [
        f"error: the database has no schema yet (this release needs {head}): run `idgw db upgrade` first"]
    # a release behind (0009 added clients.disabled_at, which `client list` reads)
    command.upgrade(alembic_config(database_url), "0008")
    out = idgw(database_url, "client", "list")
    assert out.returncode == 1 and out.stderr.splitlines() == [
        f"error: the schema is at 0008, this release needs {head}: run `idgw db upgrade` first"]
    ok(idgw(database_url, "db", "upgrade"))
    assert ok(idgw(database_url, "client", "list")).stderr == ""


def test_a_database_that_cannot_be_reached_is_one_line_without_its_password(tmp_path):
    from providers.simulators.server import free_port

    for url, args in ((f"postgresql://idgw:pw-KeepMeOut@127.0.0.1:{free_port()}/idgw", ("db", "upgrade")),
                      (f"sqlite:///{tmp_path}/gone/idgw.db", ("client", "list"))):
        out = idgw(url, *args)
        assert out.returncode == 1, (url, out.stdout, out.stderr)
        line = out.stderr.splitlines()
        assert len(line) == 1 and line[0].startswith("error: the database is unreachable (OperationalError ("), line
        assert line[0].endswith("check IDGW_DATABASE_URL and that the database server is running")
        assert "KeepMeOut" not in out.stdout + out.stderr


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_file_that_cannot_be_read_or_written_is_one_line(database_url, tmp_path):
    ok(idgw(database_url, "db", "upgrade"))
    missing, nowhere = tmp_path / "policies.yaml", tmp_path / "no" / "log.jsonl"
    for args, path in ((("policy", "import", str(missing)), missing),
                       (("audit", "export", "--output", str(nowhere)), nowhere)):
        out = idgw(database_url, *args)
        assert out.returncode == 1 and out.stderr.splitlines() == [f"error: {path}: No such file or directory"], \
            out.stderr
    # nothing was exported, so nothing says it was
    with db_session(database_url) as db:
        assert not db.scalars(sql_select(AuditEvent).where(AuditEvent.name == "audit.exported")).all()
    # a database never served has no signing keys yet: the export is made, unsigned, and says so
    out = ok(idgw(database_url, "audit", "export", "--output", str(tmp_path / "log.jsonl")))
    assert "heads not signed (there are no signing keys yet" in out.stderr
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "header" and [e["name"] for e in lines if e["type"] == "event"] == ["audit.exported"]


@pytest.mark.parametrize(("message", "reason", "what_to_do"), [
    ("attempt to write a readonly database", "read only", "writable by this user"),
    ("database or disk is full", "disk full", "free space on the database's disk"),
    ("database is locked", "locked", "another process holds the database"),
    ("unable to open database file", "unreachable", "check IDGW_DATABASE_URL"),
])
def test_the_line_says_what_to_do_about_each_reason(message, reason, what_to_do):
    import sqlite3

    from sqlalchemy import exc

    from idgw.storage.probe import explain

    line = explain(exc.OperationalError("INSERT ...", {}, sqlite3.OperationalError(message)), None)
    assert line.startswith(f"the database is {reason} (OperationalError (sqlite3.OperationalError)): ")
    assert what_to_do in line


def test_any_other_failure_keeps_its_traceback(database_url):
    # explain() speaks only for the database's state: a statement wrong for a schema at head, or an
    # error that is not the database's, is a bug and stays one (None: the caller re-raises it)
    from sqlalchemy import text

    from idgw.storage.db import upgrade
    from idgw.storage.probe import explain

    upgrade(database_url)
    with db_session(database_url) as db, pytest.raises(Exception) as failed:
        db.execute(text("SELECT no_such_column FROM clients"))
    assert explain(failed.value, database_url) is None
    assert explain(ValueError("x"), database_url) is None


# -- user add: where the password comes from -------------------------------------------------------
def run_in_terminal(args, env, answers: list[str], timeout=60) -> tuple[int, str]:
    """Run ``args`` with a pseudo-terminal as its standard input and output (a person at a
    terminal); type each answer when the output asks for something. Returns (status, everything
    the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the terminal
        try:
            os.execve(sys.executable, [sys.executable, "-m", "idgw", *args], env)
        finally:  # never return into a copy of the test run (under xdist, a second worker on its channel)
            os._exit(127)
    shown, pending, deadline = b"", list(answers), time.time() + timeout
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the command ended
                    break
                if not chunk:
                    break
                shown += chunk
                # click writes "Password:", then getpass turns echo off (dropping what was typed
                # meanwhile) and writes " ": answer only after that space.
                if pending and shown.endswith(b": "):
                    os.write(fd, pending.pop(0).encode() + b"\n")
        else:
            os.kill(pid, 9)
            raise AssertionError(f"the command did not end; the terminal showed {shown!r}")
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_user_add_reads_the_password_from_a_hidden_prompt_or_stdin(database_url):
    ok(idgw(database_url, "db", "upgrade"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_DATABASE_URL=database_url, IDGW_ISSUER="http://example.org", IDGW_SECRET_KEY=SECRET)
    # at a terminal: asked twice, never shown
    status, shown = run_in_terminal(["user", "add", "prompted"], env, [PASSWORD, PASSWORD])
    assert status == 0, shown
    assert shown.count("Password") >= 1 and "Repeat for confirmation" in shown and "created prompted" in shown
    assert PASSWORD not in shown
    # the two entries differ: asked again, still never shown
    status, shown = run_in_terminal(["user", "add", "mistyped"], env,
                                    [PASSWORD, PASSWORD + "x", PASSWORD, PASSWORD])
    assert status == 0 and "do not match" in shown and "created mistyped" in shown, shown
    assert PASSWORD not in shown
    # from standard input (first line; the newline is not part of it)
    out = ok(idgw(database_url, "user", "add", "piped", "--password-stdin", input=PASSWORD + "\r\n"))
    assert "created piped" in out.stdout and not out.stderr
    # on the command line: works, with a warning on stderr
    out = ok(idgw(database_url, "user", "add", "typed", "--password", PASSWORD))
    assert "warning:" in out.stderr and "shell history" in out.stderr and "created typed" in out.stdout
    # refusals
    out = idgw(database_url, "user", "add", "x1", "--password", PASSWORD, "--password-stdin", input=PASSWORD)
    assert out.returncode == 1 and "one way" in out.stderr
    out = idgw(database_url, "user", "add", "x2")  # no terminal and nothing piped in
    assert out.returncode == 1 and "--password-stdin" in out.stderr
    out = idgw(database_url, "user", "add", "x3", "--password-stdin", input="short\n")
    assert out.returncode == 1 and "password must be 8-1024 characters" in out.stderr
    out = idgw(database_url, "user", "add", "x4", "--password-stdin", input="")
    assert out.returncode == 1 and "password must be 8-1024 characters" in out.stderr
    # each way stored the password it was given
    from idgw.security import verify_password
    with db_session(database_url) as db:
        for name in ("prompted", "mistyped", "piped", "typed"):
            account = db.scalar(sql_select(Account).where(Account.username == name))
            assert verify_password(account.password_hash, PASSWORD), name
        assert db.scalar(sql_select(Account).where(Account.username.in_(["x1", "x2", "x3", "x4"]))) is None


# -- user unlock -------------------------------------------------------------------------------------
def test_user_unlock(database_url):
    ok(idgw(database_url, "db", "upgrade"))
    ok(idgw(database_url, "user", "add", "Somchai", "--password-stdin", input=PASSWORD))
    with db_session(database_url) as db:
        account = db.scalar(sql_select(Account).where(Account.username == "Somchai"))
        account.failed_logins, account.locked_until = 100, LOCKED_FOREVER
        account_id = account.id
        db.commit()
    out = ok(idgw(database_url, "user", "unlock", "somchai", "--actor", "helpdesk.anan"))  # any case, like sign-in
    assert out.stdout.strip() == "unlocked Somchai (was locked, 100 failed attempts)"
    with db_session(database_url) as db:
        account = db.get(Account, account_id)
        assert (account.failed_logins, account.locked_until) == (0, 0)
        events = list(db.scalars(sql_select(AuditEvent).where(AuditEvent.name == "account.unlocked")))
        assert [(e.actor, e.on_behalf_of, e.detail) for e in events] == [
            ("helpdesk.anan", account_id, {"was": "locked", "failures": 100})]
        # a slowed-down account (waiting after failures) is let in at once too
        account.failed_logins, account.locked_until = 7, int(time.time()) + 600
        db.commit()
    out = ok(idgw(database_url, "user", "unlock", "Somchai"))
    assert "was waiting, 7 failed attempts" in out.stdout
    out = ok(idgw(database_url, "user", "unlock", "Somchai"))
    assert "nothing to do" in out.stdout
    out = idgw(database_url, "user", "unlock", "nobody")
    assert out.returncode == 1 and "no user nobody" in out.stderr
    with db_session(database_url) as db:
        events = list(db.scalars(sql_select(AuditEvent).where(AuditEvent.name == "account.unlocked")))
        assert [e.actor for e in events] == ["helpdesk.anan", "cli"]  # "nothing to do" records nothing


# -- policy show -------------------------------------------------------------------------------------
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_policy_show_prints_dates(database_url):
    ok(idgw(database_url, "db", "upgrade"))
    client_id = json.loads(ok(idgw(database_url, "client", "add", "--name", "x", "--redirect-uri",
                                   "https://a.example/cb", "--json")).stdout)["client_id"]
    before = time.time()
    ok(idgw(database_url, "policy", "set", client_id, "--impact", "financial=moderate", "--actor", "anan"))
    text = ok(idgw(database_url, "policy", "show", client_id)).stdout
    stamp = re.search(r"v1 IAL 2.1 AAL 2.1 by anan at (\S+)", text).group(1)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", stamp), stamp
    assert abs(datetime.fromisoformat(stamp).timestamp() - before) < 60
    assert not re.search(r"\b\d{10}\b", text)  # no epoch seconds
    shown = json.loads(ok(idgw(database_url, "policy", "show", client_id, "--json")).stdout)
    assert shown["current"]["set_at"] == stamp and shown["history"][0]["set_at"] == stamp
