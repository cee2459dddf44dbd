"""(design) From the kinds of factor used (pwd, otp, hwk, hwk_uv, hwk_uv_attested) to an AAL,
and how long a session counts at that AAL. The rules are data in ``data/aal-rules.yaml``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from policies.levels import AAL

RULES_PATH = Path(__file__).parent / "data" / "aal-rules.yaml"


@dataclass(frozen=True)
class SessionLimit:
    absolute: int
    idle: int | None
    reauthenticate_with: str  # any_factor | one_factor | all_factors


@dataclass(frozen=True)
class AALRules:
    factor_sets: tuple[tuple[AAL, frozenset[str]], ...]
    session_limits: dict[str, SessionLimit]

    def aal_for(self, factors: Iterable[str]) -> AAL | None:
        """The highest AAL whose required factor kinds were all used; None if no rule matches."""
        used = set(factors)
        best = None
        for aal, needed in self.factor_sets:
            if needed <= used and (best is None or aal > best):
                best = aal
        return best

    def limit(self, aal: AAL) -> SessionLimit:
        return self.session_limits[aal.value]


@lru_cache(maxsize=1)
def default_rules() -> AALRules:
    data = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    return AALRules(
        factor_sets=tuple((AAL.parse(r["aal"]), frozenset(r["all_of"])) for r in data["factor_sets"]),
        session_limits={AAL.parse(k).value: SessionLimit(**v) for k, v in data["session_limits"].items()},
    )
