"""The stable error codes a failed sync carries, with their operator guidance.

Every ``invoice.sync_failed.v1`` carries exactly one code. ``retryable`` says whether the
system retries on its own; ``remediation`` is the one-line instruction an operator follows.
"""

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    NOT_CONNECTED = "not_connected"
    CONNECTION_EXPIRED = "connection_expired"
    CONTACT_MISSING = "contact_missing"
    CURRENCY_NOT_ENABLED = "currency_not_enabled"
    TAX_RATE_UNMAPPED = "tax_rate_unmapped"
    TAX_RATE_INVALID = "tax_rate_invalid"
    ACCOUNT_UNMAPPED = "account_unmapped"
    ACCOUNT_INVALID = "account_invalid"
    XERO_VALIDATION = "xero_validation"
    RATE_LIMITED = "rate_limited"
    XERO_UNAVAILABLE = "xero_unavailable"
    INVALID_EVENT = "invalid_event"
    INVOICE_NUMBER_TAKEN = "invoice_number_taken"
    INTERNAL_ERROR = "internal_error"

    @property
    def retryable(self) -> bool:
        return CATALOGUE[self].retryable

    @property
    def meaning(self) -> str:
        return CATALOGUE[self].meaning

    def remediation(self, org_id: str, invoice_id: str = "<invoice_id>") -> str:
        """The operator's next step, with the organisation (and invoice) filled in."""
        return CATALOGUE[self].remediation.format(org_id=org_id, invoice_id=invoice_id)


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    meaning: str
    retryable: bool
    remediation: str  # may use {org_id} and {invoice_id}


_RESYNC = "then re-sync: POST /v1/resync with filter error_code={code}"

CATALOGUE: dict[ErrorCode, ErrorInfo] = {
    ErrorCode.NOT_CONNECTED: ErrorInfo(
        "The organisation has no Xero connection.",
        False,
        "Connect the organisation to Xero: POST /v1/orgs/{org_id}/connection "
        "(waiting invoices re-sync automatically)",
    ),
    ErrorCode.CONNECTION_EXPIRED: ErrorInfo(
        "Xero refused the refresh token; the connection has expired.",
        False,
        "Reconnect the organisation: POST /v1/orgs/{org_id}/connection",
    ),
    ErrorCode.CONTACT_MISSING: ErrorInfo(
        "The customer is not a Xero contact and auto-create is off.",
        False,
        "Create the contact in Xero or turn on auto_create_contacts "
        "(PUT /v1/orgs/{org_id}/settings), " + _RESYNC.format(code="contact_missing"),
    ),
    ErrorCode.CURRENCY_NOT_ENABLED: ErrorInfo(
        "The invoice currency is not enabled in the Xero organisation.",
        False,
        "Enable the currency in Xero (Settings > Currencies) or map it "
        "(PUT /v1/orgs/{org_id}/mappings), " + _RESYNC.format(code="currency_not_enabled"),
    ),
    ErrorCode.TAX_RATE_UNMAPPED: ErrorInfo(
        "The invoice's tax code has no mapping to a Xero TaxType.",
        False,
        "Map the tax code to a Xero TaxType: PUT /v1/orgs/{org_id}/mappings, "
        + _RESYNC.format(code="tax_rate_unmapped"),
    ),
    ErrorCode.TAX_RATE_INVALID: ErrorInfo(
        "The mapped Xero TaxType does not exist or is not active in Xero.",
        False,
        "Fix the tax mapping (POST /v1/orgs/{org_id}/mappings/check lists the problems), "
        + _RESYNC.format(code="tax_rate_invalid"),
    ),
    ErrorCode.ACCOUNT_UNMAPPED: ErrorInfo(
        "The revenue category has no account mapping and there is no default account.",
        False,
        "Map the revenue category or set default_account_code: PUT /v1/orgs/{org_id}/mappings, "
        + _RESYNC.format(code="account_unmapped"),
    ),
    ErrorCode.ACCOUNT_INVALID: ErrorInfo(
        "The mapped account code is not a valid revenue account in Xero.",
        False,
        "Fix the account mapping (POST /v1/orgs/{org_id}/mappings/check lists the problems), "
        + _RESYNC.format(code="account_invalid"),
    ),
    ErrorCode.XERO_VALIDATION: ErrorInfo(
        "Xero refused the invoice; its messages are passed through.",
        False,
        "Correct the invoice as Xero's messages say, " + _RESYNC.format(code="xero_validation"),
    ),
    ErrorCode.RATE_LIMITED: ErrorInfo(
        "Xero's daily API limit for the organisation is spent.",
        True,
        "Nothing to do: the sync is retried after Xero's daily limit resets",
    ),
    ErrorCode.XERO_UNAVAILABLE: ErrorInfo(
        "Xero kept answering 5xx or timing out after all retries.",
        True,
        "Check Xero's status page; the sync is retried automatically, or "
        + _RESYNC.format(code="xero_unavailable"),
    ),
    ErrorCode.INVALID_EVENT: ErrorInfo(
        "The event failed schema validation and was sent to the DLQ.",
        False,
        "Fix the producer and publish the invoice again (the DLQ headers give the reason)",
    ),
    ErrorCode.INVOICE_NUMBER_TAKEN: ErrorInfo(
        "The invoice number is already used in Xero by an invoice this integration did not "
        "create; nothing was written.",
        False,
        "Renumber the invoice upstream and publish it again, or adopt the Xero invoice the "
        "message names: POST /v1/orgs/{org_id}/invoices/{invoice_id}/link with its "
        "xero_invoice_id (later versions then update it)",
    ),
    ErrorCode.INTERNAL_ERROR: ErrorInfo(
        "The connector hit a bug handling this invoice; nothing more was written.",
        False,
        "Re-sync the invoice (POST /v1/invoices/{org_id}/{invoice_id}/sync); if it fails again, "
        "report it with the event id (the event is in the DLQ as processing_error)",
    ),
}
