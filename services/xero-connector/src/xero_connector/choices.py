"""What an operator may choose from when mapping an organisation, read from its live Xero
organisation: the codes the mapping check (``checks.py``) would accept. Pure.

    choices = revenue_choices(await org_data.get(scope), await org_data.organisation(scope))
    [a.code for a in choices.accounts]      # ["200", "260"]: ACTIVE, Class REVENUE, with a Code
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from xero_connector.checks import ACTIVE, REVENUE
from xero_connector.org_data import OrgData
from xero_connector.xero_models import Account, Currency, Organisation, TaxRate


@dataclass(frozen=True, slots=True)
class Choices:
    accounts: list[Account]
    tax_rates: list[TaxRate]
    currencies: list[Currency]
    base_currency: str | None
    fetched_at: datetime


def revenue_choices(data: OrgData, organisation: Organisation | None) -> Choices:
    """Accounts that are ACTIVE, of Class REVENUE and have a Code (by code); TaxRates that are
    ACTIVE and CanApplyToRevenue (by name); the enabled currencies plus the base currency
    (by code). The same rules the check applies, so a choice never fails the check."""
    accounts = sorted(
        (a for a in data.accounts if a.code and a.status == ACTIVE and a.klass == REVENUE),
        key=lambda a: a.code,
    )
    tax_rates = sorted(
        (r for r in data.tax_rates if r.status == ACTIVE and r.can_apply_to_revenue),
        key=lambda r: (r.name.casefold(), r.tax_type),
    )
    base = organisation.base_currency if organisation and organisation.base_currency else None
    currencies = {c.code: c for c in data.currencies}
    if base is not None and base not in currencies:
        currencies[base] = Currency(base, base)  # Xero lists it among the enabled ones anyway
    return Choices(
        accounts=accounts,
        tax_rates=tax_rates,
        currencies=[currencies[code] for code in sorted(currencies)],
        base_currency=base,
        fetched_at=data.fetched_at,
    )


def decimal_text(value: Decimal | None) -> str:
    """A rate as a plain decimal string (never exponent notation); a rate Xero left out is
    "0" (a TaxRate always carries one in Xero's answers)."""
    return format(value, "f") if value is not None else "0"
