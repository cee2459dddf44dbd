"""Moved to the ``idgw.account`` package (its pages beside it in idgw/account/templates); this
name stays for its importers (idgw/app.py mounts ``router``, idgw/web/passkeys.py gates passkey
registration with ``account_access``)."""

from idgw.account import account_access, router

__all__ = ["account_access", "router"]
