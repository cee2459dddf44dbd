"""``idgw delegation ...``: a service's act catalogue and delegation rule (as on its admin page),
ending mandates past their validity, and verifying a delegation by number or signed document."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

delegation_app = typer.Typer(help="Electronic delegation of authority (ETDA ขมธอ. 31-2565, provisional model): "
                                  "acts, rules, expiry, verification", no_args_is_help=True)
acts_app = typer.Typer(help="A service's catalogue of acts that may be delegated", no_args_is_help=True)
delegation_app.add_typer(acts_app, name="acts")


def _db(*, secret_key: bool = False):
    from idgw.cli_common import _db_settings, _session

    settings = _db_settings(secret_key=secret_key)
    return settings, _session(settings)


def _fail(message: str, *, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _refused(exc) -> None:
    """A ``MandateError`` in the admin page's English words."""
    from idgw.delegation.admin_texts import refusal

    _fail(refusal(exc, "en"))


def _known_client(db, client_id: str) -> None:
    from idgw.storage.models import Client

    if db.get(Client, client_id) is None:
        _fail(f"no client {client_id}")


@acts_app.command("list")
def acts_list(client_id: str, as_json: bool = typer.Option(False, "--json")) -> None:
    """The service's current acts: code, Thai name, English name."""
    from idgw.delegation import catalogue

    _settings, db = _db()
    with db:
        _known_client(db, client_id)
        rows = [{"code": a.code, "name_th": a.name_th, "name_en": a.name_en, "created_by": a.created_by,
                 "created_at": a.created_at} for a in catalogue.acts_of(db, client_id)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(f"{row['code']}\t{row['name_th']}\t{row['name_en']}")


@acts_app.command("add")
def acts_add(client_id: str, code: str = typer.Argument(..., help="e.g. vat_filing: a-z 0-9 _ . -, from a letter"),
             name_th: str = typer.Option(..., "--name-th", help="The act's name in Thai"),
             name_en: str = typer.Option(..., "--name-en", help="The act's name in English"),
             actor: str = typer.Option("cli", help="who adds it (recorded in the audit log)")) -> None:
    """Add an act to the service's catalogue (audited as delegation.rules_changed)."""
    from idgw.delegation import catalogue
    from idgw.delegation.model import MandateError

    _settings, db = _db()
    with db:
        try:
            catalogue.add_act(db, client_id=client_id, code=code, name_th=name_th, name_en=name_en, actor=actor,
                              now=int(time.time()))
        except MandateError as exc:
            _refused(exc)
        db.commit()
    typer.echo(f"added {code.strip()} to {client_id}")


@acts_app.command("retire")
def acts_retire(client_id: str, code: str,
                actor: str = typer.Option("cli", help="who retires it (recorded in the audit log)")) -> None:
    """Take an act out of the catalogue: new delegations cannot name it; signed ones keep it."""
    from idgw.delegation import catalogue
    from idgw.delegation.model import MandateError

    _settings, db = _db()
    with db:
        try:
            catalogue.retire_act(db, client_id=client_id, code=code, actor=actor, now=int(time.time()))
        except MandateError as exc:
            _refused(exc)
        db.commit()
    typer.echo(f"retired {code} at {client_id}")


@delegation_app.command("rules")
def rules(client_id: str,
          sign_ial: str | None = typer.Option(None, help="IAL a principal signs at: 2.1|2.2|2.3|3"),
          sign_aal: str | None = typer.Option(None, help="AAL a principal signs at: 2.1|2.2|3"),
          any_act: bool | None = typer.Option(None, "--any-act/--no-any-act", help="May 'any act' be delegated"),
          stamp_required: bool | None = typer.Option(None, "--stamp-required/--no-stamp-required",
                                                     help="Must the e-Stamp Duty reference be given"),
          max_depth: int | None = typer.Option(None, help="How many times it may be sub-delegated (0-3)"),
          actor: str = typer.Option("cli", help="who sets it (recorded in the audit log)"),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Show the service's delegation rule, or change the parts given (the others are kept)."""
    from idgw.delegation import catalogue
    from idgw.delegation.model import MandateError

    _settings, db = _db()
    with db:
        _known_client(db, client_id)
        current = catalogue.rules_for(db, client_id)
        if any(v is not None for v in (sign_ial, sign_aal, any_act, stamp_required, max_depth)):
            try:
                current = catalogue.set_rules(
                    db, client_id=client_id, sign_ial=sign_ial or current.sign_ial.value,
                    sign_aal=sign_aal or current.sign_aal.value,
                    any_act_allowed=current.any_act_allowed if any_act is None else any_act,
                    stamp_duty_required=current.stamp_duty_required if stamp_required is None else stamp_required,
                    max_depth=current.max_depth if max_depth is None else max_depth, actor=actor, now=int(time.time()))
            except MandateError as exc:
                _refused(exc)
            db.commit()
    shown = {"client_id": client_id, "sign_ial": current.sign_ial.value, "sign_aal": current.sign_aal.value,
             "any_act_allowed": current.any_act_allowed, "stamp_duty_required": current.stamp_duty_required,
             "max_depth": current.max_depth}
    typer.echo(json.dumps(shown, ensure_ascii=False, indent=None if as_json else 2))


@delegation_app.command("expire")
def expire() -> None:
    """Record the end of open delegations past their validity (status expired, audited). Run it
    regularly (cron or a systemd timer); a delegation past its end is refused at use either way."""
    from idgw.delegation.mandates import expire_due

    _settings, db = _db()
    total = 0
    with db:
        while True:
            count = expire_due(db, now=int(time.time()), limit=500)
            db.commit()
            total += count
            if count < 500:
                break
    typer.echo(f"expired {total} delegation(s)")


@delegation_app.command("verify")
def verify_command(mandate_id: str | None = typer.Option(None, "--id", help="The delegation's number"),
                   jws_file: Path | None = typer.Option(None, "--jws-file", help="A file holding the signed document "
                                                                                 "(JWS); needs the gateway's "
                                                                                 "IDGW_ISSUER and IDGW_SECRET_KEY")
                   ) -> None:
    """Verify a delegation as /delegations/verify.json does; prints the answer as JSON and exits
    with 1 when it is not valid."""
    from idgw.delegation.document import MAX_JWS_LENGTH, verify

    if (mandate_id is None) == (jws_file is None):
        _fail("give either --id or --jws-file", code=2)
    jws = None
    if jws_file is not None:
        try:
            jws = "".join(jws_file.read_text(encoding="utf-8")[:2 * MAX_JWS_LENGTH].split())
        except OSError as exc:
            _fail(f"--jws-file {jws_file}: {exc.strerror or type(exc).__name__}")
        except UnicodeDecodeError:
            _fail(f"--jws-file {jws_file}: not UTF-8 text")
    settings, db = _db(secret_key=False)
    with db:
        found = verify(db, now=int(time.time()), issuer=settings.issuer, mandate_id=mandate_id, jws=jws)
    typer.echo(json.dumps({"valid": found.valid, "status": found.status, "reason": found.reason,
                           "delegation": found.summary}, ensure_ascii=False, indent=2))
    if not found.valid:
        raise typer.Exit(1)


