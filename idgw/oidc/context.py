"""The request an Authlib call serves, as context variables: its ORM session and client IP (set by
``idgw.oidc.adapter`` around each call), and whether a disabled client is to be found."""

from __future__ import annotations

from contextvars import ContextVar

#: The ORM session of the request being served (set by the adapter around each Authlib call).
current_db: ContextVar = ContextVar("idgw_db")
#: The client IP of that request, for audit records.
current_ip: ContextVar = ContextVar("idgw_ip", default=None)
#: Set while the introspection endpoint authenticates its caller: ``query_client`` then also finds
#: a disabled client, whose tokens are all answered inactive (``Introspection``).
finding_disabled: ContextVar[bool] = ContextVar("idgwfinding_disabled", default=False)
