"""Every audit event names the accounts it concerns where the audit viewer's account filter reads
them through indexes (migration 0016): its actor, its ``on_behalf_of``, or, only for the events
of ``idgw.audit.ACCOUNT_IN_DETAIL``, its detail. An event that named an account in its detail
alone, under another name, would be missed by an investigator filtering on that account.

The check reads every call of ``audit.record`` in the gateway's source: a detail member whose
name says it holds an account (``requested_by``, ``target``, ``officer``...) needs the event's
name in ``ACCOUNT_IN_DETAIL``, unless it only repeats the account of ``on_behalf_of``. Where the detail
is passed on (``**detail``, e.g. ``idgw.admin.remove_client``), the calls of that function are
checked the same way, with the event name it records."""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import idgw
from idgw.audit import ACCOUNT_IN_DETAIL, EVENTS

SOURCE = Path(idgw.__file__).parent
COLUMNS = {"at", "actor", "on_behalf_of", "client_id", "session_id", "ip"}
#: Detail members whose name suggests an account.
ACCOUNT_LIKE = re.compile(r"(^|_)(account|accounts|user|username|by|target|officer|officers|citizen|principal|"
                          r"agent|delegate|member|staff|approver|requester|subject|sub|who|person)(_|$)")
#: ... that hold something else (what, is said here).
NOT_ACCOUNTS = {"confirmed_by_sign_in": "a flag: the link was confirmed by signing in to the account"}
#: ... that name the account in ``on_behalf_of`` again, in another form (when the call sets it).
SAME_AS_ON_BEHALF = {"account": "the username of the account acted on (an administrator's action)"}


@dataclass(frozen=True)
class Call:
    where: str
    name: str | None  # the event's name, when a literal
    name_param: str | None  # else the enclosing function's parameter that holds it
    keywords: frozenset[str]
    passes_on: str | None  # the enclosing function, when the call spreads its **kwargs into the detail
    params: frozenset[str]  # that function's named parameters
    positional: tuple[str, ...]  # ... those that may be given by position, in order


@functools.cache
def _modules() -> tuple:
    return tuple((path.relative_to(SOURCE.parent), ast.parse(path.read_text(), filename=str(path)))
                 for path in sorted(SOURCE.rglob("*.py")))


def _record_calls():
    for path, tree in _modules():
        aliases = {"record"} | {a.asname for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                                and node.module == "idgw.audit" for a in node.names if a.name == "record" and a.asname}
        functions = [f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef)]
        for node in ast.walk(tree):
            func = getattr(node, "func", None)
            named = (isinstance(func, ast.Attribute) and func.attr == "record" and isinstance(func.value, ast.Name)
                     and func.value.id == "audit") or (isinstance(func, ast.Name) and func.id in aliases)
            if not isinstance(node, ast.Call) or not named or len(node.args) < 2:
                continue
            inside = min((f for f in functions if f.lineno <= node.lineno <= f.end_lineno),
                         key=lambda f: f.end_lineno - f.lineno, default=None)
            args = inside.args if inside else None
            params = frozenset(a.arg for a in (args.posonlyargs + args.args + args.kwonlyargs)) if args else frozenset()
            positional = tuple(a.arg for a in (args.posonlyargs + args.args)) if args else ()
            spread = [k.value.id for k in node.keywords if k.arg is None and isinstance(k.value, ast.Name)]
            passes_on = inside.name if inside and args.kwarg and args.kwarg.arg in spread else None
            first = node.args[1]
            yield Call(f"{path}:{node.lineno}", first.value if isinstance(first, ast.Constant) else None,
                       first.id if isinstance(first, ast.Name) and first.id in params else None,
                       frozenset(k.arg for k in node.keywords if k.arg is not None), passes_on, params, positional)


def _calls_of(function: str):
    """(where, keyword names, literal positional and keyword arguments) of each call of ``function``."""
    return _all_calls().get(function, [])


@functools.cache
def _all_calls() -> dict:
    calls: dict[str, list] = {}
    for path, tree in _modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            literals = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
            literals.update({i: a.value for i, a in enumerate(node.args) if isinstance(a, ast.Constant)})
            calls.setdefault(called, []).append(
                (f"{path}:{node.lineno}", frozenset(k.arg for k in node.keywords if k.arg), literals))
    return calls


def _account_members(keywords) -> set[str]:
    return {k for k in keywords - COLUMNS if ACCOUNT_LIKE.search(k) and k not in NOT_ACCOUNTS}


def _wrong(where: str, name, keywords) -> str | None:
    named = _account_members(keywords)
    if "on_behalf_of" in keywords:
        named -= set(SAME_AS_ON_BEHALF)
    if named and name not in ACCOUNT_IN_DETAIL:
        return f"{where} {name or '(a name held in a variable)'}: {sorted(named)}"
    return None


def test_the_calls_are_found():
    calls = list(_record_calls())
    assert len(calls) > 80  # every module that audits, the proofing cases' alias included
    assert {c.name for c in calls} >= {"proofing.decided", "change.approved", "token.issued"}
    passing_on = {c.passes_on for c in calls if c.passes_on}
    assert {"remove_client", "set_policy", "_audit_role"} <= passing_on
    assert ACCOUNT_IN_DETAIL <= EVENTS


def test_an_account_named_only_in_the_detail_is_in_an_event_known_to_hold_one():
    wrong = []
    for call in _record_calls():
        wrong.append(_wrong(call.where, call.name, call.keywords))
        if call.passes_on is None:
            continue
        for where, keywords, literals in _calls_of(call.passes_on):
            name = call.name
            if name is None and call.name_param is not None:
                at = call.positional.index(call.name_param) if call.name_param in call.positional else None
                name = literals.get(call.name_param, literals.get(at))
            wrong.append(_wrong(f"{where} (through {call.passes_on})", name,
                                (keywords - call.params) | (call.keywords & {"on_behalf_of"})))
    wrong = [w for w in wrong if w]
    assert not wrong, "an account named only in the detail: name it as actor or on_behalf_of, or add the event to " \
                      "idgw.audit.ACCOUNT_IN_DETAIL\n" + "\n".join(wrong)


def test_an_officers_proofing_events_name_the_citizen():
    # the officer acts on the citizen's case: the citizen's account filter must find the decision
    officer_events = {"proofing.claimed", "proofing.released", "proofing.cue", "proofing.flagged",
                      "proofing.escalated", "proofing.decided"}
    seen = {c.name: c.keywords for c in _record_calls() if c.name in officer_events}
    assert set(seen) == officer_events
    assert all("on_behalf_of" in keywords for keywords in seen.values()), seen
