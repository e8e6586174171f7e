"""The error-code catalogue matches the contract (docs/contract.md, "Error codes")."""

from sync_schemas import ErrorCode
from sync_schemas.errors import CATALOGUE

CONTRACT_CODES = {
    "not_connected",
    "connection_expired",
    "contact_missing",
    "currency_not_enabled",
    "tax_rate_unmapped",
    "tax_rate_invalid",
    "account_unmapped",
    "account_invalid",
    "xero_validation",
    "rate_limited",
    "xero_unavailable",
    "invalid_event",
    "invoice_number_taken",
    # An addition of ours beside the original contract's: a valid event whose handling hit a bug.
    "internal_error",
}


def test_codes_are_exactly_the_contracts() -> None:
    assert {c.value for c in ErrorCode} == CONTRACT_CODES
    assert set(CATALOGUE) == set(ErrorCode)


def test_only_rate_limit_and_unavailability_are_retryable() -> None:
    assert {c for c in ErrorCode if c.retryable} == {
        ErrorCode.RATE_LIMITED,
        ErrorCode.XERO_UNAVAILABLE,
    }


def test_connection_expired_remediation_is_the_contracts_wording() -> None:
    assert (
        ErrorCode.CONNECTION_EXPIRED.remediation("org_acme")
        == "Reconnect the organisation: POST /v1/orgs/org_acme/connection"
    )


def test_every_remediation_is_one_line_with_the_org_filled_in() -> None:
    for code in ErrorCode:
        text = code.remediation("org_zz")
        assert "\n" not in text and "{" not in text, code
        assert text and code.meaning, code


def test_invoice_number_taken_gives_both_ways_out() -> None:
    text = ErrorCode.INVOICE_NUMBER_TAKEN.remediation("org_a", "inv_1")
    assert "Renumber" in text
    assert "POST /v1/orgs/org_a/invoices/inv_1/link with its xero_invoice_id" in text
