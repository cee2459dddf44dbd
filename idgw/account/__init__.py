"""The citizen's own account: proof of control (``access``), what may be taken away (``rules``),
consents and receipts (``consents``), "download my data" (``export``), and the pages
(``routes``, templates beside them)."""

from idgw.account.access import account_access
from idgw.account.routes import router

__all__ = ["account_access", "router"]
