"""The risk assessment (shared/docs/domain.md §2): impact ratings in, IAL/AAL floors out.

The table lives in ``data/risk-matrix.yaml``; this module only applies it. The required level is
the lowest one that tolerates every rated impact; each category that forced a level above 1 is a
reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from policies.levels import AAL, IAL

MATRIX_PATH = Path(__file__).parent / "data" / "risk-matrix.yaml"


class AssessmentError(ValueError):
    """Answers that do not fit the matrix (unknown category, unknown impact, missing answer)."""


@dataclass(frozen=True)
class Category:
    id: str
    en: str
    th: str


@dataclass(frozen=True)
class RiskMatrix:
    source: Mapping
    version: int
    impacts: tuple[str, ...]
    categories: tuple[Category, ...]
    tolerates: Mapping[str, Mapping[int, str]]
    family_to_sublevel: Mapping[str, Mapping[int, str]]
    ial_without_verified_identity: str

    def impact_rank(self, impact: str) -> int:
        return self.impacts.index(impact)

    def level_for(self, category: str, impact: str) -> int:
        """The lowest level family (1, 2, 3) that tolerates ``impact`` in ``category``."""
        rank = self.impact_rank(impact)
        for family in sorted(self.tolerates[category]):
            if rank <= self.impact_rank(self.tolerates[category][family]):
                return family
        raise AssessmentError(f"no level tolerates {impact} for {category}")  # the table is incomplete


def load_matrix(path: Path = MATRIX_PATH) -> RiskMatrix:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    matrix = RiskMatrix(
        source=data["source"], version=int(data["version"]), impacts=tuple(data["impacts"]),
        categories=tuple(Category(**c) for c in data["categories"]),
        tolerates={k: {int(f): v for f, v in row.items()} for k, row in data["tolerates"].items()},
        family_to_sublevel={k: {int(f): v for f, v in row.items()} for k, row in data["family_to_sublevel"].items()},
        ial_without_verified_identity=data["ial_without_verified_identity"],
    )
    ids = [c.id for c in matrix.categories]
    if sorted(ids) != sorted(matrix.tolerates):
        raise AssessmentError(f"{path.name}: categories and tolerates rows differ")
    for row in matrix.tolerates.values():
        for impact in row.values():
            matrix.impact_rank(impact)
    IAL.parse(matrix.ial_without_verified_identity)
    for level in matrix.family_to_sublevel["ial"].values():
        IAL.parse(level)
    for level in matrix.family_to_sublevel["aal"].values():
        AAL.parse(level)
    return matrix


@lru_cache(maxsize=1)
def default_matrix() -> RiskMatrix:
    return load_matrix()


@dataclass(frozen=True)
class Reason:
    """Why a level is what it is: ``code`` is a snake_case reason, ``category`` the driver."""

    code: str
    kind: str  # ial | aal
    category: str | None = None
    impact: str | None = None
    family: int | None = None

    def describe(self) -> str:
        if self.category:
            return f"{self.kind.upper()}{self.family}: {self.category} impact is {self.impact}"
        return f"{self.kind.upper()}: {self.code}"


@dataclass(frozen=True)
class Assessment:
    ial: IAL
    aal: AAL
    reasons: tuple[Reason, ...]
    proofing_impacts: Mapping[str, str]
    authentication_impacts: Mapping[str, str]
    needs_verified_identity: bool
    matrix_version: int

    def answers(self) -> dict:
        """The answers, as stored with a policy and exported."""
        return {"needs_verified_identity": self.needs_verified_identity,
                "proofing_impacts": dict(self.proofing_impacts),
                "authentication_impacts": dict(self.authentication_impacts),
                "matrix_version": self.matrix_version}


def _check(impacts: Mapping[str, str], matrix: RiskMatrix, which: str) -> dict[str, str]:
    if not isinstance(impacts, Mapping):
        raise AssessmentError(f"{which} impacts must be a mapping of category to impact")
    known = {c.id for c in matrix.categories}
    unknown = set(impacts) - known
    if unknown:
        raise AssessmentError(f"unknown {which} impact categor{'y' if len(unknown) == 1 else 'ies'}: "
                              f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(known))})")
    missing = known - set(impacts)
    if missing:
        raise AssessmentError(f"{which} impact missing for: {', '.join(sorted(missing))}")
    for category, impact in impacts.items():
        if impact not in matrix.impacts:
            raise AssessmentError(f"{which} impact for {category} must be one of {', '.join(matrix.impacts)}; "
                                  f"got {impact!r}")
    return dict(impacts)


def _family(impacts: dict[str, str], matrix: RiskMatrix, kind: str) -> tuple[int, list[Reason]]:
    per_category = {c: matrix.level_for(c, i) for c, i in impacts.items()}
    family = max(per_category.values())
    reasons = [Reason(code="impact_requires_level", kind=kind, category=c, impact=impacts[c], family=f)
               for c, f in per_category.items() if f == family and family > 1]
    if not reasons:
        reasons = [Reason(code="all_impacts_within_level_1", kind=kind, family=1)]
    return family, reasons


def assess(*, impacts: Mapping[str, str], needs_verified_identity: bool,
           authentication_impacts: Mapping[str, str] | None = None, matrix: RiskMatrix | None = None) -> Assessment:
    """Floors from impact ratings. ``impacts`` rates identity-proofing errors and, unless
    ``authentication_impacts`` is given separately, authentication errors too."""
    matrix = matrix or default_matrix()
    proofing = _check(impacts, matrix, "proofing")
    authentication = _check(authentication_impacts if authentication_impacts is not None else impacts, matrix,
                            "authentication")
    aal_family, aal_reasons = _family(authentication, matrix, "aal")
    if needs_verified_identity:
        ial_family, ial_reasons = _family(proofing, matrix, "ial")
        ial = IAL(matrix.family_to_sublevel["ial"][ial_family])
    else:
        ial = IAL(matrix.ial_without_verified_identity)
        ial_reasons = [Reason(code="no_verified_identity_needed", kind="ial")]
    return Assessment(ial=ial, aal=AAL(matrix.family_to_sublevel["aal"][aal_family]),
                      reasons=tuple(ial_reasons + aal_reasons), proofing_impacts=proofing,
                      authentication_impacts=authentication, needs_verified_identity=needs_verified_identity,
                      matrix_version=matrix.version)
