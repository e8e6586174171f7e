"""Building an organisation from the control API's description, with plausible NZ defaults."""

from __future__ import annotations

import random
import string
import uuid
from decimal import Decimal
from typing import Any

from .model import Account, Org, TaxRate

CURRENCY_NAMES = {
    "NZD": "New Zealand Dollar",
    "AUD": "Australian Dollar",
    "USD": "United States Dollar",
    "EUR": "Euro",
    "GBP": "Pound Sterling",
    "CAD": "Canadian Dollar",
    "JPY": "Japanese Yen",
    "SGD": "Singapore Dollar",
    "ZAR": "South African Rand",
}

COUNTRY_BY_CURRENCY = {"NZD": "NZ", "AUD": "AU", "USD": "US", "GBP": "GB", "EUR": "IE"}

# (TaxType, Name, EffectiveRate, Status, revenue?, expenses?, ReportTaxType)
NZ_TAX_RATES: list[tuple[str, str, str, str, bool, bool, str]] = [
    ("OUTPUT2", "GST on Income", "15", "ACTIVE", True, False, "OUTPUT"),
    ("INPUT2", "GST on Expenses", "15", "ACTIVE", False, True, "INPUT"),
    ("NONE", "No GST", "0", "ACTIVE", True, True, "NONE"),
    ("EXEMPTOUTPUT", "Exempt Income", "0", "ACTIVE", True, False, "EXEMPTOUTPUT"),
    ("ZERORATEDOUTPUT", "Zero Rated", "0", "ACTIVE", True, False, "ZERORATEDOUTPUT"),
    ("GSTONIMPORTS", "GST on Imports", "0", "ACTIVE", False, True, "GSTONIMPORTS"),
    # The pre-2010 12.5% rates, kept archived as in long-lived NZ organisations.
    ("OUTPUT", "GST on Income (12.5%)", "12.5", "ARCHIVED", True, False, "OUTPUT"),
    ("INPUT", "GST on Expenses (12.5%)", "12.5", "ARCHIVED", False, True, "INPUT"),
]

# (Code, Name, Type, TaxType, SystemAccount)
NZ_ACCOUNTS: list[tuple[str, str, str, str | None, str | None]] = [
    ("090", "Business Bank Account", "BANK", "NONE", None),
    ("200", "Sales", "REVENUE", "OUTPUT2", None),
    ("260", "Other Revenue", "REVENUE", "OUTPUT2", None),
    ("270", "Interest Income", "REVENUE", "NONE", None),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "INPUT2", None),
    ("400", "Advertising", "EXPENSE", "INPUT2", None),
    ("404", "Bank Fees", "EXPENSE", "NONE", None),
    ("610", "Accounts Receivable", "CURRENT", "NONE", "DEBTORS"),
    ("800", "Accounts Payable", "CURRLIAB", "NONE", "CREDITORS"),
    ("820", "GST", "CURRLIAB", "NONE", "GST"),
    ("960", "Retained Earnings", "EQUITY", "NONE", "RETAINEDEARNINGS"),
]


def default_tax_rates() -> list[TaxRate]:
    return [
        TaxRate(tax_type, name, Decimal(rate), status, revenue, expenses, report)
        for tax_type, name, rate, status, revenue, expenses, report in NZ_TAX_RATES
    ]


def default_accounts(base_currency: str) -> list[Account]:
    accounts = []
    for code, name, kind, tax_type, system in NZ_ACCOUNTS:
        bank = kind == "BANK"
        accounts.append(
            Account(
                account_id=str(uuid.uuid4()),
                code=code,
                name=name,
                type=kind,
                tax_type=tax_type,
                system_account=system,
                bank_account_number="0102030405060700" if bank else None,
                currency_code=base_currency if bank else None,
            )
        )
    return accounts


def tax_rate_from(spec: dict[str, Any]) -> TaxRate:
    return TaxRate(
        tax_type=str(spec["TaxType"]),
        name=str(spec.get("Name") or spec["TaxType"]),
        effective_rate=Decimal(str(spec.get("EffectiveRate", 0))),
        status=str(spec.get("Status") or "ACTIVE"),
        can_apply_to_revenue=bool(spec.get("CanApplyToRevenue", True)),
        can_apply_to_expenses=bool(spec.get("CanApplyToExpenses", True)),
        report_tax_type=spec.get("ReportTaxType"),
    )


def account_from(spec: dict[str, Any]) -> Account:
    return Account(
        account_id=str(uuid.uuid4()),
        code=str(spec["Code"]),
        name=str(spec.get("Name") or spec["Code"]),
        type=str(spec.get("Type") or "REVENUE"),
        status=str(spec.get("Status") or "ACTIVE"),
        tax_type=spec.get("TaxType"),
    )


def build_org(
    *,
    tenant_id: str,
    name: str,
    base_currency: str,
    currencies: list[str] | None,
    tax_rates: list[TaxRate] | None,
    accounts: list[Account] | None,
    now: float,
) -> Org:
    codes = list(dict.fromkeys([base_currency, *(currencies or [])]))
    short = "!" + "".join(random.choices(string.ascii_letters + string.digits, k=5))  # noqa: S311
    org = Org(
        tenant_id=tenant_id,
        name=name,
        base_currency=base_currency,
        country_code=COUNTRY_BY_CURRENCY.get(base_currency, "NZ"),
        created_at=now,
        short_code=short,
    )
    org.currencies = {code: CURRENCY_NAMES.get(code, code) for code in codes}
    rates = tax_rates if tax_rates is not None else default_tax_rates()
    org.tax_rates = {rate.tax_type: rate for rate in rates}
    chart = accounts if accounts is not None else default_accounts(base_currency)
    org.accounts = {account.code: account for account in chart}
    return org
