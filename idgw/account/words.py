"""Plain words for what the account pages show: a browser and device from a User-Agent header,
an assurance level, a length of time. Small pure functions the tests call directly."""

from __future__ import annotations

import re

from idgw.web.i18n import t

# Most specific first: Edge, Opera and Samsung Internet also say "Chrome" and "Safari"; every
# browser on an iPhone says "Safari" (CriOS is Chrome there, FxiOS Firefox).
_BROWSERS = (
    (re.compile(r"\bEdg(e|A|iOS)?/"), "Edge"),
    (re.compile(r"\b(OPR|Opera)/"), "Opera"),
    (re.compile(r"\bSamsungBrowser/"), "Samsung Internet"),
    (re.compile(r"\bLine/"), "LINE"),
    (re.compile(r"\b(FBAN|FBAV)/"), "Facebook"),
    (re.compile(r"\b(Firefox|FxiOS)/"), "Firefox"),
    (re.compile(r"\b(HeadlessChrome|Chrome|CriOS|Chromium)/"), "Chrome"),
    (re.compile(r"\bVersion/[\d.]+.*\bSafari/"), "Safari"),
    (re.compile(r"\bMobile/\w+ ?.*AppleWebKit|AppleWebKit.*\bMobile/"), "Safari"),
)
_SYSTEMS = (
    (re.compile(r"\bAndroid\b"), "Android"),
    (re.compile(r"\biPhone\b"), "iPhone"),
    (re.compile(r"\biPad\b"), "iPad"),
    (re.compile(r"\bCrOS\b"), "ChromeOS"),
    (re.compile(r"\bWindows\b"), "Windows"),
    (re.compile(r"\bMac OS X\b|\bMacintosh\b"), "macOS"),
    (re.compile(r"\bLinux\b"), "Linux"),
)


def browser_and_system(user_agent: str | None) -> tuple[str | None, str | None]:
    """(browser, operating system) named in ``user_agent``, each None when not recognised."""
    ua = (user_agent or "")[:300]
    browser = next((name for pattern, name in _BROWSERS if pattern.search(ua)), None)
    system = next((name for pattern, name in _SYSTEMS if pattern.search(ua)), None)
    return browser, system


def device_words(user_agent: str | None, locale: str) -> str:
    """"Chrome on Android" style words for a session's browser ("Chrome บน Android" in Thai)."""
    browser, system = browser_and_system(user_agent)
    if browser and system:
        return t("account_device_on", locale, browser=browser, system=system)
    return browser or system or t("account_unknown_device", locale)


def aal_words(level: str, locale: str) -> str:
    """"two-step sign-in (…) (AAL 2.1)": the words first, the code in brackets."""
    return f"{t('account_aal_' + level, locale)} (AAL {level})"


def ial_words(level: str, locale: str) -> str:
    return f"{t('account_ial_' + level, locale)} (IAL {level})"


def duration_words(seconds: int, locale: str) -> str:
    """A lifetime in the largest unit it fills exactly: 2592000 -> "30 days", 600 -> "10 minutes",
    90 -> "90 seconds"."""
    seconds = max(int(seconds), 0)
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if size == 1 or (seconds >= size and seconds % size == 0):
            n = seconds // size
            return t(f"duration_{unit}", locale) if n == 1 else t(f"duration_{unit}s", locale, n=n)
    raise AssertionError("unreachable")
