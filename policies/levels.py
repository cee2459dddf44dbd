"""Thai assurance levels (มรด. 1-2:2564): IAL 1.1 1.2 1.3 2.1 2.2 2.3 3 and AAL 1 2.1 2.2 3.

Levels are strings with a total order by position, never floats (shared/docs/domain.md §1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import total_ordering
from typing import ClassVar

IAL_VALUES = ("1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "3")
AAL_VALUES = ("1", "2.1", "2.2", "3")
ACR_PREFIX = {"IAL": "urn:idgw:ial:", "AAL": "urn:idgw:aal:"}


class LevelError(ValueError):
    """A value that is not one of the defined levels; the message says which values are valid."""


@total_ordering
@dataclass(frozen=True)
class _Level:
    value: str
    KIND: ClassVar[str] = ""
    VALUES: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        if self.value not in self.VALUES:
            raise LevelError(f"{self.KIND} must be one of {', '.join(self.VALUES)}; got {self.value!r}")

    @classmethod
    def parse(cls, text: object):
        """Parse exactly one of the defined values ("2.1"); anything else ("IAL2", "2", "1.0",
        "2.30", 2.1 as a float) is a ``LevelError``."""
        if not isinstance(text, str):
            raise LevelError(f"{cls.KIND} must be written as a string such as {cls.VALUES[1]!r}; got {text!r}")
        return cls(text.strip())

    @classmethod
    def from_acr(cls, acr: str):
        prefix = ACR_PREFIX[cls.KIND]
        if not acr.startswith(prefix):
            raise LevelError(f"{acr!r} is not a {cls.KIND} acr value ({prefix}<level>)")
        return cls.parse(acr[len(prefix):])

    @property
    def rank(self) -> int:
        return self.VALUES.index(self.value)

    @property
    def family(self) -> int:
        return int(self.value.split(".")[0])

    @property
    def acr(self) -> str:
        return ACR_PREFIX[self.KIND] + self.value

    def __lt__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return self.rank < other.rank

    def __str__(self) -> str:
        return self.value

    @classmethod
    def lowest(cls):
        return cls(cls.VALUES[0])


class IAL(_Level):
    KIND = "IAL"
    VALUES = IAL_VALUES


class AAL(_Level):
    KIND = "AAL"
    VALUES = AAL_VALUES
