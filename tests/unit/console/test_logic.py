"""The pure parts: what a change may fix, the mapping rows and banner, forms, mapped lines."""

from datetime import UTC, datetime

import pytest

from console.clients.connector import Choices, Currency, Mappings, Seen, SeenValue
from console.clients.invoices import Line, Snapshot
from console.forms import mappings_from_form
from console.lines import mapped
from console.mapping_view import banner, sections
from console.remediation import (
    FIXES,
    codes_fixed_by_mappings,
    codes_fixed_by_settings,
    fix_url,
)

T = datetime(2026, 11, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "codes"),
    [
        ({}, {}, []),
        (
            {"tax_rates": {}},
            {"tax_rates": {"GST15": "OUTPUT2"}},
            ["tax_rate_unmapped", "tax_rate_invalid"],
        ),
        (
            {"accounts": {"a": "200"}},
            {"accounts": {"a": "210"}},
            ["account_unmapped", "account_invalid"],
        ),
        ({"currencies": {}}, {"currencies": {"EUR": "EUR"}}, ["currency_not_enabled"]),
    ],
)
def test_codes_a_mapping_change_may_fix(
    before: dict[str, dict[str, str]], after: dict[str, dict[str, str]], codes: list[str]
) -> None:
    assert codes_fixed_by_mappings(before, after) == codes


@pytest.mark.parametrize(
    ("args", "codes"),
    [
        ((False, True, None, None), ["contact_missing"]),
        ((True, True, None, None), []),
        ((True, False, None, None), []),
        ((False, False, None, "200"), ["account_unmapped"]),
        ((False, False, "200", "200"), []),
    ],
)
def test_codes_a_settings_change_may_fix(
    args: tuple[bool, bool, str | None, str | None], codes: list[str]
) -> None:
    assert codes_fixed_by_settings(*args) == codes


def test_every_error_code_has_a_fix_on_a_screen() -> None:
    assert fix_url("org_a", "connection_expired") == "/orgs/org_a"
    assert fix_url("org_a", "tax_rate_unmapped") == "/orgs/org_a/mappings"
    assert fix_url("org_a", "contact_missing") == "/orgs/org_a/settings"
    assert fix_url("org_a", "xero_validation").endswith("status=failed&error_code=xero_validation")
    assert len(FIXES) == 13


def test_unmapped_values_come_first_and_the_banner_counts_them() -> None:
    seen = Seen(
        tax_codes=[
            SeenValue(value="GST15", mapped=True, last_seen=T),
            SeenValue(value="ZERO", mapped=False, last_seen=T),
            SeenValue(value="EXEMPT", mapped=False, last_seen=T),
            SeenValue(value="IMPORT", mapped=False, last_seen=T),
        ],
        currencies=[
            SeenValue(value="NZD", mapped=False, last_seen=T),
            SeenValue(value="EUR", mapped=False, last_seen=T),
        ],
    )
    choices = Choices(
        accounts=[], tax_rates=[], currencies=[Currency(code="NZD", description="NZ dollar")]
    )
    parts = sections(seen, choices, Mappings(tax_rates={"GST15": "OUTPUT2"}))
    tax = parts[1]
    assert [r.value for r in tax.rows] == ["EXEMPT", "IMPORT", "ZERO", "GST15"]
    # NZD is enabled in Xero, so it is sent as is; EUR is neither enabled nor mapped.
    assert banner(parts) == ["3 tax codes have no mapping", "1 currency has no mapping"]


def test_the_mapping_form_changes_only_what_it_shows() -> None:
    current = Mappings(accounts={"consulting": "200"}, tax_rates={"GST15": "OUTPUT2", "OLD": "X"})
    form = {"tax_rates:ZERO": "ZERORATED", "tax_rates:OLD": "", "csrf_token": "t", "bogus:x": "y"}
    assert mappings_from_form(form, current) == Mappings(
        accounts={"consulting": "200"}, tax_rates={"GST15": "OUTPUT2", "ZERO": "ZERORATED"}
    )


def test_lines_show_the_codes_the_mapping_gives_them() -> None:
    snapshot = Snapshot(
        org_id="o",
        invoice_id="i",
        currency="EUR",
        lines=[
            Line(description="a", tax_code="GST15", revenue_category="consulting"),
            Line(description="b", tax_code="ZERO", revenue_category="other"),
        ],
    )
    sent = mapped(
        snapshot,
        Mappings(accounts={"consulting": "200"}, tax_rates={"GST15": "OUTPUT2"}, currencies={}),
        default_account="260",
    )
    assert [(line.account_code, line.tax_type) for line in sent.lines] == [
        ("200", "OUTPUT2"),
        ("260", None),
    ]
    assert sent.xero_currency == "EUR"
