"""``idgw policy ...``: assess, set, show, export, import."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import typer

policy_app = typer.Typer(help="Per-service assurance policies (risk assessment -> IAL/AAL floors)",
                         no_args_is_help=True)

BANGKOK = timezone(timedelta(hours=7), "ICT")
IMPACT_HELP = "category=impact (repeatable), e.g. financial=moderate; categories not given are 'none'"


def _impacts(pairs: list[str]) -> dict:
    from policies import default_matrix

    matrix = default_matrix()
    impacts = {c.id: "none" for c in matrix.categories}
    for pair in pairs:
        category, sep, impact = pair.partition("=")
        if not sep:
            raise typer.BadParameter(f"{pair!r}: write category=impact")
        impacts[category.strip()] = impact.strip()
    return impacts


def _input(impact, auth_impact, needs_verified_identity, **extra):
    from idgw.assurance import PolicyInput

    return PolicyInput(needs_verified_identity=needs_verified_identity, proofing_impacts=_impacts(impact),
                       authentication_impacts=_impacts(auth_impact) if auth_impact else None, **extra)


@policy_app.command("assess")
def policy_assess(
    impact: list[str] = typer.Option([], "--impact", help=IMPACT_HELP),
    auth_impact: list[str] = typer.Option([], "--auth-impact", help="impacts of authentication errors, if they "
                                          "differ from proofing errors (same form)"),
    needs_verified_identity: bool = typer.Option(True, "--needs-verified-identity/--no-verified-identity"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Compute the IAL/AAL floors a risk assessment gives, with the reason for each."""
    from idgw.assurance import PolicyChangeError, compute

    try:
        assessment, _ = compute(_input(impact, auth_impact, needs_verified_identity))
    except PolicyChangeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"ial": assessment.ial.value, "aal": assessment.aal.value,
                               "reasons": [r.describe() for r in assessment.reasons]}))
        return
    typer.echo(f"IAL floor: {assessment.ial}")
    typer.echo(f"AAL floor: {assessment.aal}")
    for reason in assessment.reasons:
        typer.echo(f"  - {reason.describe()}")


@policy_app.command("set")
def policy_set(
    client_id: str,
    impact: list[str] = typer.Option([], "--impact", help=IMPACT_HELP),
    auth_impact: list[str] = typer.Option([], "--auth-impact"),
    needs_verified_identity: bool = typer.Option(True, "--needs-verified-identity/--no-verified-identity"),
    min_ial: str | None = typer.Option(None, help="raise (or, with --justification, lower) the computed IAL"),
    min_aal: str | None = typer.Option(None, help="raise (or, with --justification, lower) the computed AAL"),
    max_age: int | None = typer.Option(None, min=0, help="re-authenticate after this many seconds"),
    allow_provider: list[str] = typer.Option(
        None, help="accepted identity source (repeatable): an upstream's name, or officer_video for officer video "
                   "proofing; default any"),
    release_citizen_id: bool = typer.Option(False, help="release the citizen ID (needs --legal-basis)"),
    legal_basis: str | None = typer.Option(None, help="the law or regulation that allows releasing the citizen ID"),
    delegation_allowed: bool = typer.Option(False),
    release_verified_claims: bool = typer.Option(False),
    justification: str | None = typer.Option(None, help="why (required to lower a floor below the computed one)"),
    actor: str = typer.Option("cli", help="who sets it (recorded in the audit log)"),
) -> None:
    """Store a new policy version for an e-service (audited as policy.changed)."""
    from idgw.assurance import PolicyChangeError, describe, set_policy
    from idgw.cli_common import _db_settings, _session

    data = _input(impact, auth_impact, needs_verified_identity, min_ial=min_ial, min_aal=min_aal, max_age=max_age,
                  allowed_providers=allow_provider or None, release_citizen_id=release_citizen_id,
                  citizen_id_legal_basis=legal_basis, delegation_allowed=delegation_allowed,
                  release_verified_claims=release_verified_claims, justification=justification)
    with _session(_db_settings()) as db:
        try:
            row = set_policy(db, client_id=client_id, data=data, actor=actor, now=int(time.time()))
        except PolicyChangeError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None
        db.commit()
        info = describe(row)
    typer.echo(f"policy v{info['version']} for {client_id}: IAL {info['min_ial']}, AAL {info['min_aal']}")


@policy_app.command("show")
def policy_show(client_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The current policy and its history."""
    from idgw.assurance import describe, history
    from idgw.cli_common import _db_settings, _session

    with _session(_db_settings()) as db:
        rows = [{**describe(r), "set_at": iso_time(r.set_at)} for r in history(db, client_id)]
    if not rows:
        typer.echo(f"error: {client_id} has no policy (its logins are refused until one is set)", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps({"current": rows[0], "history": rows}, ensure_ascii=False))
        return
    cur = rows[0]
    typer.echo(f"{client_id}: IAL {cur['min_ial']}, AAL {cur['min_aal']} (v{cur['version']}, set by {cur['set_by']})")
    for r in rows:
        note = f" — {r['justification']}" if r["justification"] else ""
        typer.echo(f"  v{r['version']} IAL {r['min_ial']} AAL {r['min_aal']} by {r['set_by']} at {r['set_at']}{note}")


def iso_time(epoch: int) -> str:
    """ISO 8601 with the offset, in Thailand's time (UTC+07:00, no daylight saving), e.g.
    2026-11-30T12:00:19+07:00: what a person reads and what a program parses."""
    return datetime.fromtimestamp(epoch, BANGKOK).isoformat()


@policy_app.command("export")
def policy_export(path: Path | None = typer.Argument(None)) -> None:
    """Write every current policy as YAML (to a file or standard output)."""
    from idgw.assurance import export_yaml
    from idgw.cli_common import _db_settings, _session

    with _session(_db_settings()) as db:
        text = export_yaml(db)
    if path:
        path.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@policy_app.command("import")
def policy_import(path: Path, actor: str = typer.Option("cli")) -> None:
    """Load policies from YAML; the whole file is validated first and a bad file changes nothing."""
    from idgw.assurance import PolicyChangeError, import_yaml
    from idgw.cli_common import _db_settings, _session

    with _session(_db_settings()) as db:
        try:
            changed = import_yaml(db, path.read_text(encoding="utf-8"), actor=actor, now=int(time.time()))
        except PolicyChangeError as exc:
            db.rollback()
            typer.echo(f"error: {path}: {exc}", err=True)
            raise typer.Exit(1) from None
        db.commit()
    typer.echo(f"imported {len(changed)} polic{'y' if len(changed) == 1 else 'ies'}: {', '.join(changed)}")
