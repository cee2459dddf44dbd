"""What every ``idgw`` sub-command shares: reading the settings (with the command-line rules) and
opening a database session. The sub-command modules (cli_policy, cli_audit, cli_proofing,
cli_delegation) import from here, never from ``idgw.cli``, which imports them: no import circle."""

from __future__ import annotations

import dataclasses
import os

import typer

from idgw.settings import PLACEHOLDER_SECRET, Settings, SettingsError


def _settings(**overrides) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        typer.echo(f"configuration error: {exc}", err=True)
        raise typer.Exit(2) from None


def _db_settings(*, secret_key: bool = False) -> Settings:
    """Settings for a command that only touches the database: every variable is read and checked
    as for ``serve`` except the serve-time rules (https issuer, strong secret key), which dev mode
    relaxes; ``IDGW_DEV`` keeps its own meaning (e.g. http redirect URIs for ``client add``).
    ``secret_key``: the command seals or opens signing keys, so outside dev mode the secret must
    be a real one (a placeholder would seal keys that ``idgw serve`` cannot open)."""
    settings = _settings(dev=True)
    dev = os.environ.get("IDGW_DEV", "").strip().lower() in {"1", "true", "yes", "on"}  # checked by _settings
    settings = dataclasses.replace(settings, dev=dev)
    if secret_key and not dev and (settings.secret_key == PLACEHOLDER_SECRET or len(settings.secret_key) < 32):
        typer.echo("configuration error: IDGW_SECRET_KEY must be the gateway's secret key (a random value of "
                   "at least 32 characters): it seals the signing keys", err=True)
        raise typer.Exit(2)
    return settings


def _session(settings: Settings):
    from idgw.storage.db import make_engine, make_sessionmaker

    return make_sessionmaker(make_engine(settings.database_url))()


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
