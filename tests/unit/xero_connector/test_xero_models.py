"""Parsing Xero's JSON into records; codes stay plain strings."""

from datetime import UTC, datetime
from decimal import Decimal

from xero_connector.xero_models import (
    RateLimits,
    TokenGrant,
    parse_accounts,
    parse_connections,
    parse_currencies,
    parse_organisation,
    parse_tax_rates,
    parse_xero_utc,
)


def test_xero_timestamps_with_seven_fraction_digits() -> None:
    assert parse_xero_utc("2019-12-07T18:46:19.5165400") == datetime(
        2019, 12, 7, 18, 46, 19, 516540, tzinfo=UTC
    )
    assert parse_xero_utc("2019-12-07T18:46:19") == datetime(2019, 12, 7, 18, 46, 19, tzinfo=UTC)
    assert parse_xero_utc("yesterday") is None
    assert parse_xero_utc(None) is None


def test_connections() -> None:
    (conn,) = parse_connections(
        [
            {
                "id": "c1",
                "authEventId": "ev",
                "tenantId": "t1",
                "tenantType": "ORGANISATION",
                "tenantName": "Acme",
                "createdDateUtc": "2026-11-20T09:00:00.0000000",
                "updatedDateUtc": "2026-11-20T09:00:01.0000000",
            },
            {"id": "broken"},
        ]
    )
    assert (conn.id, conn.tenant_id, conn.tenant_name, conn.auth_event_id) == (
        "c1",
        "t1",
        "Acme",
        "ev",
    )


def test_settings_records_with_unknown_codes() -> None:
    org = parse_organisation(
        {"Organisations": [{"OrganisationID": "o", "Name": "A", "BaseCurrency": "NZD"}]}
    )
    assert (org.name, org.base_currency, org.country_code) == ("A", "NZD", "")
    assert [c.code for c in parse_currencies({"Currencies": [{"Code": "XBT"}]})] == ["XBT"]
    (rate,) = parse_tax_rates(
        {"TaxRates": [{"TaxType": "TAX042", "Status": "BRAND_NEW", "EffectiveRate": 7.5}]}
    )
    assert (rate.tax_type, rate.status, rate.effective_rate) == (
        "TAX042",
        "BRAND_NEW",
        Decimal("7.5"),
    )
    accounts = parse_accounts(
        {"Accounts": [{"Code": "200", "Class": "REVENUE", "Status": "ACTIVE"}, {"Name": "no code"}]}
    )
    assert [(a.code, a.klass) for a in accounts] == [("200", "REVENUE")]


def test_rate_limit_headers_in_any_case() -> None:
    limits = RateLimits.from_headers(
        {"x-daylimit-remaining": "10", "X-MinLimit-Remaining": "2", "X-AppMinLimit-Remaining": "?"}
    )
    assert limits == RateLimits(10, 2, None)


def test_a_token_grant_hides_its_tokens() -> None:
    grant = TokenGrant("secret-access", "secret-refresh", 1800, "offline_access")
    assert "secret" not in repr(grant) and "secret" not in str(grant)
