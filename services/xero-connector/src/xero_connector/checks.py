"""The mapping check: which mapped codes the live Xero organisation would refuse. Pure.

Each problem names the code at fault, the invoice error it would cause, and what to do.
"""

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sync_schemas import ErrorCode
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.xero_models import Account, Currency, TaxRate

ACTIVE = "ACTIVE"
REVENUE = "REVENUE"


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str  # tax_type_unknown | tax_type_inactive | tax_type_not_for_revenue | account_* | ...
    error_code: ErrorCode  # what an invoice that uses this mapping would fail with
    field: str  # where in settings or mappings: "tax_rates.GST15", "default_account_code"
    code: str  # the Xero code at fault
    message: str
    action: str

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_code": self.error_code.value}


def check_tax_rates(mappings: Mappings, tax_rates: Sequence[TaxRate]) -> list[Problem]:
    known = {rate.tax_type: rate for rate in tax_rates}
    problems = []
    for tax_code, tax_type in sorted(mappings.tax_rates.items()):
        field = f"tax_rates.{tax_code}"
        rate = known.get(tax_type)
        where = f"tax code {tax_code!r} is mapped to TaxType {tax_type!r}"
        action = (
            f"Map tax code {tax_code!r} to an active sales TaxType of the organisation "
            "(PUT /v1/orgs/{org_id}/mappings)"
        )
        if rate is None:
            kind, why = "tax_type_unknown", "which does not exist in the Xero organisation"
        elif rate.status != ACTIVE:
            kind, why = "tax_type_inactive", f"which is {rate.status} in Xero, not ACTIVE"
        elif not rate.can_apply_to_revenue:
            kind, why = "tax_type_not_for_revenue", "which Xero does not allow on sales"
        else:
            continue
        problems.append(
            Problem(kind, ErrorCode.TAX_RATE_INVALID, field, tax_type, f"{where}, {why}", action)
        )
    return problems


def _account_problem(
    field: str, subject: str, code: str, accounts: dict[str, Account]
) -> Problem | None:
    account = accounts.get(code)
    where = f"{subject} is mapped to account code {code!r}"
    if account is None:
        kind, why = "account_unknown", "which does not exist in the Xero organisation"
    elif account.status != ACTIVE:
        kind, why = "account_inactive", f"which is {account.status} in Xero, not ACTIVE"
    elif account.klass != REVENUE:
        kind, why = "account_not_revenue", f"a {account.klass or account.type} account"
        why = f"which is {why}, not a revenue account"
    else:
        return None
    action = (
        f"Choose an active revenue account (Class REVENUE) for {subject} "
        "(PUT /v1/orgs/{org_id}/mappings or /settings)"
    )
    return Problem(kind, ErrorCode.ACCOUNT_INVALID, field, code, f"{where}, {why}", action)


def check_accounts(
    mappings: Mappings, settings: OrgSettings, accounts: Sequence[Account]
) -> list[Problem]:
    by_code = {account.code: account for account in accounts}
    wanted = [
        (f"accounts.{category}", f"revenue category {category!r}", code)
        for category, code in sorted(mappings.accounts.items())
    ]
    if settings.default_account_code:
        code = settings.default_account_code
        wanted.append(("default_account_code", "the default account", code))
    found = (_account_problem(field, subject, code, by_code) for field, subject, code in wanted)
    return [problem for problem in found if problem is not None]


def check_currencies(
    mappings: Mappings, enabled: Sequence[Currency], seen: Iterable[str]
) -> list[Problem]:
    codes = {currency.code for currency in enabled}
    problems = []
    for invoice_currency in sorted(set(seen)):
        xero_code = mappings.xero_currency(invoice_currency)
        if xero_code in codes:
            continue
        mapped = f" (mapped to {xero_code})" if xero_code != invoice_currency else ""
        problems.append(
            Problem(
                "currency_not_enabled",
                ErrorCode.CURRENCY_NOT_ENABLED,
                f"currencies.{invoice_currency}",
                xero_code,
                f"recent invoices are in {invoice_currency}{mapped}, which the Xero "
                "organisation has not enabled",
                f"Enable {xero_code} in Xero (Settings > Currencies), or map "
                f"{invoice_currency} to an enabled currency (PUT /v1/orgs/{{org_id}}/mappings)",
            )
        )
    return problems


def check_mappings(
    settings: OrgSettings,
    mappings: Mappings,
    *,
    tax_rates: Sequence[TaxRate],
    accounts: Sequence[Account],
    currencies: Sequence[Currency],
    seen_currencies: Iterable[str],
    org_id: str,
) -> list[Problem]:
    problems = [
        *check_tax_rates(mappings, tax_rates),
        *check_accounts(mappings, settings, accounts),
        *check_currencies(mappings, currencies, seen_currencies),
    ]
    return [
        Problem(
            p.kind, p.error_code, p.field, p.code, p.message, p.action.replace("{org_id}", org_id)
        )
        for p in problems
    ]
