"""The mapping check's classification, as a table of cases."""

from decimal import Decimal

import pytest

from sync_schemas import ErrorCode
from xero_connector.checks import check_mappings
from xero_connector.domain import Mappings, OrgSettings
from xero_connector.xero_models import Account, Currency, TaxRate

TAX_RATES = [
    TaxRate("OUTPUT2", "GST on Income", "ACTIVE", True, Decimal(15)),
    TaxRate("OUTPUT", "GST 12.5%", "ARCHIVED", True, Decimal("12.5")),
    TaxRate("INPUT2", "GST on Expenses", "ACTIVE", False, Decimal(15)),
    TaxRate("PENDINGTAX", "New", "PENDING", True, None),
]
ACCOUNTS = [
    Account("1", "200", "Sales", "REVENUE", "REVENUE", "ACTIVE", "OUTPUT2"),
    Account("2", "260", "Other Revenue", "OTHERINCOME", "REVENUE", "ACTIVE", "OUTPUT2"),
    Account("3", "210", "Old Sales", "REVENUE", "REVENUE", "ARCHIVED", None),
    Account("4", "400", "Advertising", "EXPENSE", "EXPENSE", "ACTIVE", "INPUT2"),
]
CURRENCIES = [Currency("NZD", "New Zealand Dollar"), Currency("AUD", "Australian Dollar")]


def run(
    mappings: Mappings, settings: OrgSettings | None = None, seen: tuple[str, ...] = ()
) -> list[tuple[str, str, str, ErrorCode]]:
    problems = check_mappings(
        settings or OrgSettings(),
        mappings,
        tax_rates=TAX_RATES,
        accounts=ACCOUNTS,
        currencies=CURRENCIES,
        seen_currencies=seen,
        org_id="org_x",
    )
    for p in problems:
        assert p.code in p.message and "{org_id}" not in p.action
    return [(p.kind, p.field, p.code, p.error_code) for p in problems]


@pytest.mark.parametrize(
    ("tax_type", "expected"),
    [
        ("OUTPUT2", []),
        ("XYZ", [("tax_type_unknown", "tax_rates.T", "XYZ", ErrorCode.TAX_RATE_INVALID)]),
        ("OUTPUT", [("tax_type_inactive", "tax_rates.T", "OUTPUT", ErrorCode.TAX_RATE_INVALID)]),
        (
            "PENDINGTAX",
            [("tax_type_inactive", "tax_rates.T", "PENDINGTAX", ErrorCode.TAX_RATE_INVALID)],
        ),
        (
            "INPUT2",
            [("tax_type_not_for_revenue", "tax_rates.T", "INPUT2", ErrorCode.TAX_RATE_INVALID)],
        ),
        ("output2", [("tax_type_unknown", "tax_rates.T", "output2", ErrorCode.TAX_RATE_INVALID)]),
    ],
)
def test_tax_types(tax_type: str, expected: list[tuple[str, str, str, ErrorCode]]) -> None:
    assert run(Mappings(tax_rates={"T": tax_type})) == expected


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("200", None),
        ("260", None),  # OTHERINCOME is revenue-class too
        ("999", "account_unknown"),
        ("210", "account_inactive"),
        ("400", "account_not_revenue"),
    ],
)
def test_account_codes(code: str, kind: str | None) -> None:
    expected = [] if kind is None else [(kind, "accounts.c", code, ErrorCode.ACCOUNT_INVALID)]
    assert run(Mappings(accounts={"c": code})) == expected


def test_the_default_account_is_checked_too() -> None:
    settings = OrgSettings(default_account_code="400")
    assert run(Mappings(), settings) == [
        ("account_not_revenue", "default_account_code", "400", ErrorCode.ACCOUNT_INVALID)
    ]


def test_currencies_seen_are_checked_through_the_mapping() -> None:
    mappings = Mappings(currencies={"USD": "AUD", "CHF": "JPY"})
    assert run(mappings, seen=("NZD", "USD", "EUR", "CHF", "EUR")) == [
        ("currency_not_enabled", "currencies.CHF", "JPY", ErrorCode.CURRENCY_NOT_ENABLED),
        ("currency_not_enabled", "currencies.EUR", "EUR", ErrorCode.CURRENCY_NOT_ENABLED),
    ]


def test_a_clean_mapping_has_no_problem_and_actions_name_the_org() -> None:
    assert run(Mappings(accounts={"a": "200"}, tax_rates={"t": "OUTPUT2"}), seen=("NZD",)) == []
    (problem,) = check_mappings(
        OrgSettings(),
        Mappings(tax_rates={"t": "NOPE"}),
        tax_rates=TAX_RATES,
        accounts=ACCOUNTS,
        currencies=CURRENCIES,
        seen_currencies=(),
        org_id="org_x",
    )
    assert "/v1/orgs/org_x/mappings" in problem.action
    assert problem.as_dict()["error_code"] == "tax_rate_invalid"
