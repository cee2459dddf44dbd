"""DOPA-style card-status check and reference-photo lookup, for officer video proofing (domain brief §3-§5).

The contract (no I/O): ``normalise_laser``, ``CardData`` (what the citizen or officer typed from the card),
``CardStatus`` / ``CardCheckResult`` (the source's answer, with Thai and English text safe to show a
citizen), ``ReferencePhoto`` and ``CardCheckUnavailable`` (the source could not answer). The client:
``DopaCardCheck`` (httpx.AsyncClient). Card data is personal data (domain brief §4): it is sent to the
source for the check only; nothing here keeps, logs or echoes it, and ``CardData``'s repr masks it.

Wire protocol (JSON over HTTP; personal data only in bodies, never in URLs, so access logs stay clean):

``POST {base}/v1/card-status`` with ``{"citizen_id", "given_name_th", "family_name_th", "given_name_en",
"family_name_en", "birthdate" (YYYY-MM-DD), "laser_code" (normalised, e.g. "JT1234567890")}`` answers
200 ``{"status": "valid" | "card_revoked" | "data_mismatch" | "not_found", "reference": "<transaction id>",
"mismatched": ["<field>", ...] (only for data_mismatch; field names as in the request), "checked_at":
<unix seconds>}``.

``POST {base}/v1/reference-photo`` with ``{"citizen_id"}`` answers 200 with the image itself
(``Content-Type: image/jpeg`` or ``image/png``, header ``X-Transaction-Id``), or 404 ``{"status":
"not_found" | "no_photo", "reference": ...}``. A 404 without that body (a wrong base URL) is a bad answer,
never "no photo".

Anything else is ``CardCheckUnavailable``: ``timeout`` (no complete answer within ``timeout`` seconds,
counted over the whole exchange), ``unavailable`` (connection failures, 5xx, 408, 429) or ``bad_answer``
(other statuses, undecodable or wrongly shaped bodies, answers over the size caps).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx

from providers.base import valid_citizen_id

LASER_PATTERN = re.compile(r"[A-Z]{2}[0-9]{10}")
# Fields the source may report as not matching, in the order they are listed to a citizen.
MISMATCH_FIELDS: tuple[str, ...] = ("given_name_th", "family_name_th", "given_name_en", "family_name_en",
                                    "birthdate", "laser_code")
FIELD_LABELS: dict[str, tuple[str, str]] = {
    "given_name_th": ("ชื่อ (ภาษาไทย)", "given name (Thai)"),
    "family_name_th": ("นามสกุล (ภาษาไทย)", "family name (Thai)"),
    "given_name_en": ("ชื่อ (ภาษาอังกฤษ)", "given name (English)"),
    "family_name_en": ("นามสกุล (ภาษาอังกฤษ)", "family name (English)"),
    "birthdate": ("วันเกิด", "date of birth"),
    "laser_code": ("เลขหลังบัตร (Laser ID)", "laser code on the back of the card"),
}
MAX_STATUS_BYTES = 64 * 1024
MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = ("image/jpeg", "image/png")


def normalise_laser(text: str) -> str:
    """The laser code as the source expects it: spaces and dashes removed, upper case, 2 letters + 10 digits.
    Raises ``ValueError`` (whose message never repeats the input) for anything else."""
    if not isinstance(text, str):
        raise ValueError("laser code must be text")
    value = re.sub(r"[\s\-\u2010-\u2015\u2212]", "", text).upper()
    if not LASER_PATTERN.fullmatch(value):
        raise ValueError("laser code must be 2 letters followed by 10 digits, e.g. AB1234567890 "
                         "(spaces and dashes are allowed)")
    return value


@dataclass(frozen=True)
class CardData:
    """Card data to check. Validated on construction (``ValueError``): checksum-valid citizen ID, ISO
    birthdate, non-empty names; ``laser_code`` is normalised (dashes and spaces accepted)."""

    citizen_id: str
    given_name_th: str
    family_name_th: str
    given_name_en: str
    family_name_en: str
    birthdate: str
    laser_code: str

    def __post_init__(self) -> None:
        if not valid_citizen_id(self.citizen_id):
            raise ValueError("citizen ID must be 13 digits with a valid check digit")
        for name in MISMATCH_FIELDS[:4]:
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string")
        if not isinstance(self.birthdate, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", self.birthdate):
            raise ValueError("birthdate must be YYYY-MM-DD")
        object.__setattr__(self, "laser_code", normalise_laser(self.laser_code))

    def __repr__(self) -> str:  # never the laser code, names or birthdate (they end up in logs)
        pid = self.citizen_id
        return f"CardData(citizen_id='{pid[0]}-{pid[1:5]}-xxxxx-{pid[10:12]}-{pid[12]}', <masked>)"

    __str__ = __repr__

    def as_json(self) -> dict[str, str]:
        """The request body (personal data: send it to the source, never log or keep it)."""
        return {"citizen_id": self.citizen_id, **{name: getattr(self, name) for name in MISMATCH_FIELDS}}


class CardStatus(StrEnum):
    VALID = "valid"
    REVOKED = "card_revoked"
    MISMATCH = "data_mismatch"
    NOT_FOUND = "not_found"


# status -> (Thai, English) for the citizen; "{fields}" lists the mismatched fields by label.
STATUS_MESSAGES: dict[CardStatus, tuple[str, str]] = {
    CardStatus.VALID: ("ข้อมูลบัตรประจำตัวประชาชนตรงกับทะเบียนราษฎร และบัตรยังใช้งานได้",
                       "The card details match the civil registration record and the card is valid."),
    CardStatus.REVOKED: ("บัตรประจำตัวประชาชนใบนี้ถูกยกเลิกแล้ว กรุณาติดต่อสำนักงานเขตหรือที่ว่าการอำเภอ",
                         "This ID card has been revoked. Please contact your district office."),
    CardStatus.MISMATCH: ("ข้อมูลที่ให้ไว้ไม่ตรงกับทะเบียนราษฎร กรุณาตรวจสอบ{fields}แล้วลองใหม่อีกครั้ง",
                          "The details given do not match the civil registration record. "
                          "Please check {fields} and try again."),
    CardStatus.NOT_FOUND: ("ไม่พบบัตรประจำตัวประชาชนนี้ในทะเบียนราษฎร กรุณาตรวจสอบเลขประจำตัวประชาชน",
                           "No card was found for this citizen ID in the civil registration record. "
                           "Please check the citizen ID."),
}


@dataclass(frozen=True)
class CardCheckResult:
    """The source's answer. ``reference`` is its transaction id (keep it as the proofing evidence);
    ``mismatched`` names the fields that differ (only for MISMATCH); ``checked_at`` is Unix seconds."""

    status: CardStatus
    reference: str
    mismatched: tuple[str, ...] = ()
    checked_at: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", CardStatus(self.status))
        if self.mismatched and self.status is not CardStatus.MISMATCH:
            raise ValueError("mismatched fields are only given for data_mismatch")
        unknown = [f for f in self.mismatched if f not in MISMATCH_FIELDS]
        if unknown:
            raise ValueError(f"unknown mismatched fields {unknown}")

    @property
    def ok(self) -> bool:
        return self.status is CardStatus.VALID

    def as_dict(self) -> dict:
        """JSON-ready, for the proofing case's record (no personal data: field names only)."""
        return {"source": "DOPA", "status": self.status.value, "reference": self.reference,
                "mismatched": list(self.mismatched), "checked_at": self.checked_at}

    @property
    def messages(self) -> dict[str, str]:
        """``{"th": ..., "en": ...}``: why, for the citizen. Names the mismatched fields, never their values."""
        th, en = STATUS_MESSAGES[self.status]
        fields = [f for f in MISMATCH_FIELDS if f in self.mismatched]
        th_fields = " ".join(FIELD_LABELS[f][0] for f in fields) if fields else "ข้อมูลบนบัตร"
        en_fields = ", ".join(FIELD_LABELS[f][1] for f in fields) if fields else "the details on the card"
        return {"th": th.format(fields=th_fields), "en": en.format(fields=en_fields)}

    @property
    def message_th(self) -> str:
        return self.messages["th"]

    @property
    def message_en(self) -> str:
        return self.messages["en"]


UNAVAILABLE_MESSAGES: dict[str, tuple[str, str]] = {
    "timeout": ("ระบบตรวจสอบบัตรประจำตัวประชาชนของกรมการปกครองตอบกลับช้าเกินไป กรุณาลองใหม่อีกครั้ง",
                "The DOPA card-check service took too long to answer. Please try again."),
    "unavailable": ("ไม่สามารถติดต่อระบบตรวจสอบบัตรประจำตัวประชาชนของกรมการปกครองได้ในขณะนี้ กรุณาลองใหม่ภายหลัง",
                    "The DOPA card-check service cannot be reached at the moment. Please try again later."),
    "bad_answer": ("ระบบตรวจสอบบัตรประจำตัวประชาชนของกรมการปกครองตอบกลับไม่ถูกต้อง กรุณาลองใหม่ภายหลัง "
                   "หรือติดต่อเจ้าหน้าที่",
                   "The DOPA card-check service gave an answer that could not be read. Please try again later "
                   "or contact the service desk."),
}


class CardCheckUnavailable(Exception):
    """The source gave no usable answer. ``code``: timeout | unavailable | bad_answer; ``message_th`` /
    ``message_en`` are safe to show a citizen; ``detail`` is for operators and carries no personal data."""

    def __init__(self, code: str, detail: str = "") -> None:
        if code not in UNAVAILABLE_MESSAGES:
            raise ValueError(f"unknown CardCheckUnavailable code {code!r}")
        self.code, self.detail = code, detail
        self.message_th, self.message_en = UNAVAILABLE_MESSAGES[code]
        super().__init__(f"{code}: {detail}" if detail else code)


@dataclass(frozen=True)
class ReferencePhoto:
    content: bytes
    media_type: str
    reference: str

    def __repr__(self) -> str:
        return (f"ReferencePhoto(<{len(self.content)} bytes>, media_type={self.media_type!r}, "
                f"reference={self.reference!r})")


def _reference(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[\x21-\x7e]{1,128}", value):
        raise CardCheckUnavailable("bad_answer", "missing or malformed reference")
    return value


def _parse_status(body: bytes) -> CardCheckResult:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise CardCheckUnavailable("bad_answer", "card-status: not JSON") from exc
    if not isinstance(data, dict):
        raise CardCheckUnavailable("bad_answer", "card-status: not a JSON object")
    mismatched, checked_at = data.get("mismatched") or [], data.get("checked_at")
    status = data.get("status")
    if (not isinstance(status, str) or status not in {s.value for s in CardStatus} or not isinstance(mismatched, list)
            or not all(isinstance(f, str) for f in mismatched)
            or isinstance(checked_at, bool) or not isinstance(checked_at, int) or checked_at < 0):
        raise CardCheckUnavailable("bad_answer", "card-status: wrongly shaped answer")
    try:
        return CardCheckResult(status=CardStatus(status), reference=_reference(data.get("reference")),
                               mismatched=tuple(dict.fromkeys(mismatched)), checked_at=checked_at)
    except ValueError as exc:
        raise CardCheckUnavailable("bad_answer", f"card-status: {exc}") from exc


class DopaCardCheck:
    """Async client of the card-status and reference-photo service at ``base_url``. ``timeout`` bounds
    each call as a whole; ``transport`` is for tests (``httpx.MockTransport``). Use one instance per event
    loop and ``await aclose()`` (or ``async with``) when done."""

    def __init__(self, base_url: str, *, timeout: float = 5.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self._http = httpx.AsyncClient(timeout=self.timeout, transport=transport, follow_redirects=False)

    async def __aenter__(self) -> DopaCardCheck:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def check(self, card: CardData) -> CardCheckResult:
        """Ask the source whether ``card`` matches its record and is still valid."""
        status, _, body = await self._post("card-status", "/v1/card-status", card.as_json(), MAX_STATUS_BYTES,
                                            accept="application/json")
        if status != 200:
            raise CardCheckUnavailable("bad_answer", f"card-status: HTTP {status}")
        return _parse_status(body)

    async def reference_photo(self, citizen_id: str) -> ReferencePhoto | None:
        """The source's photo of the citizen, or None when it has none (or no such citizen)."""
        if not valid_citizen_id(citizen_id):
            raise ValueError("citizen ID must be 13 digits with a valid check digit")
        status, headers, body = await self._post("reference-photo", "/v1/reference-photo",
                                                 {"citizen_id": citizen_id}, MAX_PHOTO_BYTES,
                                                 accept="image/jpeg, image/png, application/json;q=0.5")
        if status == 404:
            try:
                answer = json.loads(body)
            except (ValueError, RecursionError):
                answer = None
            if isinstance(answer, dict) and answer.get("status") in ("not_found", "no_photo"):
                return None
            raise CardCheckUnavailable("bad_answer", "reference-photo: HTTP 404 without a not_found answer")
        if status != 200:
            raise CardCheckUnavailable("bad_answer", f"reference-photo: HTTP {status}")
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in PHOTO_TYPES or not body:
            raise CardCheckUnavailable("bad_answer", "reference-photo: not a JPEG or PNG image")
        return ReferencePhoto(content=body, media_type=media_type,
                              reference=_reference(headers.get("x-transaction-id")))

    async def _post(self, what: str, path: str, payload: dict, cap: int, *,
                    accept: str) -> tuple[int, httpx.Headers, bytes]:
        """POST ``payload``; return status, headers and a body of at most ``cap`` bytes. Transport failures,
        5xx/408/429 and the overall deadline become ``CardCheckUnavailable``."""
        try:
            async with asyncio.timeout(self.timeout):
                async with self._http.stream("POST", self.base_url + path, json=payload,
                                             headers={"Accept": accept}) as response:
                    if response.status_code >= 500 or response.status_code in (408, 429):
                        raise CardCheckUnavailable("unavailable", f"{what}: HTTP {response.status_code}")
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > cap:
                        raise CardCheckUnavailable("bad_answer", f"{what}: answer larger than {cap} bytes")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > cap:
                            raise CardCheckUnavailable("bad_answer", f"{what}: answer larger than {cap} bytes")
                        chunks.append(chunk)
                    return response.status_code, response.headers, b"".join(chunks)
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise CardCheckUnavailable("timeout", f"{what}: no answer within {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise CardCheckUnavailable("unavailable", f"{what}: {type(exc).__name__}") from exc
        except httpx.DecodingError as exc:
            raise CardCheckUnavailable("bad_answer", f"{what}: body does not decode") from exc
