"""Accessibility checks for the browser tests: axe-core (the pinned npm package in tests/axe/)
run inside the page, plus a reflow check (WCAG 1.4.10: no horizontal scrolling).

Use::

    from tests.a11y import a11y_context, check_a11y

    context = a11y_context(browser, locale="en", width=390)   # a phone in English
    page = context.new_page()
    page.goto(url)
    check_a11y(page, context="home, en, 390 px")              # AssertionError listing violations
    context.close()

How axe gets into the page: our Content-Security-Policy (idgw/app.py) allows no inline script,
so ``page.add_script_tag(content=...)`` is refused (and logs a CSP error on the console, which
the tests treat as a failure). ``page.evaluate`` runs over the DevTools protocol, which CSP does
not govern, so the source is evaluated inside a function there. That keeps the CSP enforced in
the same browser context (``bypass_csp=True`` would hide CSP mistakes from the tests).

What fails: every violation of the WCAG 2.0/2.1 A and AA rules whose impact is serious or
critical, and the landmark and heading rules in ``ALWAYS_FAIL`` whatever axe rates them (the
gateway promises a ``main`` landmark, content inside landmarks and one ``h1`` on every page).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING_IMPACTS = ("serious", "critical")
# axe files these under "best-practice" (impact moderate), but they are what issue 12 asks for.
ALWAYS_FAIL = ("landmark-one-main", "region", "page-has-heading-one", "landmark-no-duplicate-main",
               "landmark-no-duplicate-banner", "landmark-no-duplicate-contentinfo", "skip-link")
PHONE_WIDTH = 390
LOCALES = {"th": "th-TH", "en": "en-US"}


@cache
def axe_source() -> str:
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing: `make test` installs it (cd tests/axe && npm ci)")
    return AXE_JS.read_text(encoding="utf-8")


def a11y_context(browser, *, locale: str = "th", width: int | None = None, **options):
    """A new browser context in Thai (``"th"``) or English (``"en"``, or any BCP 47 tag), at
    ``width`` CSS pixels if given (``PHONE_WIDTH`` = 390 is a phone: a touch screen with the
    mobile viewport behaviour, so ``<meta name=viewport>`` matters). Close it when done."""
    if width is not None:
        options.setdefault("viewport", {"width": width, "height": 844 if width < 600 else 900})
        if width < 600:
            options.setdefault("is_mobile", True)
            options.setdefault("has_touch", True)
    return browser.new_context(locale=LOCALES.get(locale, locale), **options)


def axe_violations(page, *, rules: dict | None = None) -> list[dict]:
    """axe's violations on the page as it is now (WCAG A/AA tags plus ``ALWAYS_FAIL``)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate("() => {\n" + axe_source() + "\n}")
    options = {"runOnly": {"type": "tag", "values": [*WCAG_TAGS, "best-practice"]}, "resultTypes": ["violations"],
               "rules": rules or {}}
    return page.evaluate("async (options) => (await window.axe.run(document, options)).violations", options)


def failing(violations: list[dict]) -> list[dict]:
    return [v for v in violations
            if v["id"] in ALWAYS_FAIL
            or (v.get("impact") in FAILING_IMPACTS and set(v.get("tags", ())) & set(WCAG_TAGS))]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']} [{v.get('helpUrl', '')}]")
        for node in v.get("nodes", [])[:10]:
            target = " ".join(json.dumps(t, ensure_ascii=False) if not isinstance(t, str) else t
                              for t in node.get("target", []))
            html = node.get("html", "").replace("\n", " ")
            lines.append(f"    {target}: {html[:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(v.get("nodes", [])) > 10:
            lines.append(f"    … and {len(v['nodes']) - 10} more")
    return "\n".join(lines)


def overflow(page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal scrolling)."""
    return page.evaluate("() => Math.max(0, document.documentElement.scrollWidth - "
                         "document.documentElement.clientWidth)")


def check_a11y(page, *, context: str = "", rules: dict | None = None) -> None:
    """Raise AssertionError naming every failing axe violation (id, help, target nodes) on the
    page as it is now, and any horizontal scrolling (WCAG 1.4.10 Reflow). ``context`` labels
    the message (for example ``"consent, th, 390 px"``); ``rules`` passes per-rule options to
    axe (``{"color-contrast": {"enabled": False}}``): say why wherever it is used."""
    label = f"{context} ({page.url})" if context else page.url
    problems = []
    bad = failing(axe_violations(page, rules=rules))
    if bad:
        problems.append(describe(bad))
    wider = overflow(page)
    if wider:
        problems.append(f"- reflow: the page scrolls sideways by {wider} px at "
                        f"{page.viewport_size['width'] if page.viewport_size else '?'} px wide (WCAG 1.4.10)")
    if problems:
        raise AssertionError(f"accessibility problems on {label}:\n" + "\n".join(problems))
