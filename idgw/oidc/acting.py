"""Tokens issued to someone acting for another (delegation of authority, ``idgw.delegation``),
without knowing what a delegation is: the provider is handed ``Acting`` values by plain callables.

What the e-service receives (RFC 8693 §4.1 and docs/delegation.md):

* ``sub`` is the principal: the person who delegated, or the company (derived from
  ``juristic:<id>``), pairwise per sector like every ``sub``;
* ``act`` names who acts: ``{"sub": <the acting person's sub>}``, nesting earlier actors of a
  sub-delegation chain inside it (the outermost is the current actor, §4.1); the claims the acting
  person agreed to release (their name, ...) are inside ``act``, because they describe the actor;
* ``delegation`` carries the mandate id, the acts, its end and the principal's kind and name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Acting:
    principal: str  # the key the principal's ``sub`` is derived from
    actors: tuple[str, ...]  # account ids: the current actor first, then earlier ones
    claim: dict  # the ``delegation`` claim
    mandate_id: str | None = None  # set by token exchange (the mandate it chose)


#: acting(db, *, mandate_id, account_id, client_id, act, now, purpose) -> Acting | None
ActingLookup = Callable[..., "Acting | None"]
#: use(db, *, mandate_id, account_id, client_id, act, now) -> bool (single-use mandates are used up)
MandateUse = Callable[..., bool]
#: exchange(db, *, mandate_id, account_id, audience, act, now) -> Acting; raises ValueError with .code
Exchange = Callable[..., Acting]


def act_claim(acting: Acting, *, sub_of: Callable[[str], str], released: dict | None = None) -> dict:
    """The ``act`` claim: the current actor's ``sub`` (and ``released`` claims), earlier actors
    nested inside it."""
    claim: dict | None = None
    for actor in reversed(acting.actors[1:]):
        claim = {"sub": sub_of(actor), **({"act": claim} if claim else {})}
    outer = {"sub": sub_of(acting.actors[0]), **(released or {})}
    if claim:
        outer["act"] = claim
    return outer
