"""What the delegation pages show, built from the records: plain dictionaries for the templates,
in the reader's language (Thai or English). Reads only; the caller's transaction."""

from __future__ import annotations

from sqlalchemy import select

from idgw.delegation import catalogue, mandates
from idgw.delegation import model as m
from idgw.delegation.document import mask_id
from idgw.delegation.model import MandateError
from idgw.delegation.page_errors import mandate_error_text
from idgw.delegation.page_logic import day_of
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account, Client
from idgw.web.i18n import t
from providers.dbd import SigningRule


def person_name(account: Account | None, locale: str) -> str:
    if account is None:
        return "-"
    th = " ".join(p for p in (account.given_name_th, account.family_name_th) if p)
    en = " ".join(p for p in (account.given_name, account.family_name) if p)
    return (th or en if locale == "th" else en or th) or account.username


class Names:
    """Service and act names, each service read once per request."""

    def __init__(self, db) -> None:
        self.db = db
        self._services: dict[str, str] = {}
        self._acts: dict[str, dict[str, dict]] = {}

    def service(self, client_id: str) -> str:
        if client_id not in self._services:
            client = self.db.get(Client, client_id)
            self._services[client_id] = client.name if client else client_id
        return self._services[client_id]

    def acts(self, client_id: str) -> dict[str, dict]:
        if client_id not in self._acts:
            self._acts[client_id] = catalogue.act_names(self.db, client_id)
        return self._acts[client_id]

    @property
    def services(self) -> dict[str, str]:
        return self._services

    @property
    def all_acts(self) -> dict[str, dict[str, dict]]:
        return self._acts

    def scope(self, raw: list, locale: str) -> list[dict]:
        """[{"service", "acts": [names]}] of a stored scope."""
        out = []
        for item in m.scope_of(raw):
            names = self.acts(item.client_id)
            acts = [t("dgp_any_act", locale) if a == m.ANY_ACT else names.get(a, {}).get(locale, a)
                    for a in item.acts]
            out.append({"service": self.service(item.client_id), "acts": acts})
        return out


def principal_words(row: Mandate, locale: str) -> dict:
    content = m.json_of(row.document)["principal"]
    if content["kind"] == "company":
        ident = t("dgp_juristic_id", locale, id=content["juristic_id"])
    else:
        ident = t("dgp_citizen_id", locale, id=mask_id(content.get("citizen_id")))
    return {"name": content["name"].get(locale) or content["name"].get("en"), "id": ident, "kind": content["kind"]}


def row_view(names: Names, row: Mandate, *, locale: str, now: int) -> dict:
    """One line of a list."""
    status = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    principal = principal_words(row, locale)
    delegate = t("dgp_citizen_id", locale, id=mask_id(row.delegate_citizen_id))
    return {"id": row.id, "url": f"/delegations/{row.id}", "principal": principal, "delegate": delegate,
            "services": names.scope(row.scope, locale), "valid_from": row.valid_from, "valid_until": row.valid_until,
            "status": status, "status_words": t(f"dgp_status_{status}", locale),
            "awaiting_acceptance": status == m.AWAITING_ACCEPTANCE}


def _rule_names(company: dict, locale: str) -> dict[str, str]:
    return {d["citizen_id"]: d["name_th"] if locale == "th" else d["name_en"] for d in company.get("directors", ())}


def approvals_view(db, row: Mandate, *, locale: str) -> list[dict]:
    out = []
    for a in mandates.approvals_of(db, row.id):
        out.append({"name": person_name(db.get(Account, a.account_id), locale),
                    "role": t(f"dgp_role_{a.role}", locale), "at": a.at, "ial": a.ial, "aal": a.aal,
                    "sealed": a.sealed})
    return out


def missing_view(db, row: Mandate, *, status: str, locale: str) -> list[str]:
    """What the mandate still needs before it is effective, in words."""
    if status == m.AWAITING_ACCEPTANCE:
        return [t("dgp_missing_accept", locale)]
    if status not in (m.DRAFT, m.AWAITING_SIGNATURES):
        return []
    needed = mandates.signers_needed(db, row)
    if needed["kind"] == "company":
        rule: SigningRule = needed["rule"]
        lines = [t("dgp_rule", locale, rule=rule.text(names=_rule_names(row.company, locale), locale=locale))]
        if needed["missing"]:
            lines.append(t("dgp_missing_count", locale, n=needed["missing"]))
        if needed["seal_missing"]:
            lines.append(t("dgp_missing_seal", locale))
        return lines
    signer = db.get(Account, needed["account_id"]) if needed["account_id"] else None
    return [t("dgp_missing_person", locale, name=person_name(signer, locale))]


def document_view(names: Names, row: Mandate, *, locale: str) -> dict:
    """The signed content, every field of the minimum content (model.document_content) in words."""
    content = m.json_of(row.document)
    principal = principal_words(row, locale)
    rule = None
    if content["principal"]["kind"] == "company":
        signing = SigningRule.from_json(content["principal"]["signing_rule"])
        rule = signing.text(names=_rule_names(row.company or {}, locale), locale=locale)
    stamp = content.get("stamp_duty")
    amount = m.stamp_duty_amount(m.scope_of(content["scope"]))
    if stamp:
        stamp_words = t("dgp_stamp_paid", locale, amount=stamp["amount"], reference=stamp["reference"])
        if stamp.get("receipt"):
            stamp_words += ", " + t("dgp_stamp_receipt", locale, receipt=stamp["receipt"])
    else:
        stamp_words = t("dgp_stamp_none", locale, amount=amount)
    return {"principal": principal, "rule": rule,
            "delegate": t("dgp_citizen_id", locale, id=mask_id(content["delegate"]["citizen_id"])),
            "services": names.scope(content["scope"], locale), "valid_from": content["valid_from"],
            "valid_until": content["valid_until"],
            "single_use": t("dgp_single_use_yes" if content["single_use"] else "dgp_single_use_no", locale),
            "sub": t("dgp_sub_yes" if content["subdelegation_allowed"] else "dgp_sub_no", locale),
            "parent_url": f"/delegations/{content['parent']}" if content.get("parent") else None,
            "stamp": stamp_words, "model": t("dgp_model_value", locale, version=content["model"]),
            "created_at": content["created_at"], "sha256": row.document_sha256}


def related(db, row: Mandate, account: Account) -> str | None:
    """How ``account`` is related to ``row`` (the detail page is theirs to see), or None."""
    role = mandates.may_revoke(db, row=row, account=account)
    if role is not None:
        return role
    return "creator" if row.created_by == account.id else None


def actions(db, row: Mandate, *, account: Account, role: str, now: int) -> dict:
    """The buttons this person gets on the detail page."""
    status = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    may_sign = seal = False
    if status in (m.DRAFT, m.AWAITING_SIGNATURES) and account.citizen_id:
        needed = mandates.signers_needed(db, row)
        if account.citizen_id not in needed["approved"]:
            if needed["kind"] == "company":
                may_sign = account.citizen_id in needed["rule"].directors
                seal = needed["rule"].seal and needed["seal_missing"]
            else:
                may_sign = needed["account_id"] == account.id
    delegate = bool(account.citizen_id) and account.citizen_id == row.delegate_citizen_id
    usable = m.usable(status=row.status, valid_from=row.valid_from, valid_until=row.valid_until, now=now) is None
    ending = role in ("principal", "director", "delegator") and status not in m.FINAL_STATES
    return {"sign": may_sign, "seal": seal,
            "accept": delegate and status == m.AWAITING_ACCEPTANCE,
            "decline": delegate and status in (m.DRAFT, m.AWAITING_SIGNATURES, m.AWAITING_ACCEPTANCE),
            "revoke": ending, "renounce": delegate and status == m.EFFECTIVE,
            "subdelegate": usable and row.subdelegation_allowed and row.delegate_account_id == account.id}


def open_descendants(db, row: Mandate) -> int:
    """How many sub-delegations under ``row`` (at any depth) have not ended."""
    count, todo = 0, [row.id]
    while todo:
        children = list(db.scalars(select(Mandate).where(Mandate.parent_id.in_(todo))))
        count += sum(1 for c in children if c.status not in m.FINAL_STATES)
        todo = [c.id for c in children]
    return count


def form_services(db, *, locale: str, parent: Mandate | None = None) -> list[dict]:
    """The services the create form offers, each with its acts (and "any act" where its rule
    allows it); for a sub-delegation only the parent's services and acts."""
    allowed = {i.client_id: i.acts for i in m.scope_of(parent.scope)} if parent is not None else None
    out = []
    for client in catalogue.delegable_services(db):
        if allowed is not None and client.client_id not in allowed:
            continue
        rules = catalogue.rules_for(db, client.client_id)
        parent_acts = allowed.get(client.client_id) if allowed is not None else None
        acts = [{"code": a.code, "name": a.name_th if locale == "th" else a.name_en}
                for a in catalogue.acts_of(db, client.client_id)
                if parent_acts is None or m.ANY_ACT in parent_acts or a.code in parent_acts]
        if rules.any_act_allowed and (parent_acts is None or m.ANY_ACT in parent_acts):
            acts.append({"code": m.ANY_ACT, "name": t("dgp_any_act", locale)})
        out.append({"client_id": client.client_id, "name": client.name, "acts": acts,
                    "stamp_required": rules.stamp_duty_required})
    return out


def error_words(names: Names, err: MandateError, *, locale: str, scope: list | tuple = ()) -> str:
    """``err`` in words, naming the services and acts it is about (those of ``scope``, stored or
    as asked: ``[(client_id, [codes])]``, and the one it names)."""
    for item in list(scope)[:m.MAX_SERVICES + 1]:
        names.acts(item["client_id"] if isinstance(item, dict) else item[0])
    if err.params.get("client_id"):
        names.service(err.params["client_id"])
        names.acts(err.params["client_id"])
    for client_id in list(names.all_acts):
        names.service(client_id)
    return mandate_error_text(err, locale, service_names=names.services, act_names=names.all_acts)


def date_value(epoch: int | None) -> str:
    """An instant as a date input's value (its day in Thailand)."""
    return day_of(epoch).isoformat() if epoch is not None else ""
