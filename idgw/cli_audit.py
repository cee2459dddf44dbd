"""``idgw audit verify | export | checkpoint``: the audit chains from the command line.

``verify`` walks every chain in the database (or an exported file, offline, with ``--file``) and
exits 1 naming the first event that was edited, deleted, inserted or reordered in each broken
chain; ``export`` streams the log as JSON lines for a SIEM or an auditor, after signing the current
heads so that the export ends at a signed checkpoint; ``checkpoint`` signs the heads now.
"""

from __future__ import annotations

import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

audit_app = typer.Typer(help="The tamper-evident audit log: verify, export, checkpoint.", no_args_is_help=True)

_RELATIVE = re.compile(r"^([0-9]+)([dhm])$")


def parse_since(value: str | None, *, now: int) -> int | None:
    """``7d``, ``24h``, ``30m``, epoch seconds, or an ISO date/time (UTC when no zone is given)."""
    if value is None or value == "":
        return None
    value = value.strip()
    m = _RELATIVE.match(value)
    if m:
        return now - int(m.group(1)) * {"d": 86400, "h": 3600, "m": 60}[m.group(2)]
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--since {value!r}: use 7d, 24h, epoch seconds or an ISO date "
                                 "such as 2026-11-01 or 2026-11-01T08:00:00+07:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _print_report(report, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
        return
    for chain, rep in sorted(report.chains.items()):
        span = f"seq {rep.first_seq}-{rep.last_seq}" if rep.first_seq is not None else "no events"
        signed = f", signed up to seq {rep.anchored_to}" if rep.anchored_to else ", no signed checkpoint yet"
        typer.echo(f"chain {chain}: {rep.events:,} events ({span}), from {rep.start}{signed}")
    for p in report.problems:
        typer.echo(f"TAMPERED ({p.kind}) chain {p.chain}: {p.message}", err=True)
    typer.echo("audit log intact" if report.ok else f"audit log NOT intact: {len(report.problems)} chain(s) broken")


@audit_app.command("verify")
def verify(file: Path = typer.Option(None, "--file", help="Verify an export (JSON lines) offline."),
           keys: Path = typer.Option(None, "--keys", help="The gateway's published keys (a JWKS file) to check "
                                     "the export's checkpoints with; default: the keys in the export."),
           as_json: bool = typer.Option(False, "--json")) -> None:
    """Walk the audit chains; exit 1 if any event was edited, deleted, inserted or reordered."""
    from idgw.audit.verify import verify_database, verify_export

    if keys is not None and file is None:
        typer.echo("--keys checks the signed checkpoints of an export: give the export with --file (the "
                   "database is checked against every key it ever held)", err=True)
        raise typer.Exit(2)
    if file is not None:
        try:
            jwks = json.loads(keys.read_text(encoding="utf-8")) if keys else None
        except (OSError, ValueError) as exc:
            typer.echo(f"cannot read the keys (--keys {keys}): {exc}", err=True)
            raise typer.Exit(2) from None
        try:
            with file.open(encoding="utf-8") as fh:
                report = verify_export(fh, keys=jwks)
        except (OSError, ValueError, KeyError) as exc:
            typer.echo(f"cannot read the export: {exc}", err=True)
            raise typer.Exit(2) from None
        if keys is None and not as_json:
            typer.echo("note: checkpoints checked against the keys inside the export; pass --keys with the "
                       "gateway's published keys to prove who signed them", err=True)
    else:
        from idgw.cli_common import _db_settings, _session
        from idgw.oidc.keys import every_public_key

        settings = _db_settings()
        with _session(settings) as db:
            # Any key this database ever held vouches; the issuer is not compared, so a shell whose
            # IDGW_ISSUER differs from the public one does not see false alarms.
            report = verify_database(db, keys=every_public_key(db))
    _print_report(report, as_json=as_json)
    if not report.ok:
        raise typer.Exit(1)


def _sign_heads(settings, sm) -> int:
    from idgw.audit import checkpoints
    from idgw.oidc.keys import WrongSecretKeyError

    try:
        signer = checkpoints.signer_from_settings(sm, settings)
    except (WrongSecretKeyError, RuntimeError) as exc:
        typer.echo(f"warning: heads not signed ({exc}); the export ends at the last signed checkpoint", err=True)
        return 0
    with sm() as db:
        signed = checkpoints.sign_heads(db, signer, issuer=settings.issuer, now=int(time.time()))
        db.commit()
        return len(signed)


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Sign each chain's head now (``idgw serve`` does it every IDGW_AUDIT_CHECKPOINT_INTERVAL s)."""
    from idgw.cli_common import _db_settings
    from idgw.storage.db import make_engine, make_sessionmaker

    settings = _db_settings(secret_key=True)
    n = _sign_heads(settings, make_sessionmaker(make_engine(settings.database_url)))
    typer.echo(f"signed {n} chain head(s)")


@audit_app.command("export")
def export(since: str = typer.Option(None, "--since", help="7d, 24h, epoch seconds or an ISO date/time"),
           fmt: str = typer.Option("jsonl", "--format", help="jsonl (the only format)"),
           output: Path = typer.Option(None, "--output", "-o", help="a file (default: standard output)"),
           sign: bool = typer.Option(True, "--sign/--no-sign", help="sign the current heads first")) -> None:
    """Stream the audit events (and signed checkpoints) as JSON lines."""
    from idgw.audit import export as exporter
    from idgw.audit import record
    from idgw.cli_common import _db_settings
    from idgw.oidc.keys import every_public_key
    from idgw.storage.db import make_engine, make_sessionmaker

    if fmt != "jsonl":
        raise typer.BadParameter("--format: only jsonl is supported")
    now = int(time.time())
    start = parse_since(since, now=now)
    settings = _db_settings()
    sm = make_sessionmaker(make_engine(settings.database_url))
    # the file first: an export that cannot be written is not recorded as made
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    try:
        with sm() as db:
            record(db, "audit.exported", at=now, actor="cli", since=start, format=fmt)
            db.commit()
        if sign:  # after the export's own event, so that the export ends at a signed checkpoint
            _sign_heads(settings, sm)
        with sm() as db:
            for line in exporter.lines(db, issuer=settings.issuer, keys=every_public_key(db), now=now, since=start):
                out.write(line)
    finally:
        if output:
            out.close()
