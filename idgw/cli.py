"""The ``idgw`` command: serve, demo, db upgrade, client add|list|show|remove, user add|unlock,
keys rotate, policy ... (``idgw.cli_policy``).

Only ``serve`` and ``demo`` run the gateway, so only they apply the serve-time rules (an https
issuer and a strong secret key outside dev mode, ``Settings.validate``). The commands that only
touch the database (``_db_settings``) need the database URL, and ``keys rotate``, which seals
keys, a real secret key; an operator may run them from a shell whose IDGW_ISSUER is not the
public https one."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import sys
import time
from pathlib import Path

import typer

from idgw.cli_common import _db_settings, _fail, _session, _settings  # noqa: F401 (used by tests, sub-commands)
from idgw.settings import Settings

app = typer.Typer(help="idgw: identity gateway for Thai government e-services", no_args_is_help=True)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
client_app = typer.Typer(help="Registered e-services (OIDC clients)", no_args_is_help=True)
user_app = typer.Typer(help="Local accounts (development and staff)", no_args_is_help=True)
keys_app = typer.Typer(help="Signing keys", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(client_app, name="client")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")


def _register_policy_commands() -> None:
    from idgw.cli_audit import audit_app
    from idgw.cli_delegation import delegation_app
    from idgw.cli_policy import policy_app
    from idgw.cli_proofing import proofing_app

    app.add_typer(policy_app, name="policy")
    app.add_typer(proofing_app, name="proofing")
    app.add_typer(delegation_app, name="delegation")
    app.add_typer(audit_app, name="audit")

#: Seconds `idgw serve --no-migrate` waits for the schema to reach this release (the migration job).
SCHEMA_WAIT = 300
DEMO_CLIENT_ID = "demo-eservice"
DEMO_USER = ("somchai", "demo-password-1234")


@contextlib.contextmanager
def _secret_key_opens_keys():
    """A wrong IDGW_SECRET_KEY (it cannot open the stored signing keys), a database this process
    cannot write (a read-only SQLite file) or whose schema never reached this release are
    configuration errors: one line and exit status 2, not a traceback."""
    from idgw.oidc.keys import WrongSecretKeyError
    from idgw.storage.probe import DatabaseStartError

    try:
        yield
    except (WrongSecretKeyError, DatabaseStartError) as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _check_secret_key(settings: Settings) -> None:
    """Make the first signing keys if there are none and open them once, so that a wrong secret
    stops `idgw serve --workers N` here rather than in every worker."""
    from idgw.clock import Clock
    from idgw.oidc.keys import KeyStore
    from idgw.security import Sealer, derive_key
    from idgw.storage.db import make_engine, make_sessionmaker
    from idgw.storage.probe import require_writable

    engine = make_engine(settings.database_url)
    try:
        require_writable(engine)  # here once, rather than a traceback in every worker
        sm = make_sessionmaker(engine)
        keys = KeyStore(sessionmaker=sm, sealer=Sealer(derive_key(settings.secret_key, "jwk-at-rest")), clock=Clock(),
                        max_token_ttl=settings.max_token_ttl)
        with sm() as db:
            keys.ensure(db)
            db.commit()
        keys.refresh(force=True)
    finally:
        engine.dispose()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from idgw.storage.db import upgrade

    settings = _db_settings()
    upgrade(settings.database_url)
    typer.echo("database is up to date")


def proxy_options(settings) -> dict:
    """uvicorn options: uvicorn's own proxy-header handling off. The gateway's outermost middleware
    (idgw.observe.forwarded) believes X-Forwarded-For, -Proto and X-Request-ID only from the proxies
    named in IDGW_TRUSTED_PROXIES; it needs the socket's peer for that, which uvicorn's handling
    would already have replaced (and uvicorn's default trusts 127.0.0.1, which would let any local
    process pick its client IP)."""
    return {"proxy_headers": False, "forwarded_allow_ips": None}


def worker_hash_threads(hash_threads: int, workers: int) -> int:
    """Each of ``workers`` processes' argon2id threads: ``IDGW_HASH_THREADS`` when set, else its
    share of the usable cores (at least one), so that N workers hash no more passwords at once than
    there are cores."""
    from idgw.login.password import usable_cores

    return hash_threads or max(1, usable_cores() // workers)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = typer.Option(1, min=1, max=64),
          migrate: bool = typer.Option(True, "--migrate/--no-migrate",
                                       help="bring the schema to the newest version first (--no-migrate: a "
                                            "separate `idgw db upgrade` job does it; /readyz says not ready "
                                            "until it has)")) -> None:
    """Run the gateway (migrates the database first, unless --no-migrate)."""
    import uvicorn

    from idgw.server import server_options
    from idgw.storage.db import upgrade

    if workers == 1:
        # One process: its own metrics registry. An inherited PROMETHEUS_MULTIPROC_DIR (read when
        # prometheus_client is first imported) would make it write files nobody reads or removes.
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    settings = _settings()
    with _secret_key_opens_keys():
        if migrate:
            upgrade(settings.database_url)
        else:  # the migration job may still be running (docker compose starts both together): wait for it
            from idgw.health import wait_for_schema

            wait_for_schema(settings.database_url, timeout=SCHEMA_WAIT, log=lambda line: typer.echo(line, err=True))
    proxies = proxy_options(settings)
    options = server_options(settings)  # header cap and deadline, keep-alive and shutdown timeouts, logs
    if workers == 1:
        from idgw.app import create_app, settle_heap

        with _secret_key_opens_keys():  # e.g. a SQLite file this process cannot write: one line, status 2
            app = create_app(settings)
        settle_heap()
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, server_header=False, **proxies,
                    **options)
    else:
        from idgw.observe.metrics import private_dir, remove_dir

        with _secret_key_opens_keys():
            _check_secret_key(settings)
        # The workers' metric files, summed by a scrape at any of them: a fresh directory of this
        # run's own (stale files of an earlier run would be counted again), set before they start.
        metrics_dir = private_dir()
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ["IDGW_HASH_THREADS"] = str(worker_hash_threads(settings.hash_threads, workers))
        try:
            uvicorn.run("idgw.asgi:app", host=host, port=port, workers=workers, log_level="info", access_log=False,
                        server_header=False, **proxies, **options)
        finally:
            remove_dir(metrics_dir)


@client_app.command("add")
def client_add(
    name: str = typer.Option(..., help="Display name shown to citizens"),
    redirect_uri: list[str] = typer.Option(..., help="Exact redirect URI (repeatable)"),
    post_logout_redirect_uri: list[str] = typer.Option([], help="Exact post-logout redirect URI (repeatable)"),
    auth_method: str = typer.Option("client_secret_basic",
                                    help="client_secret_basic|client_secret_post|private_key_jwt|none"),
    scope: str = typer.Option("openid profile email offline_access"),
    id_token_alg: str = typer.Option("ES256", help="ES256|RS256|PS256"),
    subject_type: str = typer.Option("pairwise", help="pairwise|public"),
    jwks_file: Path | None = typer.Option(None, help="Client public JWKS (private_key_jwt)"),
    jwks_uri: str | None = typer.Option(None),
    client_id: str | None = typer.Option(None, help="Choose the client_id (default: random)"),
    backchannel_logout_uri: str | None = typer.Option(
        None, help="Where the gateway POSTs logout tokens when a session ends (Back-Channel Logout 1.0)"),
    backchannel_logout_session_required: bool = typer.Option(
        False, help="The service needs sid in logout tokens (the gateway always sends it)"),
    sector_identifier_uri: str | None = typer.Option(
        None, help="https URL of a JSON array of this service's redirect URIs: its host is the pairwise sector "
                   "(needed when the redirect URIs are on several hosts)"),
    security_event_uri: str | None = typer.Option(
        None, help="Where the gateway POSTs Security Event Tokens (RFC 8935), e.g. a delegation ended"),
    token_exchange: bool = typer.Option(
        False, help="The service's back end may exchange tokens to act for a principal (RFC 8693; confidential only)"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Register an e-service. The secret is printed once and never stored in clear."""
    from idgw.admin import AdminError, add_client

    settings = _db_settings()
    jwks = None
    if jwks_file:
        # A file that cannot be read or is not JSON is one line, not a traceback (the keys
        # themselves are checked by add_client).
        try:
            jwks = json.loads(jwks_file.read_text(encoding="utf-8"))
        except OSError as exc:
            _fail(f"--jwks-file {jwks_file}: {exc.strerror or type(exc).__name__}")
        except UnicodeDecodeError:
            _fail(f"--jwks-file {jwks_file}: not UTF-8 text")
        except (ValueError, RecursionError) as exc:
            where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            _fail(f"--jwks-file {jwks_file}: not valid JSON{where}")
    with _session(settings) as db:
        try:
            new = add_client(db, name=name, redirect_uris=redirect_uri,
                             post_logout_redirect_uris=post_logout_redirect_uri,
                             auth_method=auth_method, scope=scope, id_token_alg=id_token_alg, subject_type=subject_type,
                             jwks=jwks, jwks_uri=jwks_uri, client_id=client_id,
                             backchannel_logout_uri=backchannel_logout_uri,
                             backchannel_logout_session_required=backchannel_logout_session_required,
                             sector_identifier_uri=sector_identifier_uri, security_event_uri=security_event_uri,
                             token_exchange=token_exchange, now=int(time.time()), dev=settings.dev)
        except AdminError as exc:
            _fail(str(exc))
        db.commit()
    step = next_step(settings, new.client_id)
    if as_json:
        typer.echo(json.dumps({"client_id": new.client_id, "client_secret": new.client_secret,
                               "next_step": step}))
    else:
        typer.echo(f"client_id:     {new.client_id}")
        if new.client_secret:
            typer.echo(f"client_secret: {new.client_secret}")
            typer.echo("Store the secret now: it is shown only once.")
        typer.echo("")
        typer.echo(step["text"])
        typer.echo(f"  1. work out the floors:  {step['assess_command']}")
        typer.echo(f"  2. set them:             {step['policy_command']}")
        typer.echo(f"  or on the admin page:    {step['admin_page']}")
        typer.echo(f"  (impact categories: {', '.join(step['categories'])}; each none|low|moderate|high)")


def next_step(settings: Settings, client_id: str) -> dict:
    """What to do after registering a client: give it a policy, by command or on the admin page
    (``idgw.web.admin``). Example impacts of a low-risk service; the person edits them."""
    from policies import default_matrix

    impacts = "--impact reputation=low --impact financial=low"
    # With no IDGW_ISSUER in this shell, point at the gateway `make run` (`idgw demo`) starts: it
    # runs as localhost, where its cookies and passkeys work, not as the default 127.0.0.1.
    gateway = settings.issuer if "IDGW_ISSUER" in os.environ else "http://localhost:8000"
    return {
        "text": "Next: give the service an assurance policy. Until it has one, its sign-ins are refused.",
        "assess_command": f"idgw policy assess {impacts}",
        "policy_command": f"idgw policy set {shlex.quote(client_id)} {impacts}",
        "admin_page": f"{gateway}/admin/services/{client_id}",
        "categories": [c.id for c in default_matrix().categories],
    }


@client_app.command("list")
def client_list(as_json: bool = typer.Option(False, "--json")) -> None:
    from idgw.admin import list_clients

    with _session(_db_settings()) as db:
        rows = list_clients(db)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for c in rows:
        typer.echo(f"{c['client_id']}\t{c['token_endpoint_auth_method']}\t{c['name']}")


@client_app.command("show")
def client_show(client_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    from idgw.admin import client_info
    from idgw.storage.models import Client

    with _session(_db_settings()) as db:
        row = db.get(Client, client_id)
        if row is None:
            _fail(f"no client {client_id}")
        info = client_info(row)
    typer.echo(json.dumps(info, ensure_ascii=False, indent=None if as_json else 2))


@client_app.command("remove")
def client_remove(client_id: str) -> None:
    from idgw.admin import AdminError, remove_client

    with _session(_db_settings()) as db:
        try:
            remove_client(db, client_id=client_id, now=int(time.time()))
        except AdminError as exc:
            _fail(str(exc))
        db.commit()
    typer.echo(f"removed {client_id}")


@user_app.command("add")
def user_add(
    username: str,
    password: str | None = typer.Option(
        None, help="The password on the command line (it stays in the shell history and is seen by other "
                   "processes: prefer the prompt or --password-stdin)"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input "
                                        "(its first line), e.g. from a password manager or a file"),
    email: str | None = None, given_name: str | None = None, family_name: str | None = None,
    given_name_th: str | None = None, family_name_th: str | None = None, citizen_id: str | None = None,
    role: list[str] = typer.Option([], help="admin|officer (repeatable)"),
) -> None:
    """Create a local password account (for development and staff). Without --password or
    --password-stdin the password is asked for twice, without showing it."""
    from idgw.admin import AdminError, add_user

    settings = _db_settings()
    if password is not None and password_stdin:
        _fail("give the password one way: --password or --password-stdin")
    if password_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    elif password is not None:
        typer.echo("warning: a password given with --password stays in the shell history and is visible to other "
                   "processes; use the prompt or --password-stdin", err=True)
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        _fail("no terminal to ask for the password: pipe it with --password-stdin")
    with _session(settings) as db:
        try:
            account = add_user(db, username=username, password=password, now=int(time.time()), email=email,
                               given_name=given_name, family_name=family_name, given_name_th=given_name_th,
                               family_name_th=family_name_th, citizen_id=citizen_id, roles=role)
        except AdminError as exc:
            _fail(str(exc))
        db.commit()
        typer.echo(f"created {username} ({account.id})")


@user_app.command("unlock")
def user_unlock(
    username: str,
    actor: str = typer.Option("cli", help="who unlocks it (recorded in the audit log)"),
) -> None:
    """Let a locked (or slowed-down) account sign in again: resets its failed attempts
    (audited as account.unlocked)."""
    from idgw.admin import account_status, find_user, unlock_account

    with _session(_db_settings()) as db:
        account = find_user(db, username)
        if account is None:
            _fail(f"no user {username}")
        now = int(time.time())
        before = account_status(account, now=now)
        if not unlock_account(db, account=account, now=now, actor=actor):
            typer.echo(f"{account.username} was not locked and has no failed attempts: nothing to do")
            return
        db.commit()
    typer.echo(f"unlocked {account.username} (was {before['state']}, {before['failures']} failed attempt"
               f"{'' if before['failures'] == 1 else 's'})")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make new signing keys; the old public keys stay in the JWKS until their tokens expire."""
    from idgw.clock import Clock
    from idgw.oidc.keys import KeyStore
    from idgw.security import Sealer, derive_key
    from idgw.storage.db import make_engine, make_sessionmaker

    settings = _db_settings(secret_key=True)
    sm = make_sessionmaker(make_engine(settings.database_url))
    store = KeyStore(sessionmaker=sm, sealer=Sealer(derive_key(settings.secret_key, "jwk-at-rest")), clock=Clock(),
                     max_token_ttl=settings.max_token_ttl)
    with sm() as db, _secret_key_opens_keys():
        kids = store.rotate(db, actor="cli")
        db.commit()
    typer.echo("new signing keys: " + ", ".join(kids))
    typer.echo(f"previous public keys stay published for {settings.max_token_ttl} s")


@app.command("purge")
def purge_command(as_json: bool = typer.Option(False, "--json", help="the counts as one JSON object")) -> None:
    """Remove the rows nothing needs any more (expired codes, tokens and sign-in state, old
    sessions and delivered notices; idgw.purge) and show how many went from each table."""
    from idgw.purge import purge
    from idgw.storage.db import make_engine, make_sessionmaker

    settings = _db_settings()
    engine = make_engine(settings.database_url)
    try:
        removed = purge(make_sessionmaker(engine), now=int(time.time()), settings=settings)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(removed))
        return
    width = max(len(name) for name in [*removed, "total"])
    for name, count in [*removed.items(), ("total", sum(removed.values()))]:
        typer.echo(f"{name:<{width}}  {count:>9}")


def ensure_demo(settings: Settings, *, rp_base: str) -> tuple[str, str]:
    """Create (once) the demo e-service client and demo citizen; returns (client_id, secret)."""
    from idgw.admin import add_client, add_user
    from idgw.storage.models import Client

    secret_file = Path("var/demo-client-secret")
    with _session(settings) as db:
        now = int(time.time())
        if db.get(Client, DEMO_CLIENT_ID) is None or not secret_file.exists():
            if db.get(Client, DEMO_CLIENT_ID) is not None:
                from idgw.admin import remove_client

                remove_client(db, client_id=DEMO_CLIENT_ID, now=now, actor="demo")
                db.flush()
            new = add_client(db, name="บริการตัวอย่าง (Demo e-service)", client_id=DEMO_CLIENT_ID,
                             redirect_uris=[rp_base + "/callback"], post_logout_redirect_uris=[rp_base + "/"],
                             backchannel_logout_uri=rp_base + "/backchannel-logout", now=now, actor="demo", dev=True)
            secret_file.parent.mkdir(parents=True, exist_ok=True)
            secret_file.write_text(new.client_secret)
            secret_file.chmod(0o600)
        demo_client = db.get(Client, DEMO_CLIENT_ID)
        demo_client.redirect_uris = [rp_base + "/callback"]  # the demo's address may have changed
        demo_client.post_logout_redirect_uris = [rp_base + "/"]
        demo_client.backchannel_logout_uri = rp_base + "/backchannel-logout"
        from idgw.assurance import PolicyInput, current_row, set_policy
        from policies import default_matrix

        db.flush()
        if current_row(db, DEMO_CLIENT_ID) is None:
            # A demo request service: low inconvenience and financial impact -> IAL 1.1 / AAL 1.
            impacts = {c.id: "none" for c in default_matrix().categories} | {"reputation": "low", "financial": "low"}
            set_policy(db, client_id=DEMO_CLIENT_ID, actor="demo",
                       data=PolicyInput(needs_verified_identity=True, proofing_impacts=impacts), now=now)
        from idgw.login.password import find_account

        if find_account(db, DEMO_USER[0]) is None:
            add_user(db, username=DEMO_USER[0], password=DEMO_USER[1], now=now, email="somchai@example.go.th",
                     given_name="Somchai", family_name="Jaidee", given_name_th="สมชาย", family_name_th="ใจดี",
                     citizen_id="1345951597671", actor="demo")
        db.commit()
    return DEMO_CLIENT_ID, secret_file.read_text().strip()


def start_simulators(*, gateway_url: str, thaid_port: int, ndid_port: int, dopa_port: int = 0,
                     dbd_port: int = 0) -> Path:
    """Start the ThaiD-style and NDID-style simulators (and the DOPA-style card check when ``dopa_port``,
    the DBD-style company registry when ``dbd_port``) in this process and write the providers file that
    points the gateway at them; returns its path."""
    import yaml

    from providers.simulators.dopa import create_dopa_app
    from providers.simulators.ndid import create_ndid_app
    from providers.simulators.server import ServerThread
    from providers.simulators.thaid import create_thaid_app

    thaid_url = f"http://127.0.0.1:{thaid_port}"
    secret = "demo-thaid-secret-not-for-production"
    ServerThread(create_thaid_app(issuer=thaid_url, client_id="idgw", client_secret=secret,
                                  redirect_uris=[gateway_url + "/upstream/thaid/callback"]), port=thaid_port).start()
    ServerThread(create_ndid_app(), port=ndid_port).start()
    if dopa_port:
        ServerThread(create_dopa_app(), port=dopa_port).start()
    if dbd_port:
        from providers.simulators.dbd import create_dbd_app

        ServerThread(create_dbd_app(), port=dbd_port).start()
    path = Path("var/providers.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"providers": [
        {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี (จำลอง)", "en": "ThaiD (simulated)"},
         "issuer": thaid_url, "client_id": "idgw", "client_secret": secret, "trusted_aal": "2.2",
         "max_ial": "2.3"},
        {"name": "ndid", "type": "ndid",
         "display_name": {"th": "NDID แอปธนาคาร (จำลอง)", "en": "NDID bank app (simulated)"},
         "api_base": f"http://127.0.0.1:{ndid_port}", "request_timeout": 300},
    ]}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@app.command()
def demo(port: int = 8000, rp_port: int = 8001, thaid_port: int = 8100, ndid_port: int = 8200,
         dopa_port: int = 8300, dbd_port: int = 8400) -> None:
    """Everything for a first look: dev settings, migrated SQLite, keys, a demo e-service and citizen,
    and the ThaiD, NDID and DOPA-style simulators."""
    import asyncio
    import os

    import uvicorn

    from idgw.app import create_app
    from idgw.demo_rp import create_demo_app
    from idgw.server import server_options
    from idgw.storage.db import upgrade

    os.environ.setdefault("IDGW_DEV", "1")
    # localhost, not 127.0.0.1: WebAuthn needs a domain name as its RP ID.
    os.environ.setdefault("IDGW_ISSUER", f"http://localhost:{port}")
    if "IDGW_PROVIDERS_FILE" not in os.environ:
        os.environ["IDGW_PROVIDERS_FILE"] = str(start_simulators(
            gateway_url=os.environ["IDGW_ISSUER"], thaid_port=thaid_port, ndid_port=ndid_port, dopa_port=dopa_port,
            dbd_port=dbd_port))
        os.environ.setdefault("IDGW_CARD_CHECK_URL", f"http://127.0.0.1:{dopa_port}")
        os.environ.setdefault("IDGW_COMPANY_REGISTRY_URL", f"http://127.0.0.1:{dbd_port}")
    settings = _settings()
    upgrade(settings.database_url)
    rp_base = f"http://localhost:{rp_port}"
    client_id, secret = ensure_demo(settings, rp_base=rp_base)
    from idgw.demo_staff import DEMO_OFFICER, ensure_demo_admins, ensure_demo_officer

    officer_secret = ensure_demo_officer(settings, lambda: _session(settings))
    admins = ensure_demo_admins(settings, lambda: _session(settings))
    from idgw.demo_delegation import ensure_demo_delegation
    from providers.dbd import DbdRegistry

    registry = (DbdRegistry(base_url=settings.company_registry_url, timeout=settings.company_registry_timeout)
                if settings.company_registry_url else None)
    ensure_demo_delegation(settings, lambda: _session(settings), client_id=client_id, registry=registry)
    with _secret_key_opens_keys():
        gateway = create_app(settings)
    rp = create_demo_app(issuer=settings.issuer, client_id=client_id, client_secret=secret, base_url=rp_base)
    typer.echo(f"\n  Gateway:      {settings.issuer}  (discovery: {settings.issuer}/.well-known/openid-configuration)")
    typer.echo(f"  Demo service: {rp_base}/   <- open this and sign in")
    typer.echo(f"  Demo citizen: {DEMO_USER[0]} / {DEMO_USER[1]}  (or sign in with the ThaiD / NDID simulators)")
    typer.echo(f"  NDID 'bank app': http://127.0.0.1:{ndid_port}/idp-app  (approve the request there)")
    from providers.simulators.citizens import DEMO_CITIZENS

    lasers = ", ".join(f"{c['pid']} {c['laser']}" + (" (card revoked)" if c.get("card_revoked") else "")
                       for c in DEMO_CITIZENS)
    typer.echo(f"  DOPA card check (simulated): {os.environ.get('IDGW_CARD_CHECK_URL', '(not started)')}"
               f"  fictitious laser codes: {lasers}")
    typer.echo(f"  Officer console: {settings.issuer}/officer  as {DEMO_OFFICER[0]} / {DEMO_OFFICER[1]}, app secret "
               f"{officer_secret} (current code: idgw proofing officer-code)")
    typer.echo(f"  Admin console: {settings.issuer}/admin  as " + " or ".join(
        f"{name} / {password} (app secret {secret})" for name, password, secret in admins)
        + "; two admins, for four-eyes changes (current code: idgw proofing officer-code --who NAME; staff "
        "pages need AAL 2.2: after the first sign-in add a passkey on /account)")
    typer.echo(f"  Delegation:   {settings.issuer}/delegations  two drafts to sign: Somchai -> Somying (1101700123456),"
               f" and Example Trading Co., Ltd. (0105564001230; Somchai and Somying jointly) -> Prasert "
               f"(5701200987653); sign in with ThaiD (simulated)\n")

    async def main():
        servers = [uvicorn.Server(uvicorn.Config(gateway, host="127.0.0.1", port=port, access_log=False,
                                                 **proxy_options(settings),
                                                 # the demo's console stays readable text unless asked
                                                 **server_options(dataclasses.replace(
                                                     settings, log_format=os.environ.get("IDGW_LOG_FORMAT",
                                                                                         "text"))))),
                   uvicorn.Server(uvicorn.Config(rp, host="127.0.0.1", port=rp_port, access_log=False))]
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(main())


_register_policy_commands()


def _database_url() -> str | None:
    try:
        return Settings.from_env(dev=True).database_url
    except Exception:  # noqa: BLE001 - a configuration error was told already, or will be
        return None


def main() -> None:
    """The ``idgw`` command (the console script and ``python -m idgw``): ``app``, with what an
    operator can fix told in one line and exit status 1 instead of a traceback: a file that cannot
    be read or written (``policy import``, ``audit export --output`` ...), a database that is
    unavailable, or whose schema is missing or behind this release (``idgw.storage.probe.explain``)."""
    try:
        app(prog_name="idgw")
    except Exception as error:
        from idgw.storage.probe import explain

        line = file_error(error) or explain(error, _database_url())
        if line is None:
            raise
        typer.echo(f"error: {line}", err=True)
        sys.exit(1)


def file_error(error: BaseException) -> str | None:
    """``path: reason`` for an error opening, reading or writing a named file; None otherwise."""
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror or type(error).__name__}"
    return None
