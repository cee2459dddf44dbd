"""Verification of the audit chains, in the database (``verify_database``) or in an exported
JSON-lines file, offline (``verify_export``).

Each chain is walked in ``seq`` order from its start (the genesis, or the latest signed ``cut``
checkpoint left by the retention rule). The first break in a chain is reported and named:

- **edited**: an event's content no longer matches its own hash (or its sequence number changed);
- **deleted**: the event an event links to is nowhere in the chain (a gap), or the head says the
  chain is longer than its events;
- **inserted**: the events between an event and the one it links to are not its predecessor
  (they were put in), or there are events beyond the head;
- **reordered**: an event links to one that now stands after it;
- **rewritten**: every link holds but a signed checkpoint vouches for another hash at its place
  (someone recomputed the chain's hashes);
- **checkpoint**: a checkpoint's signature or content does not verify.

The walk reads the chain in batches (keyset on ``seq``), so it runs in constant memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from joserfc.jwk import KeySet
from sqlalchemy import func, select

from idgw.audit import checkpoints
from idgw.audit.chain import GENESIS, event_hash
from idgw.storage.console import AuditHead
from idgw.storage.models import AuditEvent

BATCH = 5000


@dataclass(frozen=True)
class Problem:
    chain: str
    kind: str  # edited | deleted | inserted | reordered | rewritten | checkpoint
    message: str
    row_id: int | None = None
    seq: int | None = None


@dataclass
class ChainReport:
    chain: str
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    checkpoints: int = 0
    anchored_to: int | None = None  # seq of the last event vouched for by a signed checkpoint
    start: str = "genesis"  # genesis | cut checkpoint | export (taken on trust)


@dataclass
class Report:
    chains: dict[str, ChainReport] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict:
        return {"ok": self.ok,
                "chains": {c: vars(r) for c, r in sorted(self.chains.items())},
                "problems": [vars(p) for p in self.problems]}


def _keyset(jwks: dict | None) -> KeySet | None:
    """The keys to check checkpoints with (None: there are none, so no checkpoint can verify)."""
    return KeySet.import_key_set(jwks) if jwks and jwks.get("keys") else None


def _where(row: dict) -> str:
    return f"event id {row.get('id')} (chain {row['chain']}, seq {row['seq']})"


def walk(chain: str, rows: Iterable[dict], *, prev: str, seq: int, locate: Callable[[str], int | None],
         report: ChainReport) -> tuple[dict | None, Problem | None]:
    """Walk ``rows`` (one chain, ``seq`` order) expecting the first to link to ``prev`` with
    number ``seq + 1``. Returns (last row walked, first problem or None)."""
    last = None
    for row in rows:
        if event_hash(row, row["prev_hash"]) != row["hash"]:
            return last, Problem(chain, "edited", f"{_where(row)} was edited: its content does not match its hash",
                                 row.get("id"), row["seq"])
        if row["prev_hash"] != prev:
            at = locate(row["prev_hash"])
            if at is None:
                gap = f"events {seq + 1}..{row['seq'] - 1}" if row["seq"] > seq + 1 else "the event"
                return last, Problem(chain, "deleted", f"{gap} before {_where(row)} were deleted: "
                                     "the event it links to is not in the chain", row.get("id"), row["seq"])
            if at > row["seq"]:
                return last, Problem(chain, "reordered", f"{_where(row)} was moved: it links to the event at seq "
                                     f"{at}, which now stands after it", row.get("id"), row["seq"])
            return last, Problem(chain, "inserted", f"events {at + 1}..{row['seq'] - 1} were inserted: "
                                 f"{_where(row)} links to the event at seq {at}", row.get("id"), at + 1)
        if row["seq"] != seq + 1:
            kind = "inserted" if row["seq"] <= seq else "edited"
            return last, Problem(chain, kind, f"{_where(row)} has seq {row['seq']} where {seq + 1} was expected "
                                 "(sequence numbers were changed)", row.get("id"), row["seq"])
        prev, seq, last = row["hash"], row["seq"], row
        report.events += 1
        if report.first_seq is None:
            report.first_seq = seq
        report.last_seq, report.last_hash = seq, prev
    return last, None


def _check_anchors(chain: str, marks: list[dict], hash_at: Callable[[int], str | None], keys: KeySet | None,
                   report: ChainReport, *, issuer: str | None, after: int) -> Problem | None:
    """Each signed checkpoint past the chain's start must match the event at its place."""
    for mark in marks:
        why = checkpoints.problem(mark, keys, issuer=issuer)
        if why:
            return Problem(chain, "checkpoint", f"checkpoint {mark.get('id')} at seq {mark['seq']}: {why}",
                           None, mark["seq"])
        report.checkpoints += 1
        if mark["seq"] <= after:
            continue
        found = hash_at(mark["seq"])
        if found is None:
            return Problem(chain, "deleted", f"the event at seq {mark['seq']}, vouched for by checkpoint "
                           f"{mark.get('id')}, is missing", None, mark["seq"])
        if found != mark["hash"]:
            return Problem(chain, "rewritten", f"the chain was rewritten: checkpoint {mark.get('id')} signed seq "
                           f"{mark['seq']} with another hash than the event there now", None, mark["seq"])
        report.anchored_to = max(report.anchored_to or 0, mark["seq"])
    return None


def _cut(marks: list[dict], keys: KeySet | None, issuer: str | None) -> dict | None:
    cuts = [m for m in marks if m["kind"] == "cut" and checkpoints.problem(m, keys, issuer=issuer) is None]
    return max(cuts, key=lambda m: m["seq"]) if cuts else None


# -- in the database ------------------------------------------------------------------------

_T = AuditEvent.__table__
_COLUMNS = [_T.c[name] for name in ("id", "chain", "seq", "at", "name", "actor", "on_behalf_of", "client_id",
                                    "session_id", "ip", "detail", "prev_hash", "hash")]


def rows_of(db, chain: str, after: int) -> Iterator[dict]:
    """The events of ``chain`` after seq ``after``, in (seq, id) order, read in batches."""
    last_seq, last_id = after, None
    while True:
        past = AuditEvent.seq > last_seq
        if last_id is not None:  # events sharing a seq (inserted ones) are each read once
            past = past | ((AuditEvent.seq == last_seq) & (AuditEvent.id > last_id))
        # Core rows, not ORM objects: the walk reads every event once and changes none.
        batch = [dict(r) for r in db.execute(select(*_COLUMNS).where(AuditEvent.chain == chain, past)
                                             .order_by(AuditEvent.seq, AuditEvent.id).limit(BATCH)).mappings()]
        if not batch:
            return
        yield from batch
        last_seq, last_id = batch[-1]["seq"], batch[-1]["id"]


def verify_database(db, *, keys: dict, issuer: str | None = None) -> Report:
    """Walk every chain in the database (``keys``: a JWKS of every key the gateway ever had)."""
    keyset = _keyset(keys)
    report = Report()
    heads = {h.chain: (h.seq, h.hash) for h in db.scalars(select(AuditHead))}
    chains = sorted(set(heads) | set(db.scalars(select(AuditEvent.chain).distinct())))
    for chain in chains:
        rep = report.chains[chain] = ChainReport(chain)
        marks = checkpoints.of_chain(db, chain)
        cut = _cut(marks, keyset, issuer)
        prev, seq = (cut["hash"], cut["seq"]) if cut else (GENESIS, 0)
        rep.start = f"cut checkpoint at seq {cut['seq']}" if cut else "genesis"

        def locate(h, chain=chain):
            return db.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.chain == chain, AuditEvent.hash == h))

        last, problem = walk(chain, rows_of(db, chain, seq), prev=prev, seq=seq, locate=locate, report=rep)
        if problem is None:
            problem = _head_problem(chain, heads.get(chain), rep, start=seq)
        if problem is None:
            problem = _check_anchors(chain, marks, lambda s, chain=chain: checkpoints.hash_at(db, chain, s), keyset,
                                     rep, issuer=issuer, after=seq)
        if problem is not None:
            report.problems.append(problem)
    return report


def _head_problem(chain: str, head, rep: ChainReport, *, start: int) -> Problem | None:
    if head is None:
        return Problem(chain, "inserted", f"chain {chain} has events but no head: they were inserted")
    last_seq = rep.last_seq if rep.last_seq is not None else start
    if head[0] > last_seq:
        return Problem(chain, "deleted", f"events {last_seq + 1}..{head[0]} at the end of chain {chain} were deleted "
                       f"(the head is at seq {head[0]})", None, last_seq + 1)
    if head[0] < last_seq:
        return Problem(chain, "inserted", f"events after seq {head[0]} (the head) were inserted in chain {chain}",
                       None, head[0] + 1)
    if rep.last_hash is not None and head[1] != rep.last_hash:
        return Problem(chain, "edited", f"the head of chain {chain} does not match its last event", None, head[0])
    return None


# -- an exported file, offline ----------------------------------------------------------------

def read_export(lines: Iterable[str]) -> tuple[dict, dict[str, list[dict]], dict[str, list[dict]], dict | None]:
    """(header, events by chain, checkpoints by chain, trailer) of an export (``idgw.audit.export``)."""
    header, trailer = {}, None
    events: dict[str, list[dict]] = {}
    marks: dict[str, list[dict]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError:
            raise ValueError(f"line {number} is not JSON") from None
        kind = item.pop("type", None)
        if kind == "header":
            header = item
        elif kind == "event":
            events.setdefault(item["chain"], []).append(item)
        elif kind == "checkpoint":
            marks.setdefault(item["chain"], []).append(item)
        elif kind == "end":
            trailer = item
        else:
            raise ValueError(f"line {number} has an unknown type {kind!r}")
    return header, events, marks, trailer


def verify_export(lines: Iterable[str], *, keys: dict | None = None) -> Report:
    """Verify an export offline. ``keys``: the gateway's published keys, from a trusted source
    (default: the keys the export carries, which prove only that the file is self-consistent)."""
    header, events, marks, trailer = read_export(lines)
    keyset = _keyset(keys or header.get("keys"))
    issuer = header.get("issuer")
    report = Report()
    for chain in sorted(set(events) | set(marks)):
        rows = sorted(events.get(chain, []), key=lambda r: (r["seq"], r.get("id") or 0))
        rep = report.chains[chain] = ChainReport(chain)
        chain_marks = sorted(marks.get(chain, []), key=lambda m: m["seq"])
        by_hash = {}
        for r in rows:
            by_hash.setdefault(r["hash"], r["seq"])
        by_seq = {r["seq"]: r["hash"] for r in rows}
        if rows:
            first = rows[0]
            start_seq, prev = first["seq"] - 1, first["prev_hash"]
            anchor = next((m for m in chain_marks if m["seq"] == start_seq), None)
            if anchor is not None and anchor["hash"] == prev:
                rep.start = f"checkpoint at seq {start_seq}"
            elif start_seq == 0 and prev == GENESIS:
                rep.start = "genesis"
            else:
                rep.start = "export (the first event's link is taken on trust)"
        else:
            start_seq, prev = 0, GENESIS
        _last, problem = walk(chain, rows, prev=prev, seq=start_seq, locate=by_hash.get, report=rep)
        if problem is None:
            problem = _check_anchors(chain, chain_marks, by_seq.get, keyset, rep, issuer=issuer,
                                     after=start_seq)
        if problem is not None:
            report.problems.append(problem)
    if trailer is not None and trailer.get("events") != sum(len(v) for v in events.values()):
        report.problems.append(Problem("*", "deleted", f"the export says it holds {trailer.get('events')} events "
                                       f"but holds {sum(len(v) for v in events.values())}"))
    if trailer is None:
        report.problems.append(Problem("*", "deleted", "the export has no end line: it was cut short"))
    return report
