"""The citizen's own account: proof of control (``access``), what may be taken away (``rules``),
consents and receipts (``consents``), "download my data" (``export``), and the pages (templates
beside them): the account page and the plumbing its pages share (``routes``), sign-in methods
(``factors_routes``), sessions, services, receipts and privacy (``services_routes``), and video
identity checks (``proofing_routes``), mounted together by ``router``."""

from fastapi import APIRouter

from idgw.account import factors_routes, proofing_routes, routes, services_routes
from idgw.account.access import account_access

#: Every account page, in the order they were always matched.
router = APIRouter()
router.include_router(routes.router)
router.include_router(factors_routes.router)
router.include_router(services_routes.router)
router.include_router(proofing_routes.router)

__all__ = ["account_access", "router"]
