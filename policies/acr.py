"""Authentication context class references (``acr``) in the idgw vocabulary.

Three forms, each naming a level that a sign-in may satisfy (OIDC Core §2 ``acr``, §3.1.2.1
``acr_values``, §5.5.1.1 essential ``acr``):

* ``urn:idgw:ial:<IAL>``            identity assurance at least <IAL>;
* ``urn:idgw:aal:<AAL>``            authentication assurance at least <AAL>;
* ``urn:idgw:ial:<IAL>:aal:<AAL>``  both at once.

A request lists *alternatives*, most preferred first: the sign-in must satisfy one of them, and
the ``acr`` claim is the first listed value it satisfies (never another value: §5.5.1.1). With
nothing asked, the claim is the combined value of what the sign-in reached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from policies.levels import AAL, IAL, LevelError

PREFIX = "urn:idgw:"
_FORM = re.compile(r"urn:idgw:(?:ial:(?P<ial>[0-9.]+))?(?::?aal:(?P<aal>[0-9.]+))?")


@dataclass(frozen=True)
class AcrValue:
    value: str
    ial: IAL | None
    aal: AAL | None

    def satisfied_by(self, *, ial: IAL, aal: AAL) -> bool:
        return (self.ial is None or ial >= self.ial) and (self.aal is None or aal >= self.aal)


def combined_acr(*, ial: IAL, aal: AAL) -> str:
    return f"{PREFIX}ial:{ial.value}:aal:{aal.value}"


def parse_acr(value: str) -> AcrValue | None:
    """One acr value: an ``AcrValue`` for ours, None for another vocabulary's URI (OIDC Core
    §3.1.2.1 lets the OP ignore those); a malformed ``urn:idgw:`` value is a ``LevelError``."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    match = _FORM.fullmatch(value)
    if not match or not (match["ial"] or match["aal"]) or (match["ial"] and match["aal"] and ":aal:" not in value):
        raise LevelError(f"unknown acr value {value!r}; use urn:idgw:ial:<IAL>, urn:idgw:aal:<AAL> "
                         "or urn:idgw:ial:<IAL>:aal:<AAL>")
    if value.startswith(PREFIX + "aal:") and match["ial"]:
        raise LevelError(f"unknown acr value {value!r}; the IAL comes first: urn:idgw:ial:<IAL>:aal:<AAL>")
    return AcrValue(value, IAL(match["ial"]) if match["ial"] else None, AAL(match["aal"]) if match["aal"] else None)


def acr_alternatives(values: list[str]) -> tuple[AcrValue, ...]:
    """The alternatives in our vocabulary, in the order given (duplicates dropped)."""
    seen: dict[str, AcrValue] = {}
    for value in values:
        parsed = parse_acr(value)
        if parsed is not None and parsed.value not in seen:
            seen[parsed.value] = parsed
    return tuple(seen.values())


def first_satisfied(alternatives, *, ial: IAL, aal: AAL) -> AcrValue | None:
    return next((a for a in alternatives if a.satisfied_by(ial=ial, aal=aal)), None)


#: Discovery's acr_values_supported: every single-axis value and every combination.
ACR_VALUES_SUPPORTED: tuple[str, ...] = (
    *(IAL(v).acr for v in IAL.VALUES), *(AAL(v).acr for v in AAL.VALUES),
    *(combined_acr(ial=IAL(i), aal=AAL(a)) for i in IAL.VALUES for a in AAL.VALUES),
)
