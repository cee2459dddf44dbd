"""create_app(settings): builds the object graph and mounts the routers. No logic."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import logging
import os
import secrets
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from idgw import __version__, health, observe, route_index
from idgw.audit import chain as audit_chain
from idgw.audit import sinks as audit_sinks
from idgw.audit import timer as audit_timer
from idgw.authn import Registry
from idgw.authn.totp import RecoveryCodeAuthenticator, TOTPAuthenticator
from idgw.authn.webauthn import WebAuthnAuthenticator
from idgw.clock import Clock
from idgw.console import audit_pages as console_audit
from idgw.console import changes_pages as console_changes
from idgw.console import keys_pages as console_keys
from idgw.console import services_pages as console_services
from idgw.console import staff_pages as console_staff
from idgw.console import upstreams_pages as console_upstreams
from idgw.delegation import admin_pages as delegation_admin
from idgw.delegation import login_pages as delegation_login
from idgw.delegation import ndid_approval as delegation_ndid
from idgw.delegation import pages as delegation_pages
from idgw.delegation import use as delegation_use
from idgw.delegation import verify_pages as delegation_verify
from idgw.delegation.runtime import DelegationRuntime
from idgw.health import Health
from idgw.httpio import BodyError, RejectNul
from idgw.login.password import hashing_executor
from idgw.login.sessions import AccountDisabledError
from idgw.oidc import routes as oidc_routes
from idgw.oidc.backchannel import BackchannelLogout
from idgw.oidc.endpoints import OAuthEndpoints
from idgw.oidc.keys import KeyStore
from idgw.oidc.provider import ENDPOINT_PATHS, Provider
from idgw.outer import outermost
from idgw.proofing import call as proofing_call
from idgw.proofing import citizen_pages as proofing_citizen
from idgw.proofing import officer_pages as proofing_officer
from idgw.proofing import signals as proofing_signals
from idgw.proofing.runtime import ProofingRuntime
from idgw.security import Sealer, derive_key
from idgw.settings import Settings
from idgw.storage import wal
from idgw.storage.db import dispose_loop_pool, make_engine, make_sessionmaker
from idgw.storage.models import InstanceSecret
from idgw.storage.probe import require_writable
from idgw.upstream import load_upstreams
from idgw.web import account as web_account
from idgw.web import admin as web_admin
from idgw.web import admin_accounts as web_admin_accounts
from idgw.web import logout as web_logout
from idgw.web import ndid_pages as web_ndid
from idgw.web import passkeys as web_passkeys
from idgw.web import raising as web_raising
from idgw.web import routes as web_routes
from idgw.web import signin as web_signin
from idgw.web import static_routes as web_static
from idgw.web import upstream as web_upstream
from idgw.web.cookies import Cookies
from idgw.web.errors import DatabaseOutage, http_error, nul_refused, unexpected
from idgw.web.pages import Pages
from idgw.web.refusals import account_disabled

# ASVS 5.0 V3.4: no inline script anywhere, no framing, no MIME sniffing, no referrer leaks.
SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; "
     b"base-uri 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
PERMISSIONS = (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")
# Officer video proofing: the citizen's and the officer's call pages use this origin's camera.
CALL_PERMISSIONS = (b"permissions-policy", b"camera=(self), microphone=(self), geolocation=()")
CALL_PATHS = ("/proofing/", "/officer/")
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task overhead, unlike BaseHTTPMiddleware)."""

    def __init__(self, app, *, https: bool) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS + ([HSTS] if https else [])

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        permissions = CALL_PERMISSIONS if scope["path"].startswith(CALL_PATHS) else PERMISSIONS

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + self.headers + [permissions]
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class WellKnownDocuments:
    """Discovery and JWKS answered from memory, ahead of FastAPI's routing and the other layers: the
    two documents relying parties fetch most (measured: 2.3x the JWKS and 1.8x the discovery
    requests/s, bench/oidc_bench.py). The first answer of each comes from its route in
    idgw.oidc.routes, and its status and headers are kept; later answers replay them with the
    discovery body kept and the JWKS body always the key store's current one."""

    def __init__(self, app, *, keys: KeyStore) -> None:
        self.app = app
        self.keys = keys
        self.paths = {"/.well-known/openid-configuration": "discovery", ENDPOINT_PATHS["jwks"]: "jwks"}
        self.kept: dict[str, tuple[list, bytes]] = {}

    async def __call__(self, scope, receive, send):
        name = self.paths.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        kept = self.kept.get(name) if name else None
        if kept is None:
            return await self.app(scope, receive, self._keep(name, send) if name else send)
        headers, body = kept
        if name == "jwks":
            self.keys.refresh()
            body = self.keys.jwks_json
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    def _keep(self, name: str, send):
        start: dict = {}
        chunks: list[bytes] = []

        async def keeping_send(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body") and start.get("status") == 200:
                    headers = [(k, v) for k, v in start.get("headers", [])
                               if k.lower() not in (b"content-length", b"set-cookie")]
                    self.kept[name] = (headers, b"".join(chunks))
            await send(message)

        return keeping_send


@dataclass
class Gateway:
    settings: Settings
    clock: Clock
    engine: object
    sessionmaker: object
    keys: KeyStore
    provider: Provider
    pages: Pages
    authenticators: Registry
    upstreams: dict
    backchannel: BackchannelLogout
    proofing: ProofingRuntime
    delegation: DelegationRuntime
    hashing: Executor  # where argon2id runs (idgw.login.password.hashing_executor)
    health: Health | None = None  # readiness and the database-outage account (idgw.health)

    @staticmethod
    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"


def instance_secret(sessionmaker, name: str) -> bytes:
    """A random per-deployment value, created on first use and then stable (survives restarts)."""
    with sessionmaker() as db:
        row = db.get(InstanceSecret, name)
        if row is None:
            db.add(InstanceSecret(name=name, value=secrets.token_hex(32)))
            try:
                db.commit()
            except IntegrityError:  # another worker created it first
                db.rollback()
            row = db.get(InstanceSecret, name)
        return bytes.fromhex(row.value)


def build_gateway(settings: Settings, *, clock: Clock | None = None) -> Gateway:
    clock = clock or Clock()
    if settings.dev and settings.issuer.startswith("http://"):
        # Authlib refuses http URIs unless told; dev mode on loopback only (settings.validate).
        os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    engine = make_engine(settings.database_url, threads=settings.db_threads, background_checkpoints=True,
                         on_loop=True)
    # A SQLite file this process cannot write stops start-up here, naming the file
    # (DatabaseStartError), rather than at the first sign-in.
    require_writable(engine)
    # Audit events committed through this engine are copied to the configured sinks (file, syslog).
    audit_sinks.attach(engine, audit_sinks.build(settings))
    audit_chain.configure(engine, settings.audit_chains)
    sm = make_sessionmaker(engine)
    keys = KeyStore(sessionmaker=sm, sealer=Sealer(derive_key(settings.secret_key, "jwk-at-rest")), clock=clock,
                    max_token_ttl=settings.max_token_ttl)
    with sm() as db:
        keys.ensure(db)
        db.commit()
    keys.refresh(force=True)
    provider = Provider(settings=settings, keys=keys, clock=clock,
                        pairwise_salt=instance_secret(sm, "pairwise_salt"),
                        acting=delegation_use.acting, mandate_use=delegation_use.use,
                        exchange=delegation_use.exchange)
    authenticators = Registry()
    authenticators.register(TOTPAuthenticator(sealer=Sealer(derive_key(settings.secret_key, "totp-at-rest"))))
    authenticators.register(RecoveryCodeAuthenticator())
    authenticators.register(WebAuthnAuthenticator(rp_id=settings.rp_id, rp_name="idgw", origin=settings.origin,
                                                  aal3_aaguids=settings.aal3_aaguid_set))
    upstreams = load_upstreams(settings.providers_file)
    return Gateway(settings=settings, clock=clock, engine=engine, sessionmaker=sm, keys=keys, provider=provider,
                   pages=Pages(settings), authenticators=authenticators, upstreams=upstreams,
                   backchannel=BackchannelLogout(sessionmaker=sm, provider=provider, clock=clock),
                   proofing=ProofingRuntime.build(settings),
                   delegation=DelegationRuntime.build(settings, sessionmaker=sm, provider=provider, clock=clock),
                   hashing=hashing_executor(settings.hash_threads),
                   health=Health(database_url=settings.database_url, keys=keys, upstreams=upstreams))


def settle_heap() -> None:
    """Once the app is built: move every object made so far (modules, routes, templates, mappers)
    out of the garbage collector's reach, so a full collection no longer walks them all in the
    middle of a request (a p99 latency spike)."""
    gc.collect()
    gc.freeze()


#: FastAPI 0.16x asks OpenTelemetry on every request whether a tracer, meter or logger provider is
#: configured (``enabled()``: three provider look-ups per request, ~1% of a token request's CPU in
#: py-spy). The gateway's telemetry is its own (``idgw.observe``: Prometheus metrics, JSON access
#: lines with request ids), so FastAPI's is off, where the installed FastAPI has it.
NO_NATIVE_TELEMETRY = ({"telemetry": {"tracing": False, "metrics": False, "logs": False}}
                       if "telemetry" in inspect.signature(FastAPI.__init__).parameters else {})


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    gw = build_gateway(settings, clock=clock)
    # Authlib logs issued tokens at DEBUG; never let a verbose root logger write them out.
    logging.getLogger("authlib").setLevel(logging.INFO)
    @contextlib.asynccontextmanager
    async def lifespan(_app):
        # Background work of this process: sending back-channel logout notices.
        sender = asyncio.create_task(gw.backchannel.run(), name="backchannel-logout")
        # ...and ending abandoned proofing cases.
        sweeper = asyncio.create_task(proofing_call.sweep(gw), name="proofing-sweeper")
        # ...and telling e-services that a delegation ended (Security Event Tokens).
        events = asyncio.create_task(gw.delegation.events.run(), name="security-events")
        # ...and removing rows nothing needs any more (expired tokens, old sessions: idgw.purge).
        from idgw.purge import run_purge_timer

        purger = asyncio.create_task(run_purge_timer(gw.sessionmaker, gw.settings, gw.clock), name="purge")
        # ...and signing the audit chains' heads (idgw.audit.checkpoints).
        signer = asyncio.create_task(audit_timer.run_checkpoints(gw), name="audit-checkpoints")
        # ...and hearing what other instances decided about proofing cases (idgw.proofing.signals).
        signals = asyncio.create_task(proofing_signals.run(gw), name="proofing-signals")
        # ...and, on SQLite, checkpointing the write-ahead log off the requests' path (idgw.storage.wal).
        checkpoints = asyncio.create_task(wal.run(gw.engine), name="sqlite-checkpoints")
        try:
            yield
        finally:
            for task in (sender, sweeper, events, purger, signer, signals, checkpoints):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            dispatcher = audit_sinks.attached(gw.engine)
            if dispatcher is not None:
                await asyncio.to_thread(dispatcher.close)  # what was committed reaches the sinks
            await gw.proofing.aclose()
            await dispose_loop_pool(gw.engine)
            # Idle threads end, a verification under way finishes; the app served again gets new ones.
            gw.hashing.shutdown(wait=False)
            gw.hashing = hashing_executor(gw.settings.hash_threads)

    app = FastAPI(title="idgw", version=__version__, docs_url=None, redoc_url=None, openapi_url=None,
                  lifespan=lifespan, **NO_NATIVE_TELEMETRY)
    app.state.gateway = gw
    app.include_router(oidc_routes.router)
    app.include_router(web_routes.router)
    app.include_router(web_logout.router)  # /logout, /
    app.include_router(web_raising.router)
    app.include_router(web_signin.router)
    # The console before the policy pages: /admin/services/new is not a service called "new".
    app.include_router(console_changes.router)  # /admin (the console's home), /admin/changes...
    app.include_router(console_services.router)  # /admin/services/new, /admin/services/{id}/settings...
    app.include_router(console_staff.router)  # /admin/staff...
    app.include_router(console_keys.router)  # /admin/keys...
    app.include_router(console_upstreams.router)  # /admin/upstreams...
    app.include_router(console_audit.router)  # /admin/audit...
    app.include_router(web_admin.router)  # /admin/services, /admin/services/{client_id}
    app.include_router(web_admin_accounts.router)  # /admin/accounts...
    app.include_router(web_account.router)
    app.include_router(web_passkeys.router)
    app.include_router(web_upstream.router)
    app.include_router(web_ndid.router)
    app.include_router(web_static.router)  # /favicon.ico
    app.include_router(proofing_citizen.router)  # /interaction/{iid}/proofing..., /proofing/...
    app.include_router(proofing_officer.router)  # /officer/...
    proofing_call.install(app, gw)  # /proofing/ws/{case}, the officer's live checks
    app.include_router(delegation_pages.router)  # /delegations/...
    app.include_router(delegation_verify.router)  # /delegations/verify..., /delegations/{id}/print
    app.include_router(delegation_admin.router)  # /admin/services/{client_id}/delegation
    app.include_router(delegation_login.router)  # /interaction/{iid}/acting
    app.include_router(delegation_ndid.router)  # /delegations/{id}/ndid..., /delegations/document/{sha256}
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static")
    app.mount("/proofing/static", StaticFiles(directory=Path(__file__).parent / "proofing" / "static"),
              name="proofing-static")
    # A body refused while it streamed in (413, 408, 415) or abandoned by its client: answered
    # here for every route, never uvicorn's "Exception in ASGI application" (idgw.httpio).
    app.add_exception_handler(BodyError, gw.pages.body_refused)
    app.add_exception_handler(ClientDisconnect, gw.pages.body_refused)
    app.add_exception_handler(StarletteHTTPException, http_error(gw.pages))  # 404, 405: a page or JSON
    app.add_exception_handler(AccountDisabledError, account_disabled(gw.pages))  # a sign-in to a disabled account
    app.add_exception_handler(Exception, unexpected(gw.pages))

    app.include_router(health.router)  # /healthz, /readyz

    # Served ahead of routing, inside the security headers: token, introspection, revocation...
    app.add_middleware(OAuthEndpoints, gateway=gw)
    # Cookies as the browser sees them: __Host- names on https, only gateway-issued browser ids.
    app.add_middleware(Cookies, https=settings.cookie_secure, browser_ids=gw.pages.browser_ids)
    app.add_middleware(RejectNul, answer=nul_refused(gw.pages))
    # The database unavailable anywhere inside (pages, the token endpoint...): 503 and one log line.
    app.add_middleware(DatabaseOutage, gateway=gw)
    app.add_middleware(SecurityHeaders, https=settings.cookie_secure)
    # Outside FastAPI's own layers (idgw.outer), outermost first: /metrics, request ids, request
    # metrics and the access line; then discovery and JWKS, whose first answer goes through every
    # layer above and is kept as it left them (security headers included), later ones replayed.
    observe.install(app, gw)
    outermost(app, WellKnownDocuments, keys=gw.keys)
    route_index.install(app)  # every route is in place: route by the path's first segment
    return app
