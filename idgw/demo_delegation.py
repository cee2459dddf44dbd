"""The demo's delegation of authority (``make run``): the demo e-service accepts delegation and has
two acts in its catalogue, and two drafts wait to be tried with the simulators' citizens:

* สมชาย ใจดี (1345951597671) -> สมหญิง รักไทย (1101700123456): file VAT returns and claim refunds at
  the demo service for 90 days. Somchai signs (ThaiD raises his sign-in to IAL 2.3), Somying accepts,
  then signs in at the demo service "on behalf of" Somchai.
* บริษัท ตัวอย่างการค้า จำกัด (0105564001230; directors Somchai and Somying jointly, from the DBD-style
  simulator) -> ประเสริฐ มั่นคง (5701200987653): file VAT returns for 90 days; both directors sign,
  Prasert accepts and acts for the company.

Nothing is signed or accepted here: every approval in the demo is a real one, made on the pages."""

from __future__ import annotations

import time

from sqlalchemy import select

DEMO_ACTS = (("vat_filing", "ยื่นแบบภาษีมูลค่าเพิ่ม (ภ.พ.30)", "File a VAT return (P.P.30)"),
             ("tax_refund", "ขอคืนภาษี", "Claim a tax refund"))
DEMO_IMPACTS_LOW = {"reputation": "low", "financial": "low"}


def ensure_demo_delegation(settings, sessionmaker, *, client_id: str, registry=None) -> None:
    from idgw.assurance import PolicyInput, current_policy, current_row, set_policy
    from idgw.delegation import catalogue, mandates
    from idgw.login.password import find_account
    from idgw.storage.delegation import Mandate
    from idgw.storage.models import Account
    from policies import default_matrix

    now = int(time.time())
    with sessionmaker() as db:
        policy = current_policy(db, client_id)
        if policy is not None and not policy.delegation_allowed:
            impacts = {c.id: "none" for c in default_matrix().categories} | DEMO_IMPACTS_LOW
            data = PolicyInput(needs_verified_identity=True, proofing_impacts=impacts, delegation_allowed=True)
            set_policy(db, client_id=client_id, actor="demo", now=now, data=data)
        db.flush()
        if current_row(db, client_id) is None:
            return
        if not catalogue.acts_of(db, client_id):
            for code, th, en in DEMO_ACTS:
                catalogue.add_act(db, client_id=client_id, code=code, name_th=th, name_en=en, actor="demo", now=now)
            catalogue.set_rules(db, client_id=client_id, sign_ial="2.1", sign_aal="2.1", any_act_allowed=False,
                                stamp_duty_required=False, max_depth=1, actor="demo", now=now)
        somchai = find_account(db, "somchai") or db.scalar(select(Account).where(Account.citizen_id == "1345951597671"))
        if somchai is not None and db.scalar(select(Mandate.id).limit(1)) is None:
            window = dict(single_use=False, valid_from=now, valid_until=now + 90 * 86400, subdelegation_allowed=False,
                          now=now)
            mandates.create(db, creator=somchai, principal_kind="person", delegate_citizen_id="1101700123456",
                            scope=[(client_id, ["tax_refund", "vat_filing"])], **window)
            if registry is not None:
                from providers.dbd import CompanyLookupError
                from providers.simulators.dbd import DEMO_COMPANY_ID

                try:
                    company = registry.lookup(DEMO_COMPANY_ID)
                except CompanyLookupError:
                    company = None
                if company is not None:
                    mandates.create(db, creator=somchai, principal_kind="company", company=company,
                                    delegate_citizen_id="5701200987653", scope=[(client_id, ["vat_filing"])], **window)
        db.commit()
