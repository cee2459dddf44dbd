"""What a refused password sign-in says, in Thai and English.

``refusal_text`` words an ``idgw.login.password.PasswordOutcome`` refusal for a page: the wait in
words that agree with the number ("wait 1 second", "wait 2 seconds", "รอ 1 วินาที"; whole
minutes, rounded up, from 120 s on) and, for the lock, the help-desk contact
(``settings.help_desk``). The lock text never says that an account exists, because an unknown
username that failed as often gets the same answer (``idgw.login.password`` docstring).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

from idgw.web.errors import machine_path
from idgw.web.i18n import add_messages, t

#: From this many seconds on a wait is said in minutes (rounded up, so never too short).
MINUTES_FROM = 120

add_messages({
    "wait_second": {"th": "{n} วินาที", "en": "{n} second"},
    "wait_seconds": {"th": "{n} วินาที", "en": "{n} seconds"},
    "wait_minutes": {"th": "{n} นาที", "en": "{n} minutes"},
    "refused_wait": {"th": "พยายามเข้าสู่ระบบไม่สำเร็จหลายครั้งเกินไป กรุณารอ {wait} แล้วลองใหม่",
                     "en": "Too many failed attempts. Please wait {wait} and try again."},
    "refused_locked": {"th": "การเข้าสู่ระบบด้วยชื่อผู้ใช้นี้ถูกระงับ เนื่องจากพยายามไม่สำเร็จหลายครั้งเกินไป "
                             "หากบัญชีของท่านถูกระงับหรือท่านเข้าสู่ระบบไม่ได้ กรุณาติดต่อ {help_desk}",
                       "en": "Signing in with this username is blocked after too many failed attempts. If your "
                             "account is locked or you cannot sign in, contact {help_desk}."},
    "refused_help_desk": {"th": "ศูนย์ช่วยเหลือ", "en": "the help desk"},
    "refused_disabled": {"th": "บัญชีนี้ถูกปิดใช้งานโดยผู้ดูแลระบบ จึงเข้าสู่ระบบไม่ได้ "
                               "หากท่านคิดว่าเป็นความผิดพลาด กรุณาติดต่อ {help_desk}",
                         "en": "This account has been disabled by an administrator, so it cannot sign in. "
                               "If you think this is a mistake, contact {help_desk}."},
})


def wait_words(seconds: int, locale: str) -> str:
    """``seconds`` (at least 1) as words: seconds below ``MINUTES_FROM``, whole minutes from it."""
    seconds = max(int(seconds), 1)
    if seconds >= MINUTES_FROM:
        return t("wait_minutes", locale, n=-(-seconds // 60))
    return t("wait_second" if seconds == 1 else "wait_seconds", locale, n=seconds)


def refusal_text(outcome, *, locale: str, help_desk: str) -> str:
    """The message for a refused sign-in (``outcome.error``: invalid_credentials, throttled, locked)."""
    if outcome.error == "throttled":
        return t("refused_wait", locale, wait=wait_words(outcome.retry_after, locale))
    if outcome.error == "locked":
        return t("refused_locked", locale, help_desk=help_desk.strip() or t("refused_help_desk", locale))
    return t(outcome.error or "invalid_credentials", locale)



def disabled_text(*, locale: str, help_desk: str) -> str:
    """The message for a sign-in to an account an administrator disabled."""
    return t("refused_disabled", locale, help_desk=help_desk.strip() or t("refused_help_desk", locale))


def account_disabled(pages):
    """Exception handler (``idgw.app``) for ``idgw.login.sessions.AccountDisabledError``: the
    sign-in was to a disabled account, so no session was made (its transaction rolled back): a
    page that says so (403), or JSON for a machine path."""
    async def handler(request, exc):
        if machine_path(request.url.path):
            return JSONResponse({"error": "account_disabled", "error_description": "this account is disabled"},
                                status_code=403, headers={"Cache-Control": "no-store"})
        locale = pages.locale(request)
        return pages.render(request, "error.html", status=403, code="account_disabled",
                            message=disabled_text(locale=locale, help_desk=pages.settings.help_desk))

    return handler
