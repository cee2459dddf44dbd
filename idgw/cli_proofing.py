"""``idgw proofing ...``: purge media past retention, verify a case's record, show a case."""

from __future__ import annotations

import json
import time

import typer

proofing_app = typer.Typer(help="Officer video proofing: evidence retention and case records", no_args_is_help=True)


def _db():
    from idgw.cli_common import _db_settings, _session

    return _session(_db_settings())


@proofing_app.command("purge")
def purge() -> None:
    """Delete the evidence images (reference photos, captured frames) whose retention has ended.
    Each deletion is audited (proofing.purged) and noted in its case record; the SHA-256 stays.
    Run it daily (cron or a systemd timer)."""
    from idgw.proofing.media_store import purge as purge_media

    with _db() as db:
        count = purge_media(db, now=int(time.time()))
        db.commit()
    typer.echo(f"purged {count} image(s)")


@proofing_app.command("verify")
def verify(case_id: str) -> None:
    """Check a case's append-only record (each entry chained to the previous one by SHA-256)."""
    from idgw.proofing.record import entries
    from idgw.proofing.record import verify as verify_chain

    with _db() as db:
        rows = entries(db, case_id)
        if not rows:
            typer.echo(f"no record for case {case_id}", err=True)
            raise typer.Exit(2)
        problems = verify_chain(db, case_id)
    for problem in problems:
        typer.echo(f"BROKEN: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"case {case_id}: {len(rows)} entries, chain intact (last {rows[-1].hash})")


@proofing_app.command("show")
def show(case_id: str) -> None:
    """Print a case's record as JSON lines (no images; card data as recorded, never a laser code)."""
    from idgw.proofing.record import entries

    with _db() as db:
        for row in entries(db, case_id):
            typer.echo(json.dumps({"seq": row.seq, "at": row.at, "kind": row.kind, "actor": row.actor,
                                   "data": row.data, "hash": row.hash}, ensure_ascii=False))


@proofing_app.command("officer-code")
def officer_code(who: str = typer.Option("officer", "--who", help="the demo staff account: officer, "
                                         "admin.somsak or admin.malee")) -> None:
    """A demo staff account's current authenticator-app code (`make run` only: var/demo-*-totp)."""
    from idgw.demo_staff import current_code, secret_file

    path = secret_file(who)
    if not path.exists():
        typer.echo(f"no demo staff account {who!r} here: start the demo with `make run` first", err=True)
        raise typer.Exit(2)
    typer.echo(current_code(path.read_text().strip()))
