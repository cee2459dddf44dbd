"""A small demo e-service: an OIDC relying party that signs in through the gateway (code flow +
PKCE S256, state, nonce, RFC 9207 iss check), shows the verified ID token claims, and has one
operation ("submit a request") whose API needs AAL 2.1. That API uses the resource-server kit
(``idgw.rs``): with a weaker sign-in it answers the RFC 9470 challenge, and the demo then asks
the gateway to step up with the ``acr_values`` and ``max_age`` the challenge names.

It honours OpenID Connect Back-Channel Logout 1.0: when the person signs out at the gateway (or
anywhere else that ends their gateway session), the gateway POSTs a signed logout token to
``/backchannel-logout`` and the demo ends its own sessions with that ``sid``.

For people: Thai and English on every page, landmarks, a phone-sized layout, its own stylesheet
(``/demo.css``; no inline style under its CSP). "Sign out" ends the demo's own session and says so,
then offers signing out of idgw too (RP-initiated logout with the ID token as hint). A reload or
Back at ``/callback`` never shows a protocol error: the sign-ins are kept by ``state``, so a used
answer leads to the signed-in page or to "this sign-in link was already used". Errors from the
gateway (a declined consent, a sign-in too weak for the service...) are said in plain words, with
the code in small print."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idgw.httpio import BodyError, parse_form, read_body
from idgw.rs import TokenValidator, parse_challenge, require_token

SUBMIT_ACR = "urn:idgw:aal:2.1"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
PENDING_LIFETIME = 600  # seconds a started sign-in may take
# The demo is its own site with its own headers: no inline script or style here either.
HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
                                      "frame-ancestors 'none'"}
NAME = ("บริการตัวอย่าง", "Demo e-service")
# Focus ring: a dark ring (#111, 18.9:1 on white) outside a white one (8.4:1 on the blue
# header and buttons #0b4f8a): one of them stands out on any background (WCAG 1.4.11, C40).
CSS = """* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 "Sarabun", "Noto Sans Thai", "Loma", system-ui, sans-serif; color: #1b1f24;
       background: #f3f5f2; }
a { color: #0b4f8a; }
:focus-visible { outline: 3px solid #111; outline-offset: 3px; box-shadow: 0 0 0 3px #fff; }
main:focus { outline: none; }
.skip-link { position: absolute; left: .5rem; top: -4rem; padding: .6rem 1rem; background: #fff; color: #1b1f24; }
.skip-link:focus { top: .5rem; }
header { padding: .75rem 1.25rem; background: #24563a; color: #fff; }
header p { margin: 0; }
header .brand { font-weight: 700; font-size: 1.1rem; }
main { max-width: 44rem; margin: 1.5rem auto; padding: 1.5rem; background: #fff; border-radius: 8px;
       box-shadow: 0 1px 3px rgba(0,0,0,.12); overflow-wrap: break-word; }
h1 { font-size: 1.5rem; line-height: 1.3; margin: 0 0 1rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
footer { max-width: 44rem; margin: 0 auto 2rem; padding: 0 1.5rem; color: #4a5058; font-size: .95rem; }
button, a.button { display: inline-block; min-height: 2.75rem; margin: .75rem .5rem 0 0; padding: .6rem 1.25rem;
  font: inherit; text-align: center; text-decoration: none; cursor: pointer; border: 1px solid #0b4f8a;
  border-radius: 4px; background: #0b4f8a; color: #fff; }
button.secondary, a.button.secondary { background: #e4e7eb; color: #1b1f24; border-color: #59616b; }
form { margin: 0; }
.actions { display: flex; flex-wrap: wrap; align-items: center; }
.status { padding: .6rem .8rem; border-left: 4px solid #1b6e20; background: #eef6ee; }
.problem { padding: .6rem .8rem; border-left: 4px solid #a4161a; background: #fbeeee; }
.code { font-size: .875rem; color: #4a5058; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
.table-scroll { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; font-size: .9rem; }
td, th { border: 1px solid #c9ced4; padding: .3rem .6rem; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; min-width: 8rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
@media (max-width: 44rem) { main { margin: 0; padding: 1rem; border-radius: 0; box-shadow: none; }
  footer { padding: 1rem; margin: 0; } }
"""

ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" '
        'fill="#24563a"/><path d="M9 7h11l4 4v14H9z" fill="#fff"/><path d="M12 14h9M12 18h9M12 22h6" '
        'stroke="#24563a" stroke-width="2"/></svg>')

TEXTS = {
    "footer": ("บริการสาธิตเท่านั้น ข้อมูลเก็บไว้ในหน่วยความจำและหายไปเมื่อปิดโปรแกรม",
               "For demonstration only: what it keeps is in memory and gone when it stops."),
    "submit_needs": ("ยื่นคำขอได้เมื่อเข้าสู่ระบบด้วยการยืนยันตัวตนสองขั้น (AAL 2.1)",
                     "Submitting a request needs a two-step sign-in (AAL 2.1)."),
    "signed_out_both": ("ท่านออกจากบริการตัวอย่างและจาก idgw แล้ว",
                        "You have signed out of the demo e-service and of idgw."),
    "ended_by_gateway": ("ท่านออกจากระบบแล้ว เพราะได้ออกจากระบบที่ idgw",
                         "You were signed out because you signed out at idgw."),
    "signed_out_here": ("ท่านออกจากบริการตัวอย่างแล้ว", "You have signed out of the demo e-service."),
    "still_at_gateway": ("ท่านอาจยังเข้าสู่ระบบ idgw อยู่ การเข้าสู่ระบบครั้งต่อไปจึงอาจไม่ถามรหัสผ่าน "
                         "หากใช้เครื่องร่วมกับผู้อื่น ควรออกจากระบบ idgw ด้วย",
                         "You may still be signed in at idgw, so your next sign-in may not ask for your password. "
                         "On a shared device, sign out of idgw too."),
}


def bi(th: str, en: str) -> str:
    """Thai first, then English marked as English (WCAG 3.1.2), as one line: "ไทย / English"."""
    return f'{html.escape(th)} / <span lang="en">{html.escape(en)}</span>'


def page(title: tuple[str, str], body: str, status: int = 200) -> HTMLResponse:
    """A whole page: ``title`` names it (<title> and <h1>), ``body`` is markup."""
    th, en = title
    doc = (f'<!doctype html><html lang="th"><head><meta charset="utf-8">'
           f'<meta name="viewport" content="width=device-width, initial-scale=1">'
           f"<title>{html.escape(th)} / {html.escape(en)} · {NAME[0]} / {NAME[1]}</title>"
           f'<link rel="icon" href="/favicon.svg" type="image/svg+xml">'
           f'<link rel="stylesheet" href="/demo.css"></head><body>'
           f'<a class="skip-link" href="#main">{bi("ข้ามไปยังเนื้อหาหลัก", "Skip to main content")}</a>'
           f'<header><p class="brand">{bi(*NAME)}</p>'
           f"<p>{bi('ตัวอย่างบริการที่เข้าสู่ระบบด้วย idgw', 'A sample service that signs people in with idgw')}</p>"
           f'</header><main id="main" tabindex="-1"><h1>{bi(*title)}</h1>{body}</main>'
           f"<footer><p>{bi(*TEXTS['footer'])}</p></footer></body></html>")
    return HTMLResponse(doc, status_code=status, headers=HEADERS)


def sign_in_button(label: tuple[str, str] = ("เข้าสู่ระบบด้วย idgw", "Sign in with idgw"), *,
                   secondary: bool = False, href: str = "/login") -> str:
    return f'<a class="button{" secondary" if secondary else ""}" href="{href}">{bi(*label)}</a>'


VERIFIED_ACR = "urn:idgw:ial:2.2"
VERIFIED_LABEL = ("เข้าสู่ระบบด้วยตัวตนที่ยืนยันแล้ว", "Sign in with a verified identity")
VERIFIED_NOTE = ("งานที่ต้องยืนยันตัวตนระดับสูง (IAL 2.2) เช่น ขอรับเงินสวัสดิการ",
                 "Services that need a verified identity (IAL 2.2), such as a benefit claim:")
VERIFIED_HREF = "/login?verified=1"
DELEGATION_LABEL = ("ยื่นแบบภาษีมูลค่าเพิ่ม (ในนามตนเองหรือผู้มอบอำนาจ)", "File a VAT return (for myself or someone I act for)")
DELEGATION_NOTE = ("ผู้ที่ได้รับมอบอำนาจ (หนังสือมอบอำนาจอิเล็กทรอนิกส์) เลือกได้ว่าจะดำเนินการในนามของใคร",
                   "People holding an electronic delegation of authority choose whom they act for:")
DELEGATION_HREF = "/login?act=vat_filing"


# What a person is told when the gateway answers the sign-in with an error (OIDC Core §3.1.2.6).
ERRORS = {
    "access_denied": (
        ("ไม่ได้ส่งข้อมูล", "Nothing was shared"),
        ("ท่านไม่ได้อนุญาตให้บริการตัวอย่างรับข้อมูลของท่าน จึงไม่มีการส่งข้อมูลใด ๆ และท่านยังไม่ได้เข้าสู่ระบบ",
         "You did not allow the demo e-service to receive your information, so nothing was shared and you are "
         "not signed in."),
        ("หากเปลี่ยนใจ กดเข้าสู่ระบบอีกครั้งแล้วเลือก “อนุญาต”", "If you change your mind, sign in again and choose "
         "“Allow”.")),
    "unmet_authentication_requirements": (
        ("ต้องยืนยันตัวตนที่เข้มขึ้น", "A stronger sign-in is needed"),
        ("บริการนี้ต้องการการยืนยันตัวตนที่เข้มกว่าวิธีที่ท่านใช้ได้ในขณะนี้",
         "This service needs a stronger way of signing in than the ones you could use this time."),
        ("เพิ่มแอปยืนยันตัวตนหรือพาสคีย์ที่หน้าบัญชีของท่านใน idgw แล้วลองอีกครั้ง",
         "Add an authenticator app or a passkey on your idgw account page, then try again.")),
    "login_required": (
        ("ยังไม่ได้เข้าสู่ระบบ", "You are not signed in"),
        ("ท่านยังไม่ได้เข้าสู่ระบบที่ idgw", "You are not signed in at idgw yet."),
        ("กดเข้าสู่ระบบเพื่อดำเนินการต่อ", "Sign in to continue.")),
    "interaction_required": (
        ("ต้องดำเนินการเพิ่มเติม", "One more step is needed"),
        ("idgw ต้องให้ท่านยืนยันบางอย่างก่อน เช่น การอนุญาตให้ส่งข้อมูล",
         "idgw needs you to confirm something first, such as allowing your information to be shared."),
        ("กดเข้าสู่ระบบอีกครั้งเพื่อดำเนินการต่อ", "Sign in again to continue.")),
}
OTHER_ERROR = (
    ("เข้าสู่ระบบไม่สำเร็จ", "Sign-in did not complete"),
    ("idgw ไม่สามารถยืนยันตัวตนของท่านให้บริการนี้ได้ในครั้งนี้", "idgw could not sign you in to this service this time."),
    ("ลองเข้าสู่ระบบอีกครั้ง หากยังไม่สำเร็จ กรุณาติดต่อผู้ให้บริการพร้อมแจ้งรหัสด้านล่าง",
     "Try again. If it still does not work, contact the service and quote the code below."))


def error_code(code: str) -> str:
    return f'<p class="code">{bi("รหัสข้อผิดพลาด", "Error code")}: <code>{html.escape(code)}</code></p>'


def problem_page(title: tuple[str, str], what: tuple[str, str], next_step: tuple[str, str], *,
                 code: str | None = None, status: int = 200, signed_in: bool = False) -> HTMLResponse:
    actions = (f'<p class="actions"><a class="button" href="/">{bi("กลับไปที่บริการ", "Back to the service")}</a></p>'
               if signed_in else f'<p class="actions">{sign_in_button(("เข้าสู่ระบบอีกครั้ง", "Sign in again"))}'
               f'<a class="button secondary" href="/">{bi("หน้าแรกของบริการ", "Service home page")}</a></p>')
    body = (f'<p class="problem" role="alert">{bi(*what)}</p><p>{bi(*next_step)}</p>{actions}'
            + (error_code(code) if code else ""))
    return page(title, body, status)


def create_demo_app(*, issuer: str, client_id: str, client_secret: str, base_url: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pending: dict[str, dict] = {}  # state -> the sign-in this browser started
    sessions: dict[str, dict] = {}
    signed_out: dict[str, str] = {}  # signed-out page key -> the ID token, to sign out of idgw too
    ended_by_gateway: set[str] = set()  # sessions ended by a back-channel logout notice
    logout_states: set[str] = set()  # RP-initiated logouts on their way through idgw
    seen_logout_jti: set = set()
    redirect_uri = base_url + "/callback"
    state_cache: dict = {}
    validator = TokenValidator(issuer=issuer, audience=client_id)

    async def metadata() -> dict:
        if "meta" not in state_cache:
            async with httpx.AsyncClient(timeout=5) as http:
                state_cache["meta"] = (await http.get(issuer + "/.well-known/openid-configuration")).json()
        return state_cache["meta"]

    def browser_of(request: Request) -> str:
        return request.cookies.get("demo_rp") or secrets.token_urlsafe(16)

    async def start_login(request: Request, *, return_to: str = "/", acr_values: str | None = None,
                          max_age: str | None = None, delegation_act: str | None = None):
        meta = await metadata()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        browser = browser_of(request)
        now = time.time()
        for old in [k for k, v in pending.items() if v["started"] < now - PENDING_LIFETIME]:
            del pending[old]
        # Keyed by state and bound to this browser, so sign-ins started in two tabs both work.
        pending[state] = {"verifier": verifier, "nonce": nonce, "return_to": return_to, "browser": browser,
                          "started": now}
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "scope": "openid profile email offline_access", "state": state, "nonce": nonce,
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        if acr_values:
            params["acr_values"] = acr_values
        if max_age is not None:
            params["max_age"] = max_age
        if delegation_act:
            params["delegation_act"] = delegation_act  # the act about to be done (delegation of authority)
        response = RedirectResponse(f"{meta['authorization_endpoint']}?{httpx.QueryParams(params)}", status_code=303)
        response.set_cookie("demo_rp", browser, httponly=True, samesite="lax")
        return response

    async def keyset(*, refresh: bool = False) -> KeySet:
        if refresh or "keys" not in state_cache:
            meta = await metadata()
            async with httpx.AsyncClient(timeout=5) as http:
                state_cache["keys"] = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
        return state_cache["keys"]

    async def verify_logout_token(token: str) -> dict:
        """Back-Channel Logout 1.0 §2.6: signature, typ, iss, aud, iat/exp, events, no nonce, sid or sub."""
        try:
            decoded = jwt.decode(token, await keyset(), algorithms=["ES256", "RS256", "PS256"])
        except (JoseError, ValueError):
            decoded = jwt.decode(token, await keyset(refresh=True), algorithms=["ES256", "RS256", "PS256"])
        claims = decoded.claims
        if decoded.header.get("typ") != "logout+jwt":
            raise ValueError("not a logout token")
        jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": issuer},
                              aud={"essential": True, "value": client_id}, iat={"essential": True},
                              exp={"essential": True}).validate(claims)
        if not isinstance(claims.get("events"), dict) or BACKCHANNEL_EVENT not in claims["events"]:
            raise ValueError("no back-channel logout event")
        if "nonce" in claims or not (claims.get("sid") or claims.get("sub")):
            raise ValueError("malformed logout token")
        if claims.get("jti") in seen_logout_jti:
            raise ValueError("logout token replayed")
        seen_logout_jti.add(claims.get("jti"))
        return claims

    async def call_api(tokens: dict) -> httpx.Response:
        async with httpx.AsyncClient(timeout=5) as http:
            return await http.post(base_url + "/api/requests",
                                   headers={"Authorization": f"Bearer {tokens['access_token']}"})

    async def submit_with(request: Request, request_session: dict):
        """Call the protected API; on an RFC 9470 challenge, step up at the gateway and come back."""
        resp = await call_api(request_session["tokens"])
        if resp.status_code == 401:
            params = parse_challenge(resp.headers.get("www-authenticate", ""))
            if params.get("error") == "insufficient_user_authentication":
                return await start_login(request, return_to="/submit", acr_values=params.get("acr_values"),
                                         max_age=params.get("max_age"))
        if resp.status_code != 200:
            return problem_page(("ส่งคำขอไม่สำเร็จ", "Your request was not sent"),
                                ("บริการไม่สามารถรับคำขอของท่านได้ในขณะนี้", "The service could not take your "
                                 "request just now."), ("กรุณาลองใหม่อีกครั้งภายหลัง", "Please try again later."),
                                code=f"HTTP {resp.status_code}", status=502, signed_in=True)
        receipt = resp.json()
        return page(("ได้รับคำขอแล้ว", "Request received"),
                    f'<p class="status" role="status">{bi("ได้รับคำขอของท่านแล้ว", "Request received")}: '
                    f"<strong>{html.escape(receipt['reference'])}</strong></p>"
                    f"<p>{bi('ระดับการยืนยันตัวตนที่ใช้', 'Sign-in level used')}: "
                    f"<code>{html.escape(receipt['acr'])}</code></p>"
                    f'<p class="actions"><a class="button" href="/">{bi("กลับไปที่บริการ", "Back to the service")}'
                    f"</a></p>")

    def signed_in_page(current: dict, *, alg: str | None = None) -> HTMLResponse:
        claims, profile = current["claims"], current.get("userinfo") or {}
        name = str(profile.get("name") or " ".join(str(profile.get(k) or "") for k in ("given_name", "family_name")))
        name = name.strip()
        rows = "".join(f'<tr><th scope="row">{html.escape(k)}</th>'
                       f"<td><code>{html.escape(json.dumps(v, ensure_ascii=False))}</code></td></tr>"
                       for k, v in claims.items())
        acting = ""
        if isinstance(claims.get("act"), dict) and isinstance(claims.get("delegation"), dict):
            # RFC 8693 act: someone acts for the principal (sub); the delegation claim says for whom and what.
            principal = claims["delegation"].get("principal") or {}
            names = principal.get("name") or {}
            acting = (f'<p class="status" role="status">{bi("ดำเนินการในนามของ", "Acting on behalf of")}: '
                      f'<strong>{html.escape(str(names.get("th") or ""))} / {html.escape(str(names.get("en") or ""))}'
                      f"</strong> ({html.escape(', '.join(map(str, claims['delegation'].get('acts') or [])))})</p>")
        caption = bi("ID token ที่ตรวจลายมือชื่อแล้ว", "Verified ID token") + (f" ({html.escape(alg)})" if alg else "")
        body = (f'<p class="status" role="status">{bi("ลงชื่อเข้าใช้สำเร็จ", "Signed in")}'
                + (f": <strong>{html.escape(name)}</strong>" if name else "") + "</p>" + acting +
                f"<p>{bi(*TEXTS['submit_needs'])}</p>"
                f'<form method="post" action="/submit"><button type="submit">'
                f"{bi('ยื่นคำขอ (ต้องใช้ AAL 2.1)', 'Submit a request (needs AAL 2.1)')}</button></form>"
                f"<h2>{bi('ข้อมูลที่ได้รับจาก idgw', 'What idgw sent about you')}</h2>"
                f'<div class="table-scroll"><table><caption>{caption}</caption><thead><tr>'
                f'<th scope="col">claim</th><th scope="col">{bi("ค่า", "value")}</th></tr></thead>'
                f"<tbody>{rows}</tbody></table></div>"
                f"<h2>{bi('ออกจากระบบ', 'Sign out')}</h2>"
                f'<form method="post" action="/logout"><button type="submit" class="secondary">'
                f"{bi('ออกจากระบบ', 'Sign out')}</button></form>")
        return page(("เข้าสู่ระบบแล้ว", "Signed in"), body)

    async def userinfo(tokens: dict) -> dict:
        """The person's name for the page (OIDC Core §5.3); the page does without it on failure."""
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                answer = await http.get((await metadata())["userinfo_endpoint"],
                                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
            data = answer.json() if answer.status_code == 200 else {}
            return data if isinstance(data, dict) else {}
        except (httpx.HTTPError, ValueError, KeyError):
            return {}

    def start_page(notice: str = "") -> HTMLResponse:
        return page(NAME, notice + f"<p>{bi('กรุณาเข้าสู่ระบบก่อนยื่นคำขอ', 'Please sign in before submitting a request.')}"
                    f'</p><p class="actions">{sign_in_button()}</p><p>{bi(*VERIFIED_NOTE)}</p>'
                    f'<p class="actions">{sign_in_button(VERIFIED_LABEL, secondary=True, href=VERIFIED_HREF)}</p>'
                    f"<p>{bi(*DELEGATION_NOTE)}</p>"
                    f'<p class="actions">{sign_in_button(DELEGATION_LABEL, secondary=True, href=DELEGATION_HREF)}</p>')

    @app.get("/demo.css", include_in_schema=False)
    async def stylesheet():
        return Response(CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/favicon.svg", include_in_schema=False)
    async def favicon():
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=3600"})

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        key = request.cookies.get("demo_session", "")
        if key in sessions:
            return signed_in_page(sessions[key])
        state = request.query_params.get("state")
        if state and state in logout_states:  # back from idgw's end_session endpoint
            logout_states.discard(state)
            return start_page(f'<p class="status" role="status">{bi(*TEXTS["signed_out_both"])}</p>')
        if key in ended_by_gateway:
            ended_by_gateway.discard(key)
            response = start_page(f'<p class="status" role="status">{bi(*TEXTS["ended_by_gateway"])}</p>')
            response.delete_cookie("demo_session")
            return response
        return start_page()

    @app.get("/login")
    async def login(request: Request):
        # "verified=1": the service asks for a verified identity (IAL 2.2); a citizen below it is
        # offered a way to raise it (ThaiD, NDID, or a video call with an officer).
        verified = request.query_params.get("verified") == "1"
        # "act=vat_filing": the citizen is about to file a VAT return, for themselves or for someone
        # who delegated it to them (the gateway offers the choice).
        act = "vat_filing" if request.query_params.get("act") == "vat_filing" else None
        return await start_login(request, acr_values=VERIFIED_ACR if verified else None, delegation_act=act)

    @app.post("/submit")
    async def submit(request: Request):
        current = sessions.get(request.cookies.get("demo_session", ""))
        if current is None:
            return await start_login(request, return_to="/submit")
        return await submit_with(request, current)

    @app.post("/api/requests")
    async def api_requests(claims: dict = Depends(require_token(validator, acr=SUBMIT_ACR))):
        return {"status": "received", "reference": "REQ-" + secrets.token_hex(4).upper(), "acr": claims["acr"]}

    @app.post("/backchannel-logout")
    async def backchannel_logout(request: Request):
        no_store = {"Cache-Control": "no-store"}
        try:
            form = parse_form(await read_body(request, limit=16 * 1024, timeout=10))
            claims = await verify_logout_token(form.get("logout_token", ""))
        except BodyError as exc:
            if exc.status is None:
                raise
            return JSONResponse({"error": exc.code}, status_code=exc.status, headers=no_store)
        except (JoseError, ValueError, httpx.HTTPError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)[:200]},
                                status_code=400, headers=no_store)
        ended = [key for key, s in sessions.items()
                 if (claims.get("sid") and s["claims"].get("sid") == claims["sid"])
                 or (not claims.get("sid") and s["claims"].get("sub") == claims.get("sub"))]
        for key in ended:
            sessions.pop(key, None)
            ended_by_gateway.add(key)
        return Response(status_code=200, headers=no_store)

    @app.get("/logout")
    async def logout_page():
        return RedirectResponse("/", status_code=303)  # signing out is a POST (the button on the page)

    @app.post("/logout")
    async def logout(request: Request):
        """Sign out of this service only, then say so and offer signing out of idgw too."""
        current = sessions.pop(request.cookies.get("demo_session", ""), None)
        response = RedirectResponse("/signed-out", status_code=303)
        response.delete_cookie("demo_session")
        if current is not None:
            key = secrets.token_urlsafe(16)
            signed_out[key] = current["tokens"]["id_token"]
            response.set_cookie("demo_signed_out", key, httponly=True, samesite="lax")
        return response

    @app.get("/signed-out", response_class=HTMLResponse)
    async def signed_out_page(request: Request):
        if request.cookies.get("demo_session", "") in sessions:
            return RedirectResponse("/", status_code=303)
        body = (f'<p class="status" role="status">{bi(*TEXTS["signed_out_here"])}</p>'
                f"<p>{bi(*TEXTS['still_at_gateway'])}</p>"
                f'<form method="post" action="/logout/idgw" class="actions"><button type="submit">'
                f"{bi('ออกจากระบบ idgw ด้วย', 'Sign out of idgw too')}</button>"
                f"{sign_in_button(('เข้าสู่ระบบอีกครั้ง', 'Sign in again'), secondary=True)}</form>")
        return page(("ออกจากระบบแล้ว", "Signed out"), body)

    @app.post("/logout/idgw")
    async def logout_at_gateway(request: Request):
        """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2): with the ID token as
        the hint idgw signs the person out without asking, then sends them back here."""
        meta = await metadata()
        hint = signed_out.pop(request.cookies.get("demo_signed_out", ""), None)
        state = secrets.token_urlsafe(16)
        logout_states.add(state)
        params = {"client_id": client_id, "post_logout_redirect_uri": base_url + "/", "state": state}
        if hint:
            params["id_token_hint"] = hint
        response = RedirectResponse(f"{meta['end_session_endpoint']}?{httpx.QueryParams(params)}", status_code=303)
        response.delete_cookie("demo_signed_out")
        return response

    @app.get("/callback", response_class=HTMLResponse)
    async def callback(request: Request):
        params = request.query_params
        current_key = request.cookies.get("demo_session", "")
        flow = pending.get(params.get("state", ""))
        if flow is None or not secrets.compare_digest(flow["browser"], request.cookies.get("demo_rp", "")):
            # A reload, Back, or an old or foreign link: this answer was used already or is not ours.
            if current_key in sessions:
                return RedirectResponse("/", status_code=303)
            return problem_page(("ลิงก์เข้าสู่ระบบนี้ใช้ไปแล้ว", "This sign-in link was already used"),
                                ("ลิงก์เข้าสู่ระบบนี้ใช้ไปแล้วหรือหมดอายุ", "This sign-in link was already used or "
                                 "has expired."), ("กรุณาเข้าสู่ระบบอีกครั้ง", "Please sign in again."), status=400)
        del pending[params["state"]]
        if params.get("iss") != issuer:  # RFC 9207: the answer must come from the issuer we asked
            return problem_page(*OTHER_ERROR, code="wrong iss (RFC 9207)", status=400)
        stepping_up = flow["return_to"] == "/submit"
        if "error" in params:
            title, what, next_step = ERRORS.get(params["error"], OTHER_ERROR)
            if stepping_up:
                title = ("ยังไม่ได้ส่งคำขอ", "Your request was not submitted")
            return problem_page(title, what, next_step, code=params["error"], signed_in=current_key in sessions)
        meta = await metadata()
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                tokens = (await http.post(meta["token_endpoint"], auth=(client_id, client_secret), data={
                    "grant_type": "authorization_code", "code": params.get("code", ""),
                    "redirect_uri": redirect_uri, "code_verifier": flow["verifier"]})).json()
                if "id_token" not in tokens:
                    return problem_page(*OTHER_ERROR, code=str(tokens.get("error", "no id_token"))[:100], status=400)
                keys = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
        except (httpx.HTTPError, ValueError):
            return problem_page(*OTHER_ERROR, code="idgw did not answer", status=502)
        try:
            token = jwt.decode(tokens["id_token"], keys, algorithms=["ES256", "RS256", "PS256"])
            claims = token.claims
            jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
                                  nonce={"essential": True, "value": flow["nonce"]}).validate(claims)
        except (JoseError, ValueError):
            return problem_page(*OTHER_ERROR, code="invalid ID token", status=400)
        sessions.pop(current_key, None)
        key = secrets.token_urlsafe(16)
        sessions[key] = {"tokens": tokens, "claims": claims, "userinfo": await userinfo(tokens)}
        if stepping_up:
            response = await submit_with(request, sessions[key])
        else:
            response = signed_in_page(sessions[key], alg=token.header["alg"])
        response.set_cookie("demo_session", key, httponly=True, samesite="lax")
        return response

    return app
