"""DBD-style juristic-person registry: who may bind a company, for electronic delegation of authority
(ETDA ขมธอ. 31-2565: a juristic person acts through its authorised directors under the signing rule
registered with the Department of Business Development, the "DBD affidavit").

The contract (no I/O): ``valid_juristic_id``, ``Director``, ``SigningRule`` (who must approve, how many,
with or without the company seal, and ``satisfied`` / ``missing`` deciding whether a set of director
approvals binds the company), ``Company`` (one answer of the registry, a snapshot the gateway keeps with a
mandate) and ``CompanyLookupError`` (no usable answer, with Thai and English text safe to show a citizen).
The client: ``DbdRegistry`` (synchronous, httpx.Client). Directors' citizen IDs are personal data: they
travel in bodies only, nothing here logs them, and the reprs below mask them.

Wire protocol (JSON over HTTP; personal data only in bodies, never in URLs):

``POST {base}/v1/juristic-persons`` with ``{"juristic_id": "<13 digits>"}`` answers 200 ``{"juristic_id",
"name_th", "name_en", "status": "active" | "closed" | "deregistered" | <other registry text>, "directors":
[{"citizen_id", "name_th", "name_en"}, ...], "signing_rule": {"directors": ["<citizen ID>", ...],
"required": <n>, "must_include": ["<citizen ID>", ...], "seal": <bool>}, "reference": "<transaction id>",
"checked_at": <unix seconds>}``, or 404 ``{"status": "not_found", "reference": ...}``.

Anything else is a ``CompanyLookupError``: ``bad_answer`` (a 404 without that body, any other status,
undecodable or wrongly shaped bodies, invalid IDs inside the answer, an answer about another juristic
ID, a body over 64 KiB), ``unavailable`` (connection failures, 5xx, 408, 429) or ``timeout`` (no complete
answer within ``timeout`` seconds, counted over the whole exchange). An ID failing the checksum is
``invalid_id`` before any I/O.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from typing import Any

import httpx

from providers.base import valid_citizen_id

MAX_ANSWER_BYTES = 64 * 1024
RULE_KEYS = ("directors", "required", "must_include", "seal")
REFERENCE_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
_TH_NUMBERS = ("ศูนย์", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "เก้า", "สิบ")
_EN_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def valid_juristic_id(value: Any) -> bool:
    """A juristic person registered with DBD: 13 digits, the first 0 (then the 2-digit registration office,
    the type digit, ...), and the citizen ID's check digit (11 − Σ d_i·(13−i) mod 11) mod 10."""
    if not isinstance(value, str) or not re.fullmatch(r"0\d{12}", value):
        return False
    total = sum(int(value[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(value[12])


def _masked(pid: str) -> str:
    return f"{pid[0]}-{pid[1:5]}-xxxxx-{pid[10:12]}-{pid[12]}" if len(pid) == 13 else "xxxxx"


def _text(value: Any, where: str, *, limit: int = 300) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise ValueError(f"{where}: must be a non-empty string of at most {limit} characters")
    return value


def _citizen_ids(value: Any, where: str) -> tuple[str, ...]:
    """A tuple of distinct checksum-valid citizen IDs; the error never repeats an ID."""
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"{where}: must be a list of citizen IDs")
    for i, pid in enumerate(value):
        if not valid_citizen_id(pid):
            raise ValueError(f"{where}[{i}]: not a valid citizen ID")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}: lists a citizen ID twice")
    return tuple(value)


@dataclass(frozen=True)
class Director:
    """A director as registered; ``citizen_id`` is checksum-valid (``ValueError`` otherwise)."""

    citizen_id: str
    name_th: str
    name_en: str

    def __post_init__(self) -> None:
        if not valid_citizen_id(self.citizen_id):
            raise ValueError("director: not a valid citizen ID")
        _text(self.name_th, "director.name_th")
        _text(self.name_en, "director.name_en")

    def __repr__(self) -> str:  # the citizen ID is personal data and ends up in logs otherwise
        return f"Director(citizen_id={_masked(self.citizen_id)!r}, name_en={self.name_en!r})"


@dataclass(frozen=True)
class SigningRule:
    """Who binds the company: ``required`` of ``directors`` (citizen IDs) approve, ``must_include`` among
    them, and the company seal when ``seal``. Validated on construction (``ValueError``): distinct valid
    citizen IDs, 1 ≤ required ≤ len(directors), must_include ⊆ directors and no longer than required
    (a rule naming more compulsory signers than it requires is contradictory). Lists become tuples."""

    directors: tuple[str, ...]
    required: int
    must_include: tuple[str, ...] = ()
    seal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "directors", _citizen_ids(self.directors, "signing_rule.directors"))
        object.__setattr__(self, "must_include", _citizen_ids(self.must_include, "signing_rule.must_include"))
        if not self.directors:
            raise ValueError("signing_rule.directors: must name at least one director")
        if isinstance(self.required, bool) or not isinstance(self.required, int):
            raise ValueError("signing_rule.required: must be an integer")
        if not 1 <= self.required <= len(self.directors):
            raise ValueError(f"signing_rule.required: must be between 1 and {len(self.directors)}")
        if not set(self.must_include) <= set(self.directors):
            raise ValueError("signing_rule.must_include: names someone who is not among the directors")
        if len(self.must_include) > self.required:
            raise ValueError("signing_rule.must_include: names more directors than required")
        if not isinstance(self.seal, bool):
            raise ValueError("signing_rule.seal: must be true or false")

    def __repr__(self) -> str:
        return (f"SigningRule(directors={[_masked(p) for p in self.directors]}, required={self.required}, "
                f"must_include={[_masked(p) for p in self.must_include]}, seal={self.seal})")

    def _counted(self, approvers: Any) -> set[str]:
        if isinstance(approvers, str | bytes):  # one ID given bare would count its digits
            raise TypeError("approvers must be an iterable of citizen IDs, not one string")
        return set(self.directors) & {a for a in approvers if isinstance(a, str)}

    def missing(self, *, approvers: Any, sealed: bool) -> int:
        """How many more approvals the rule needs (0 when only the seal is lacking, or nothing). Only
        ``directors`` count, each once; the compulsory signers not yet approving are part of the count.
        ``sealed`` does not change the number; it is taken so both checks read alike."""
        counted = self._counted(approvers)
        return max(self.required - len(counted), len(set(self.must_include) - counted))

    def satisfied(self, *, approvers: Any, sealed: bool) -> bool:
        """True when ``approvers`` (citizen IDs; non-directors ignored, duplicates counted once) and
        ``sealed`` (whether the company seal is affixed) bind the company under this rule."""
        return self.missing(approvers=approvers, sealed=sealed) == 0 and (sealed or not self.seal)

    def text(self, *, names: dict[str, str], locale: str) -> str:
        """The rule in words, ``locale`` "th" or "en" (plain text: escape it for HTML). ``names`` maps citizen
        IDs to display names; an ID without a name is shown masked. E.g. "กรรมการสองในสามคนลงลายมือชื่อร่วมกัน
        (ก, ข, ค)" / "two of A, B, C sign jointly", "any one of A, B", "A and B jointly, with the company seal"."""
        if locale not in ("th", "en"):
            raise ValueError("locale must be 'th' or 'en'")
        th = locale == "th"
        directors, must = self.directors, self.must_include
        if len(must) == self.required:  # the compulsory signers are all it takes: name only them
            directors, must = must, ()
        shown = [names.get(p) or _masked(p) for p in directors]
        listed = ", ".join(shown)
        count, required = len(directors), self.required
        if count == 1:
            words = f"{shown[0]} ลงลายมือชื่อ" if th else f"{shown[0]} alone"
        elif required == 1:
            words = f"กรรมการคนใดคนหนึ่งลงลายมือชื่อ ({listed})" if th else f"any one of {listed}"
        elif required == count:
            both = f"{', '.join(shown[:-1])} และ {shown[-1]}" if th else f"{', '.join(shown[:-1])} and {shown[-1]}"
            words = f"{both} ลงลายมือชื่อร่วมกัน" if th else f"{both} jointly"
        elif th:
            words = f"กรรมการ{_number(required, th)}ใน{_number(count, th)}คนลงลายมือชื่อร่วมกัน ({listed})"
        else:
            words = f"{_number(required, th)} of {listed} sign jointly"
        if must:
            compulsory = ", ".join(names.get(p) or _masked(p) for p in must)
            words += f" โดยต้องมี {compulsory} ลงลายมือชื่อด้วย" if th else f", including {compulsory}"
        if self.seal:
            words += " พร้อมประทับตราสำคัญของบริษัท" if th else ", with the company seal"
        return words

    def as_json(self) -> dict:
        return {"directors": list(self.directors), "required": self.required,
                "must_include": list(self.must_include), "seal": self.seal}

    @classmethod
    def from_json(cls, data: Any) -> SigningRule:
        """The rule from ``as_json``'s shape (also the wire's ``signing_rule``). All four keys are required
        and no others are accepted: an unknown condition must not be dropped silently (fail closed)."""
        if not isinstance(data, dict):
            raise ValueError("signing_rule: must be an object")
        if set(data) != set(RULE_KEYS):
            raise ValueError(f"signing_rule: must have exactly the keys {', '.join(RULE_KEYS)}")
        if not isinstance(data["directors"], list) or not isinstance(data["must_include"], list):
            raise ValueError("signing_rule: directors and must_include must be lists")
        return cls(directors=tuple(data["directors"]), required=data["required"],
                   must_include=tuple(data["must_include"]), seal=data["seal"])


def _number(n: int, th: bool) -> str:
    words = _TH_NUMBERS if th else _EN_NUMBERS
    return words[n] if n < len(words) else str(n)


@dataclass(frozen=True)
class Company:
    """One registry answer about a juristic person. Validated on construction (``ValueError``): valid
    juristic ID, non-empty names and status, distinct directors, a rule naming only listed directors, a
    printable reference, non-negative ``checked_at``. ``status`` is kept as the registry gave it."""

    juristic_id: str
    name_th: str
    name_en: str
    status: str
    directors: tuple[Director, ...]
    rule: SigningRule
    reference: str
    checked_at: int

    def __post_init__(self) -> None:
        if not valid_juristic_id(self.juristic_id):
            raise ValueError("juristic_id: not a valid juristic person ID")
        _text(self.name_th, "name_th")
        _text(self.name_en, "name_en")
        _text(self.status, "status", limit=100)
        object.__setattr__(self, "directors", tuple(self.directors))
        if not all(isinstance(d, Director) for d in self.directors):
            raise ValueError("directors: must be Director values")
        listed = [d.citizen_id for d in self.directors]
        if len(set(listed)) != len(listed):
            raise ValueError("directors: lists a citizen ID twice")
        if not isinstance(self.rule, SigningRule) or not set(self.rule.directors) <= set(listed):
            raise ValueError("signing_rule: names someone who is not a listed director")
        if not isinstance(self.reference, str) or not REFERENCE_PATTERN.fullmatch(self.reference):
            raise ValueError("reference: missing or malformed")
        if isinstance(self.checked_at, bool) or not isinstance(self.checked_at, int) or self.checked_at < 0:
            raise ValueError("checked_at: must be a non-negative integer")

    @property
    def active(self) -> bool:
        return self.status == "active"

    def director(self, citizen_id: str) -> Director | None:
        """The listed director with ``citizen_id``, or None."""
        return next((d for d in self.directors if d.citizen_id == citizen_id), None)

    def as_json(self) -> dict:
        """The snapshot in the wire's 200 shape (``from_json`` reads both)."""
        return {"juristic_id": self.juristic_id, "name_th": self.name_th, "name_en": self.name_en,
                "status": self.status,
                "directors": [{"citizen_id": d.citizen_id, "name_th": d.name_th, "name_en": d.name_en}
                              for d in self.directors],
                "signing_rule": self.rule.as_json(), "reference": self.reference, "checked_at": self.checked_at}

    @classmethod
    def from_json(cls, data: Any) -> Company:
        """A company from ``as_json``'s shape or a registry answer; ``ValueError`` (never repeating a
        citizen ID) for anything else. Unknown top-level keys are ignored; unknown rule keys are not."""
        if not isinstance(data, dict):
            raise ValueError("answer: must be an object")
        directors = data.get("directors")
        if not isinstance(directors, list):
            raise ValueError("directors: must be a list")
        parsed = []
        for i, entry in enumerate(directors):
            if not isinstance(entry, dict):
                raise ValueError(f"directors[{i}]: must be an object")
            try:
                parsed.append(Director(citizen_id=entry.get("citizen_id"), name_th=entry.get("name_th"),
                                       name_en=entry.get("name_en")))
            except ValueError as exc:
                raise ValueError(f"directors[{i}]: {exc}") from None
        return cls(juristic_id=data.get("juristic_id"), name_th=data.get("name_th"), name_en=data.get("name_en"),
                   status=data.get("status"), directors=tuple(parsed),
                   rule=SigningRule.from_json(data.get("signing_rule")), reference=data.get("reference"),
                   checked_at=data.get("checked_at"))


# code -> (Thai, English) for the citizen; ``detail`` (in the message) is for operators.
ERROR_TEXTS: dict[str, tuple[str, str]] = {
    "invalid_id": ("เลขทะเบียนนิติบุคคลไม่ถูกต้อง กรุณาตรวจสอบเลข 13 หลัก",
                   "The juristic person registration number is not valid. Please check the 13 digits."),
    "not_found": ("ไม่พบนิติบุคคลนี้ในทะเบียนของกรมพัฒนาธุรกิจการค้า กรุณาตรวจสอบเลขทะเบียนนิติบุคคล",
                  "No juristic person with this number is registered with the Department of Business "
                  "Development. Please check the number."),
    "timeout": ("ระบบทะเบียนนิติบุคคลของกรมพัฒนาธุรกิจการค้าตอบกลับช้าเกินไป กรุณาลองใหม่อีกครั้ง",
                "The business registry took too long to answer. Please try again."),
    "unavailable": ("ไม่สามารถติดต่อระบบทะเบียนนิติบุคคลของกรมพัฒนาธุรกิจการค้าได้ในขณะนี้ กรุณาลองใหม่ภายหลัง",
                    "The business registry cannot be reached at the moment. Please try again later."),
    "bad_answer": ("ระบบทะเบียนนิติบุคคลของกรมพัฒนาธุรกิจการค้าตอบกลับไม่ถูกต้อง กรุณาลองใหม่ภายหลัง "
                   "หรือติดต่อเจ้าหน้าที่",
                   "The business registry gave an answer that could not be read. Please try again later "
                   "or contact the service desk."),
}


class CompanyLookupError(Exception):
    """No usable answer. ``code``: invalid_id | not_found | timeout | unavailable | bad_answer; ``text_th`` /
    ``text_en`` are safe to show a citizen; the message (``code: detail``) is safe to log (no personal data);
    ``reference`` is the registry's transaction id when it gave one (not_found)."""

    def __init__(self, code: str, detail: str = "", *, reference: str | None = None) -> None:
        if code not in ERROR_TEXTS:
            raise ValueError(f"unknown CompanyLookupError code {code!r}")
        self.code, self.detail, self.reference = code, detail, reference
        self.text_th, self.text_en = ERROR_TEXTS[code]
        super().__init__(f"{code}: {detail}" if detail else code)


def _parse(status: int, body: bytes, juristic_id: str) -> Company:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
    if status == 404:
        reference = data.get("reference") if isinstance(data, dict) else None
        if (isinstance(data, dict) and data.get("status") == "not_found" and isinstance(reference, str)
                and REFERENCE_PATTERN.fullmatch(reference)):
            raise CompanyLookupError("not_found", "the registry has no such juristic person", reference=reference)
        raise CompanyLookupError("bad_answer", "HTTP 404 without a not_found answer")
    if status != 200:
        raise CompanyLookupError("bad_answer", f"HTTP {status}")
    if data is None:
        raise CompanyLookupError("bad_answer", "not JSON")
    try:
        company = Company.from_json(data)
    except ValueError as exc:  # the messages name fields, never values
        raise CompanyLookupError("bad_answer", f"wrongly shaped answer ({exc})") from None
    if company.juristic_id != juristic_id:
        raise CompanyLookupError("bad_answer", "the answer is about another juristic person")
    return company


class DbdRegistry:
    """Synchronous client of the registry at ``base_url``. ``timeout`` bounds each ``lookup`` as a whole:
    the exchange runs in a short-lived worker thread and the caller stops waiting at the deadline, so a
    source that stalls or dribbles bytes cannot hold it longer (httpx's per-operation timeouts, the same
    value, end the abandoned worker). ``transport`` is for tests (``httpx.MockTransport``). Call ``close()``
    (or use ``with``) when done."""

    def __init__(self, *, base_url: str, timeout: float = 5.0, transport: httpx.BaseTransport | None = None) -> None:
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.base_url = base_url.rstrip("/")
        self.timeout = float(timeout)
        self._http = httpx.Client(timeout=self.timeout, transport=transport, follow_redirects=False)

    def __enter__(self) -> DbdRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def lookup(self, juristic_id: str) -> Company:
        """The registry's current record of ``juristic_id``; ``CompanyLookupError`` otherwise (``invalid_id``
        before any I/O when the ID fails the checksum). A closed or deregistered company is returned, not
        raised: check ``Company.active``."""
        if not valid_juristic_id(juristic_id):
            raise CompanyLookupError("invalid_id", "not 13 digits starting with 0 with a valid check digit")
        outcome: list = []
        done, gave_up = threading.Event(), threading.Event()

        def exchange() -> None:
            try:
                outcome.append(self._post(juristic_id, gave_up))
            except BaseException as exc:  # handed over to the caller's thread
                outcome.append(exc)
            finally:
                done.set()

        threading.Thread(target=exchange, name="dbd-lookup", daemon=True).start()
        if not done.wait(self.timeout):
            gave_up.set()
            raise CompanyLookupError("timeout", f"no complete answer within {self.timeout:g} s")
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        status, body = outcome[0]
        return _parse(status, body, juristic_id)

    def _post(self, juristic_id: str, gave_up: threading.Event) -> tuple[int, bytes]:
        """POST the lookup; return the status and a body of at most ``MAX_ANSWER_BYTES``. Transport failures,
        5xx/408/429 and httpx timeouts become ``CompanyLookupError``; stops reading once ``gave_up`` is set."""
        try:
            with self._http.stream("POST", self.base_url + "/v1/juristic-persons", json={"juristic_id": juristic_id},
                                   headers={"Accept": "application/json"}) as response:
                if response.status_code >= 500 or response.status_code in (408, 429):
                    raise CompanyLookupError("unavailable", f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                    raise CompanyLookupError("bad_answer", f"answer larger than {MAX_ANSWER_BYTES} bytes")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    if gave_up.is_set():
                        raise CompanyLookupError("timeout", "the caller stopped waiting")
                    size += len(chunk)
                    if size > MAX_ANSWER_BYTES:
                        raise CompanyLookupError("bad_answer", f"answer larger than {MAX_ANSWER_BYTES} bytes")
                    chunks.append(chunk)
                return response.status_code, b"".join(chunks)
        except httpx.TimeoutException as exc:
            raise CompanyLookupError("timeout", f"no answer within {self.timeout:g} s") from exc
        except httpx.TransportError as exc:
            raise CompanyLookupError("unavailable", type(exc).__name__) from exc
        except httpx.DecodingError as exc:
            raise CompanyLookupError("bad_answer", "body does not decode") from exc
