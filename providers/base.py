"""The upstream contract shared by every identity source, and the small rules they all need.

The gateway codes against exactly this module: ``UpstreamIdentity`` (what a source asserted,
normalised to the Thai assurance vocabulary), ``Redirect`` / ``Pending`` (what ``begin`` returns
for redirect-style and asynchronous sources), ``UpstreamError`` (every failure, with a message
safe to show a citizen in Thai and English) and ``ProviderConfigError`` (bad configuration,
naming the offending field). Nothing here performs I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol, runtime_checkable

# Domain brief §1: the only valid values, in their numeric order. Levels are compared by their
# position here, never as floats.
IAL_LEVELS: tuple[str, ...] = ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3")
AAL_LEVELS: tuple[str, ...] = ("1", "2.1", "2.2", "3")


@dataclass(frozen=True)
class UpstreamIdentity:
    """What an upstream asserted about the citizen, after every check passed.

    ``citizen_id`` is checksum-valid; ``claims`` holds only normalised names (given_name,
    family_name, th_given_name, th_family_name, birthdate) that the upstream actually sent;
    ``ial`` / ``aal`` are Thai-vocabulary strings; ``raw_levels`` keeps the upstream's own values
    as provenance (never used for decisions).
    """

    provider: str
    issuer: str
    subject: str
    citizen_id: str
    claims: dict
    ial: str
    aal: str
    amr: tuple[str, ...]
    auth_time: int
    raw_levels: dict


@dataclass(frozen=True)
class Redirect:
    """Send the browser to ``url``; keep ``state`` (JSON-serialisable) server-side until the callback."""

    url: str
    state: dict


@dataclass(frozen=True)
class Pending:
    """An asynchronous request is open upstream; keep ``state`` (JSON-serialisable) server-side.

    ``expires_at`` is the Unix time after which the request counts as timed out even if the
    platform's timed_out callback never arrives.
    """

    request_id: str
    reference_id: str
    expires_at: int
    state: dict


# code -> (Thai, English): what a citizen may read. Details for operators go in ``detail``.
MESSAGES: dict[str, tuple[str, str]] = {
    "upstream_unreachable": ("ไม่สามารถติดต่อผู้ให้บริการยืนยันตัวตนได้ กรุณาลองใหม่อีกครั้ง",
                             "The identity provider could not be reached. Please try again."),
    "upstream_timeout": ("ผู้ให้บริการยืนยันตัวตนตอบกลับช้าเกินไป กรุณาลองใหม่อีกครั้ง",
                         "The identity provider took too long to answer. Please try again."),
    "upstream_error": ("ผู้ให้บริการยืนยันตัวตนแจ้งข้อผิดพลาด กรุณาลองใหม่อีกครั้ง",
                       "The identity provider reported an error. Please try again."),
    "state_mismatch": ("ผลการเข้าสู่ระบบไม่ตรงกับคำขอที่เริ่มไว้ หรือหมดอายุแล้ว กรุณาเริ่มเข้าสู่ระบบใหม่",
                       "This answer does not match the sign-in you started, or it has expired. "
                       "Please start again."),
    "nonce_mismatch": ("ผลการยืนยันตัวตนไม่ได้เป็นของคำขอนี้ กรุณาเริ่มเข้าสู่ระบบใหม่",
                       "The identity provider's answer does not belong to this sign-in. Please start again."),
    "invalid_signature": ("ไม่สามารถตรวจสอบลายมือชื่อดิจิทัลของผลการยืนยันตัวตนได้ กรุณาลองใหม่อีกครั้ง",
                          "The identity provider's answer could not be verified (invalid signature). "
                          "Please try again."),
    "invalid_issuer": ("ผลการยืนยันตัวตนไม่ได้มาจากผู้ให้บริการที่เลือก กรุณาลองใหม่อีกครั้ง",
                       "The answer did not come from the identity provider you chose. Please try again."),
    "invalid_citizen_id": ("เลขประจำตัวประชาชนที่ได้รับไม่ถูกต้อง",
                           "The citizen ID is not valid."),
    "ial_too_low": ("ระดับความน่าเชื่อถือของการพิสูจน์ตัวตน (IAL) ไม่เพียงพอสำหรับบริการนี้",
                    "Your identity proofing level (IAL) is not high enough for this service."),
    "aal_too_low": ("ระดับความน่าเชื่อถือของการยืนยันตัวตน (AAL) ไม่เพียงพอสำหรับบริการนี้",
                    "The authentication level (AAL) used is not high enough for this service."),
    "rejected": ("คำขอยืนยันตัวตนถูกปฏิเสธหรือถูกยกเลิก",
                 "The identity request was declined or cancelled."),
    "timed_out": ("หมดเวลาการยืนยันตัวตน กรุณาลองใหม่อีกครั้ง",
                  "The identity request timed out. Please try again."),
    "complicated": ("ผู้ให้บริการยืนยันตัวตนตอบกลับไม่ตรงกัน (บางรายยอมรับ บางรายปฏิเสธ) กรุณาลองใหม่อีกครั้ง",
                    "The identity providers gave conflicting answers. Please try again."),
    "errored": ("ผู้ให้บริการยืนยันตัวตนไม่สามารถดำเนินการตามคำขอได้ กรุณาลองใหม่อีกครั้ง",
                "The identity provider could not process the request. Please try again."),
    "unknown_idp": ("ผลการยืนยันตัวตนมาจากผู้ให้บริการยืนยันตัวตนที่ไม่ได้ขึ้นทะเบียนหรือไม่ได้รับคำขอนี้ กรุณาลองใหม่อีกครั้ง",
                    "The answer came from an identity provider that is not registered or was not asked. "
                    "Please try again."),
    "idp_max_exceeded": ("ผู้ให้บริการยืนยันตัวตนแจ้งระดับความน่าเชื่อถือสูงกว่าที่ได้ขึ้นทะเบียนไว้ "
                         "จึงไม่สามารถรับผลการยืนยันตัวตนนี้ได้ กรุณาลองใหม่อีกครั้ง",
                         "The identity provider claimed a higher assurance level than it is registered for, "
                         "so its answer cannot be accepted. Please try again."),
    "bad_configuration": ("การเชื่อมต่อกับผู้ให้บริการยืนยันตัวตนตั้งค่าไม่ถูกต้อง กรุณาติดต่อผู้ดูแลระบบ",
                          "The connection to this identity provider is misconfigured. "
                          "Please contact the service desk."),
}


class UpstreamError(Exception):
    """A typed upstream failure.

    ``code`` is one of ``MESSAGES``; ``message_th`` / ``message_en`` are safe to show a citizen;
    ``detail`` is for logs and audit and never carries secrets (no codes, tokens or keys).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in MESSAGES:
            raise ValueError(f"unknown UpstreamError code {code!r}")
        self.code = code
        self.message_th, self.message_en = MESSAGES[code]
        self.detail = detail
        super().__init__(f"{code}: {detail}" if detail else code)


class ProviderConfigError(ValueError):
    """Invalid provider configuration; the message starts with the offending field, e.g.
    ``providers[1].client_secret: missing``."""


@runtime_checkable
class UpstreamProvider(Protocol):
    """What every connector exposes. ``mode`` tells the gateway which ``begin``/``complete``
    signatures apply: ``"redirect"`` (OIDC, see ``providers.oidc.OIDCUpstream``) or ``"async"``
    (NDID, see ``providers.ndid.NDIDUpstream``)."""

    name: str
    type: str
    display_name: dict
    mode: str


def valid_citizen_id(value: Any) -> bool:
    """Thai citizen ID (domain brief §4): 13 digits, first digit 1-8, and the check digit
    (11 − Σ d_i·(13−i) mod 11) mod 10. Duplicated from the gateway on purpose: this package is a leaf."""
    if not isinstance(value, str) or not re.fullmatch(r"[1-8]\d{12}", value):
        return False
    total = sum(int(value[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(value[12])


def normalise_level(value: Any, levels: tuple[str, ...]) -> str | None:
    """Return ``value`` as one of ``levels`` or None.

    Strings must already be exact vocabulary values (domain brief §1: "1.0" or "IAL2" are invalid
    everywhere). JSON numbers (NDID sends ``2.3`` and ``3``) are converted through their decimal
    text, never compared as floats.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value if value in levels else None
    if isinstance(value, int | float):
        try:
            text = str(Decimal(repr(value)).normalize())
        except InvalidOperation:
            return None
        return text if text in levels else None
    return None


def level_at_least(value: str, floor: str, levels: tuple[str, ...]) -> bool:
    """True when ``value`` ≥ ``floor`` in the ordered vocabulary ``levels`` (both must be members)."""
    return levels.index(value) >= levels.index(floor)


def level_as_number(value: str) -> int | float:
    """A vocabulary level as the JSON number NDID expects (``"3"`` → 3, ``"2.3"`` → 2.3)."""
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


class ConfigReader:
    """Reads one provider's configuration dict and raises ``ProviderConfigError`` naming the field
    (``<where>.<field>: <problem>``). Unknown keys are refused so a typo cannot silently disable a
    setting."""

    def __init__(self, config: Any, *, where: str, allowed: set[str]) -> None:
        if not isinstance(config, dict):
            raise ProviderConfigError(f"{where}: must be a mapping")
        self.config = config
        self.where = where
        for key in config:
            if key not in allowed:
                raise ProviderConfigError(f"{where}.{key}: unknown field")

    def fail(self, field: str, problem: str) -> ProviderConfigError:
        return ProviderConfigError(f"{self.where}.{field}: {problem}")

    def has(self, field: str) -> bool:
        return self.config.get(field) is not None

    def string(self, field: str, *, default: str | None = None, pattern: str | None = None) -> str:
        value = self.config.get(field, default)
        if value is None:
            raise self.fail(field, "missing")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be a non-empty string")
        if pattern is not None and not re.fullmatch(pattern, value):
            raise self.fail(field, f"must match {pattern}")
        return value

    def number(self, field: str, *, default: float, low: float, high: float, integer: bool = False) -> float:
        value = self.config.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
            raise self.fail(field, "must be an integer" if integer else "must be a number")
        if not low <= value <= high:
            raise self.fail(field, f"must be between {low:g} and {high:g}")
        return value

    def boolean(self, field: str, *, default: bool) -> bool:
        value = self.config.get(field, default)
        if not isinstance(value, bool):
            raise self.fail(field, "must be true or false")
        return value

    def string_list(self, field: str, *, default: list[str]) -> list[str]:
        value = self.config.get(field, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(field, "must be a list of non-empty strings")
        return list(value)

    def string_map(self, field: str, *, default: dict[str, str]) -> dict[str, str]:
        value = self.config.get(field, default)
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) and k and v for k, v in value.items()):
            raise self.fail(field, "must be a mapping of strings to strings")
        return dict(value)

    def level(self, field: str, levels: tuple[str, ...], *, default: str | None = None) -> str:
        value = self.config.get(field, default)
        if value is None:
            raise self.fail(field, "missing")
        level = normalise_level(value, levels)
        if level is None:
            raise self.fail(field, f"{value!r} is not one of {', '.join(levels)}")
        return level

    def display_name(self) -> dict[str, str]:
        value = self.config.get("display_name")
        if value is None:
            raise self.fail("display_name", "missing")
        if not isinstance(value, dict):
            raise self.fail("display_name", "must be a mapping with th and en")
        for lang in ("th", "en"):
            if not isinstance(value.get(lang), str) or not value[lang].strip():
                raise self.fail(f"display_name.{lang}", "missing")
        return {"th": value["th"], "en": value["en"]}


# Names appear in URLs and audit records: keep them short and plain.
NAME_PATTERN = r"[a-z][a-z0-9_-]{0,31}"
COMMON_FIELDS = {"name", "type", "display_name"}
